"""Telling workers what to do: Celery tasks with ids only. Never blocks for long, never raises.

Two queues. Fresh work (the events a commit just wrote, a resend) goes to Celery's default queue;
bulk work (a large import's events, the sweeper's drains, retries) to WEBHOOKS_BACKLOG_QUEUE.
Workers consume both, taking from each in turn, so that one organization's backlog of thousands
does not hold back another's fresh event behind it.

If the broker cannot be reached, the rows stay waiting in the database and the beat sweeper
hands them out later; for a few seconds after such a failure we do not even try, so that a broker
outage does not add a connect timeout to every commit.
"""

import logging
import time
from collections.abc import Sequence

from django.conf import settings
from kombu.exceptions import OperationalError as BrokerError

from edrv_project.celery import app

logger = logging.getLogger(__name__)

_BACKOFF_SECONDS = 5.0
_broker_down_until = 0.0

# Task names (webhooks.delivery.tasks registers them): publishing by name keeps this module free
# of the tasks, which import the services, which publish through here.
FAN_OUT = "webhooks.events_fan_out"
SEND = "webhooks.deliveries_send"


def events_fan_out_enqueue(event_ids: Sequence[int], *, backlog: bool = False) -> bool:
    """Have these events fanned out and sent, a batch per task; False if not all were published."""
    return _publish(FAN_OUT, _batches(event_ids), backlog=backlog)


def deliveries_enqueue(delivery_ids: Sequence[int], *, countdown: float = 0, backlog: bool = False) -> bool:
    """Have these deliveries sent (when the claim rules allow), a batch per task."""
    return _publish(SEND, _batches(delivery_ids), countdown=countdown, backlog=backlog or countdown > 0)


def drains_enqueue(task: str, count: int, *, countdown: float = 0) -> bool:
    """`count` tasks with no ids, on the backlog queue: each takes whatever waits, batch by batch."""
    return _publish(task, [None] * count, countdown=countdown, backlog=True)


def _batches(ids: Sequence[int]) -> list[list[int] | None]:
    # A task takes at most one batch: ids beyond it would wait for the sweeper.
    size = settings.WEBHOOKS_BATCH_SIZE
    return [list(ids[start : start + size]) for start in range(0, len(ids), size)]


def _publish(
    task: str, batches: Sequence[list[int] | None], *, countdown: float = 0, backlog: bool = False
) -> bool:
    global _broker_down_until
    if time.monotonic() < _broker_down_until:
        return False
    # Celery's default queue, unless it is bulk work.
    options = {"queue": settings.WEBHOOKS_BACKLOG_QUEUE} if backlog else {}
    try:
        for batch in batches:
            app.tasks[task].apply_async(args=(batch,), countdown=countdown, **options)
    except (BrokerError, OSError) as exc:
        _broker_down_until = time.monotonic() + _BACKOFF_SECONDS
        logger.warning("webhooks.enqueue.failed", extra={"task": task, "error": type(exc).__name__})
        return False
    return True


def broker_backoff_reset() -> None:
    """Try the broker at the next publish again (e.g. after pointing the app at another broker)."""
    global _broker_down_until
    _broker_down_until = 0.0
