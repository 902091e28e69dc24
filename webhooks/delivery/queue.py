"""Telling workers about due deliveries. Never blocks a request for long, never raises.

If the broker cannot be reached, the deliveries stay due in the database and the beat sweeper
enqueues them later; for a few seconds after such a failure we do not even try, so that a
broker outage does not add a connect timeout to every save.

A committed change does not wait for the broker at all: `deliveries_enqueue_soon` hands the ids
to this process's publisher thread, which publishes whatever has piled up (many changes, one
task per batch): at once when it was idle, at most every PUBLISH_INTERVAL under a stream of
commits, so that a busy web process publishes fewer, fuller tasks (a publish costs about a
millisecond of CPU; the interval adds at most 20 ms to a delivery, and only under load).
Ids still waiting when the process dies are not lost: their deliveries are due in the
database, and the sweeper enqueues them.
"""

import atexit
import logging
import os
import threading
import time
from collections.abc import Sequence

from django.conf import settings
from kombu.exceptions import OperationalError as BrokerError

logger = logging.getLogger(__name__)

_BACKOFF_SECONDS = 5.0
# The publisher thread publishes at most this often (seconds): a burst of commits shares tasks.
PUBLISH_INTERVAL = 0.02
_broker_down_until = 0.0


def deliveries_enqueue(delivery_ids: Sequence[int], *, countdown: float = 0) -> bool:
    """Publish send tasks for these deliveries, a batch each; False when they could not all be published."""
    global _broker_down_until
    from webhooks.delivery.tasks import deliveries_send  # tasks import services, which import this module

    if time.monotonic() < _broker_down_until:
        return False
    # A task claims at most one batch: ids beyond it would wait for the sweeper.
    size = settings.WEBHOOKS_BATCH_SIZE
    try:
        for start in range(0, len(delivery_ids), size):
            deliveries_send.apply_async(args=(list(delivery_ids[start : start + size]),), countdown=countdown)
    except (BrokerError, OSError) as exc:
        _broker_down_until = time.monotonic() + _BACKOFF_SECONDS
        logger.warning(
            "webhooks.enqueue.failed", extra={"deliveries": len(delivery_ids), "error": type(exc).__name__}
        )
        return False
    return True


def broker_backoff_reset() -> None:
    """Try the broker at the next publish again (e.g. after pointing the app at another broker)."""
    global _broker_down_until
    _broker_down_until = 0.0


class _Publisher:
    """One daemon thread per process that publishes ids handed to it, in batches."""

    def __init__(self) -> None:
        self.pending: list[int] = []
        self.ready = threading.Condition()
        self.thread: threading.Thread | None = None

    def submit(self, delivery_ids: Sequence[int]) -> None:
        with self.ready:
            self.pending.extend(delivery_ids)
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="webhooks-publisher", daemon=True)
                self.thread.start()
            self.ready.notify()

    def flush(self) -> None:
        with self.ready:
            ids, self.pending = self.pending, []
        if ids:
            deliveries_enqueue(ids)

    def _run(self) -> None:
        last = 0.0
        while True:
            with self.ready:
                while not self.pending:
                    self.ready.wait()
            # Idle, it publishes at once; under a stream of commits, at most once per interval,
            # each publish carrying every id that came in meanwhile (fewer, fuller tasks).
            pause = last + PUBLISH_INTERVAL - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            last = time.monotonic()
            try:
                self.flush()
            except Exception:
                logger.exception("webhooks.enqueue.crashed")


_publisher = _Publisher()


def deliveries_enqueue_soon(delivery_ids: Sequence[int]) -> None:
    """Have these deliveries published shortly, without waiting for the broker here."""
    from edrv_project.celery import app

    if app.conf.task_always_eager:  # the task would run in the publisher thread: keep it here
        deliveries_enqueue(delivery_ids)
    else:
        _publisher.submit(delivery_ids)


def _publisher_reset() -> None:
    # A forked child (a prefork web server) has no publisher thread of its own yet.
    global _publisher
    _publisher = _Publisher()


os.register_at_fork(after_in_child=_publisher_reset)


def publisher_flush() -> None:
    """Publish now what this process's publisher thread holds (at exit; before switching brokers)."""
    _publisher.flush()


atexit.register(publisher_flush)
