"""The hint on commit: a committed transaction's event ids go to the workers, without waiting.

`events_hint`, called once the change's transaction commits (webhooks.outbox.recording registers
it; never if it rolls back), hands the ids to this process's publisher thread. The thread
publishes whatever has piled up (many commits, one task per batch): at once when it was idle, at
most every PUBLISH_INTERVAL under a stream of commits, so that a busy web process publishes
fewer, fuller tasks. A commit of more than one batch of events (an import) goes to the backlog
queue, so that it cannot hold back other organizations' fresh events (webhooks.delivery.queue).
Ids still waiting when the process dies are not lost: their events wait in the outbox, and the
sweeper hands them out.
"""

import atexit
import logging
import os
import threading
import time
from collections.abc import Sequence

from django.conf import settings

from edrv_project.celery import app
from webhooks import metrics, rows
from webhooks.delivery import queue
from webhooks.models import Event

logger = logging.getLogger(__name__)

# The publisher thread publishes at most this often (seconds): a stream of commits shares tasks. A task
# costs a worker a few milliseconds of CPU whatever it carries (the broker's bookkeeping, Celery's,
# two short transactions), each event in it a fraction of one: at 20 ms a stream of 150 saves/s cost
# 3 ms of worker CPU per event, at 50 ms under 1 ms. An event waits at most this long, and only
# under a stream: the first commit after a quiet moment is published at once.
PUBLISH_INTERVAL = 0.05


class _Publisher:
    """One daemon thread per process that publishes event ids handed to it, in batches."""

    def __init__(self) -> None:
        self.fresh: list[int] = []
        self.backlog: list[int] = []
        self.ready = threading.Condition()
        self.thread: threading.Thread | None = None

    def submit(self, event_ids: Sequence[int]) -> None:
        with self.ready:
            (self.backlog if len(event_ids) > settings.WEBHOOKS_BATCH_SIZE else self.fresh).extend(event_ids)
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="webhooks-publisher", daemon=True)
                self.thread.start()
            self.ready.notify()

    def flush(self) -> None:
        with self.ready:
            (fresh, self.fresh), (backlog, self.backlog) = (self.fresh, []), (self.backlog, [])
        if fresh:
            queue.events_fan_out_enqueue(fresh)
        if backlog:
            queue.events_fan_out_enqueue(backlog, backlog=True)

    def _run(self) -> None:
        last = 0.0
        while True:
            with self.ready:
                while not (self.fresh or self.backlog):
                    self.ready.wait()
            pause = last + PUBLISH_INTERVAL - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            last = time.monotonic()
            try:
                self.flush()
            except Exception:
                logger.exception("webhooks.enqueue.crashed")


_publisher = _Publisher()


def events_hint(events: Sequence[Event]) -> None:
    """Tell the workers about these committed events, without waiting (call it once they commit).

    A transaction that records many changes hints once per change; the publisher thread gathers
    their ids into tasks of a batch each, not one task per change. The events are counted for
    /metrics (`webhooks_events_total`) here too.
    """
    # Callbacks run by hand before the commit (captureOnCommitCallbacks) write the rows first.
    rows.written(events)
    event_ids = [event.pk for event in events]
    metrics.events_counted([event.type for event in events])
    if app.conf.task_always_eager:  # the task would run in the publisher thread: keep it here
        queue.events_fan_out_enqueue(event_ids)
    else:
        _publisher.submit(event_ids)


def _publisher_reset() -> None:
    # A forked child (a prefork web server) has no publisher thread of its own yet.
    global _publisher
    _publisher = _Publisher()


os.register_at_fork(after_in_child=_publisher_reset)


def publisher_flush() -> None:
    """Publish now what this process's publisher thread holds (at exit; before switching brokers)."""
    _publisher.flush()


atexit.register(publisher_flush)
