"""The feed's wake-up call: once a transaction with events commits, a word on Redis to every web process.

`events_announce` (once a transaction with events commits; `events_announce_on_commit` registers it)
hands the organization's id and the events' types to this process's announcer thread. The
thread PUBLISHes one message per organization on the channel `<prefix><organization pk>`, whose
payload is the JSON list of the types committed: what piles up meanwhile goes in one round trip
(at most one every PUBLISH_INTERVAL). The commit never waits for Redis.

Only a hint: it carries no event. A lost one (Redis down, a process killed before it published)
delays a waiting client to the end of its wait, whose next request reads the event. Without
REDIS_URL nothing is published and the feed polls (webhooks.feed.hub).
"""

import json
import logging
import os
import threading
import time
from collections.abc import Iterable
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

# The thread publishes at most this often (seconds): under a stream of commits, one round trip carries
# many. The first commit after a quiet moment is published at once.
PUBLISH_INTERVAL = 0.02


def channel_prefix(url: str) -> str:
    """`webhooks.feed.<db>.`: Redis channels ignore database numbers, so the name carries it, and two
    installations on one Redis (each on its own database, as the settings ask) hear only their own."""
    database = urlsplit(url).path.strip("/") or "0"
    return f"webhooks.feed.{database}."


class _Announcer:
    """One daemon thread per process that publishes what was handed to it."""

    def __init__(self) -> None:
        self.waiting: dict[int, set[str]] = {}
        self.ready = threading.Condition()
        self.thread: threading.Thread | None = None
        self.client: redis.Redis | None = None
        self.url = ""
        self.failing = False

    def submit(self, organization_id: int, types: Iterable[str]) -> None:
        with self.ready:
            self.waiting.setdefault(organization_id, set()).update(types)
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="webhooks-feed-announcer", daemon=True)
                self.thread.start()
            self.ready.notify()

    def _run(self) -> None:
        last = 0.0
        while True:
            with self.ready:
                while not self.waiting:
                    self.ready.wait()
            pause = last + PUBLISH_INTERVAL - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            last = time.monotonic()
            with self.ready:
                batch, self.waiting = self.waiting, {}
            self.publish(batch)

    def publish(self, batch: dict[int, set[str]]) -> None:
        url = settings.REDIS_URL
        if not url:
            return
        if self.client is None or url != self.url:
            self.client, self.url = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2), url
        prefix = channel_prefix(url)
        try:
            with self.client.pipeline(transaction=False) as pipe:
                for organization_id, types in batch.items():
                    pipe.publish(f"{prefix}{organization_id}", json.dumps(sorted(types)))
                pipe.execute()
        except redis.RedisError as exc:
            if not self.failing:  # once per outage, not once per commit
                logger.warning("webhooks.feed.announce_failed", extra={"error": type(exc).__name__})
            self.failing = True
            return
        self.failing = False


_announcer = _Announcer()


def events_announce_on_commit(*, organization_id: int, types: Iterable[str]) -> None:
    """Tell the web processes' waiting feed clients, once this transaction commits, that the
    organization has new events of these types. Nothing when it rolls back, nor without Redis."""
    if settings.REDIS_URL:
        names = list(types)
        transaction.on_commit(lambda: _announcer.submit(organization_id, names), robust=True)


def events_announce(*, organization_id: int, types: Iterable[str]) -> None:
    """Tell the waiting feed clients now (once a transaction with these events committed)."""
    if settings.REDIS_URL:
        _announcer.submit(organization_id, types)


def _announcer_reset() -> None:
    # A forked child has no announcer thread of its own yet, and must not share the parent's socket.
    global _announcer
    _announcer = _Announcer()


os.register_at_fork(after_in_child=_announcer_reset)
