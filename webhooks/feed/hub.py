"""Where waiting feed clients wait, in a web process: one Redis subscription wakes them all.

One `Hub` per event loop (under uvicorn, per web process). Its listener task holds the process's one
Redis connection, subscribed to every organization's channel (webhooks.feed.announcing), and wakes
the waiters of the organization a message names (those whose `types` it concerns). A waiter is an
asyncio.Event: no thread, no connection, no query while it waits.

- `live` is true while the subscription is confirmed. Otherwise (no REDIS_URL, Redis down, not yet
  subscribed) waiters poll every POLL_INTERVAL. Each change of `live` wakes every waiter, so that
  none sleeps through what it might have missed.
- A subscription that hears nothing, not even the answer to its own PING, for SILENCE seconds is
  taken for dead and made again.
- Reads are shared: waiters of one organization at one position, with the same types and limit,
  woken by the same message, make one query between them (`read`). A read is shared only with the
  waiters that were woken before it began, so none is answered a snapshot older than its wake.
- `sequence` counts wakes, and `woken_since` says whether an organization's waiters were woken
  after a given count: a request that read before it could wait (its first read, with the checks)
  knows whether an announcement came in meanwhile.
"""

import asyncio
import json
import logging
import weakref
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import redis.asyncio
from django.conf import settings
from redis.exceptions import RedisError

from webhooks.feed.announcing import channel_prefix
from webhooks.feed.selectors import Page, Position, feed_read
from webhooks.feed.threads import WAKES

logger = logging.getLogger(__name__)

POLL_INTERVAL = 1.0  # seconds between reads of a waiter that no subscription can wake
PING_EVERY = 10.0
SILENCE = 25.0
RECONNECT_FIRST, RECONNECT_MAX = 0.5, 30.0

_ReadKey = tuple[int, int, tuple[str, ...], int]


class Waiter:
    def __init__(self, types: Collection[str]) -> None:
        self.types = frozenset(types)
        self.woken = asyncio.Event()

    def concerned(self, types: Collection[str]) -> bool:
        return not self.types or not types or not self.types.isdisjoint(types)

    async def sleep(self, seconds: float) -> bool:
        """Until woken, or `seconds` pass: whether it was woken (a wake while it was reading counts)."""
        if seconds > 0 and not self.woken.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(self.woken.wait(), seconds)
        woken = self.woken.is_set()
        self.woken.clear()
        return woken


class Hub:
    def __init__(self, url: str) -> None:
        self.url = url
        self.live = False
        self.sequence = 0  # counts wakes: a read begun at the current count is as fresh as a new one
        # The count at each organization's last wake (one int per organization heard of), and at the
        # last wake of all.
        self.woken_at: dict[int, int] = {}
        self.all_woken_at = 0
        self.waiters: dict[int, set[Waiter]] = {}
        self.reads: dict[_ReadKey, tuple[int, asyncio.Task[Page]]] = {}
        self.listener = asyncio.get_running_loop().create_task(self._listen()) if url else None

    @contextmanager
    def waiting(self, organization_id: int, types: Collection[str]) -> Iterator[Waiter]:
        """A waiter for the organization's events, woken from now on (enter it before reading)."""
        waiter = Waiter(types)
        self.waiters.setdefault(organization_id, set()).add(waiter)
        try:
            yield waiter
        finally:
            group = self.waiters[organization_id]
            group.discard(waiter)
            if not group:
                del self.waiters[organization_id]

    def wake(self, organization_id: int | None, types: Collection[str] = ()) -> None:
        """Wake the organization's waiters concerned by `types` (every waiter when it is None)."""
        self.sequence += 1
        if organization_id is None:
            self.all_woken_at = self.sequence
        else:
            self.woken_at[organization_id] = self.sequence
        if organization_id is None:
            groups: Iterator[set[Waiter]] = iter(list(self.waiters.values()))
        else:
            groups = iter([self.waiters.get(organization_id, set())])
        for group in groups:
            for waiter in group:
                if organization_id is None or waiter.concerned(types):
                    waiter.woken.set()

    def woken_since(self, organization_id: int, sequence: int) -> bool:
        """Whether the organization's waiters (or all) were woken after the count `sequence`."""
        return max(self.woken_at.get(organization_id, 0), self.all_woken_at) > sequence

    async def read(
        self, *, organization_id: int, position: Position, types: Sequence[str], limit: int
    ) -> Page:
        key = (organization_id, position.pk, tuple(types), limit)
        shared = self.reads.get(key)
        if shared is None or shared[0] != self.sequence:
            task = asyncio.ensure_future(
                WAKES.run(
                    feed_read, organization_id=organization_id, position=position, types=types, limit=limit
                )
            )
            shared = (self.sequence, task)
            self.reads[key] = shared
            task.add_done_callback(lambda done: self._read_done(key, done))
        # Shielded: a client that hangs up does not cancel the read the others wait for.
        return await asyncio.shield(shared[1])

    def _read_done(self, key: _ReadKey, task: "asyncio.Task[Page]") -> None:
        if key in self.reads and self.reads[key][1] is task:
            del self.reads[key]
        if not task.cancelled():
            task.exception()  # retrieved: each waiter that still waits has it raised

    def _live_set(self, live: bool) -> None:
        if live != self.live:
            self.live = live
            self.wake(None)

    def _heard(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "psubscribe":
            self._live_set(True)
        elif kind == "pmessage":
            channel = message["channel"].decode()
            organization = channel.rpartition(".")[2]
            if organization.isdigit():
                try:
                    types = json.loads(message["data"])
                except ValueError:
                    types = []  # not from our announcer: wake them all rather than none
                self.wake(int(organization), types)

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        pause = RECONNECT_FIRST
        while True:
            client = redis.asyncio.Redis.from_url(self.url, socket_connect_timeout=2, socket_keepalive=True)
            pubsub = client.pubsub()
            try:
                await pubsub.psubscribe(channel_prefix(self.url) + "*")
                _end_if_cancelled()
                heard = pinged = loop.time()
                while True:
                    message = await pubsub.get_message(timeout=PING_EVERY)
                    _end_if_cancelled()
                    now = loop.time()
                    if message is not None:
                        heard, pause = now, RECONNECT_FIRST
                        self._heard(message)
                    elif now - heard > SILENCE:
                        raise ConnectionError(f"no answer from Redis for {SILENCE:.0f} s")
                    if now - pinged >= PING_EVERY:
                        await pubsub.ping()
                        pinged = now
            except (RedisError, OSError) as exc:
                logger.warning("webhooks.feed.subscription_lost", extra={"error": type(exc).__name__})
            except Exception:
                # A bug here must not end the subscription for good: logged, and made again (waiters
                # poll meanwhile).
                logger.exception("webhooks.feed.listener_crashed")
            finally:
                self._live_set(False)
                with suppress(RedisError, OSError):
                    await pubsub.aclose()
                    await client.aclose()
            await asyncio.sleep(pause)
            pause = min(pause * 2, RECONNECT_MAX)


def _end_if_cancelled() -> None:
    """Raise CancelledError if this task was asked to end. redis-py (8.1) swallows a cancellation
    that arrives while it subscribes: the listener would go on forever, and the event loop that
    cancels it on its way out (asyncio.run's end, a server's shutdown) would wait for it forever."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub]" = weakref.WeakKeyDictionary()


def hub() -> Hub:
    """This event loop's hub, started on first use."""
    loop = asyncio.get_running_loop()
    found = _hubs.get(loop)
    if found is None or found.url != settings.REDIS_URL:
        if found is not None and found.listener is not None:
            found.listener.cancel()
        found = _hubs[loop] = Hub(settings.REDIS_URL)
    return found
