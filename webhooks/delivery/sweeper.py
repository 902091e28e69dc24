"""The safety net: events not fanned out and deliveries due that no worker was told about (a lost
hint, a broker down at commit time, a worker that died), and the purge of old rows.

The sweep publishes a few drains (tasks with no ids, on the backlog queue) rather than every id:
each drain takes whatever waits, batch by batch, so a backlog of any size costs the broker a
handful of messages per sweep. Running it twice at once (two beat schedulers) is safe: a worker
fans out an event, or sends a delivery, only once it holds it.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from webhooks import metrics
from webhooks.delivery import queue
from webhooks.delivery.claims import claimable
from webhooks.models import Attempt, Delivery, DeliveryStatus, Event, IdempotencyRecord

logger = logging.getLogger(__name__)

# A row committed a moment ago is normally already on its way: leave it to its own task.
GRACE = timedelta(seconds=2)
# Drains published per sweep and per kind, at most: enough to keep every worker busy.
MAX_DRAINS = 8
PURGE_CHUNK = 1000
IDEMPOTENCY_TTL = timedelta(hours=24)


def outbox_sweep() -> tuple[int, int]:
    """Publish drains for waiting events and due deliveries: (fan-out drains, send drains)."""
    before = timezone.now() - GRACE
    batch = settings.WEBHOOKS_BATCH_SIZE
    events = Event.objects.filter(fanned_out=False, created_at__lt=before).order_by("id")
    waiting = len(events.values_list("id", flat=True)[: MAX_DRAINS * batch])
    due = len(claimable(before).values_list("id", flat=True)[: MAX_DRAINS * batch])
    fan_outs, sends = -(-waiting // batch), -(-due // batch)
    if fan_outs:
        queue.drains_enqueue(queue.FAN_OUT, fan_outs)
    if sends:
        queue.drains_enqueue(queue.SEND, sends)
    if fan_outs or sends:
        logger.info("webhooks.sweep.enqueued", extra={"events": waiting, "deliveries": due})
    return fan_outs, sends


def outbox_purge() -> int:
    """Delete what is older than the retention period, never what was not delivered unseen.

    A delivery still pending when its event reaches the end of the retention period becomes
    `expired` (counted in /metrics, logged, listed by the API and the dashboard), and its event is
    kept for another retention period so that this can be seen; an event never fanned out is kept
    until a worker has fanned it out. Nothing pending is ever deleted.
    """
    retention = timedelta(days=settings.WEBHOOKS_RETENTION_DAYS)
    cutoff = timezone.now() - retention
    expired = _deliveries_expire(cutoff)
    purged = 0
    old_events = (
        Event.objects.filter(created_at__lt=cutoff, fanned_out=True)
        .exclude(Exists(Delivery.objects.filter(event_id=OuterRef("pk"), status=DeliveryStatus.PENDING)))
        .exclude(
            Exists(Delivery.objects.filter(event_id=OuterRef("pk"), status=DeliveryStatus.EXPIRED)),
            created_at__gte=cutoff - retention,
        )
    )
    cutoffs = [
        Attempt.objects.filter(created_at__lt=cutoff),
        old_events,
        # Idempotency records replay first answers (never a secret): they go after a day.
        IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - IDEMPOTENCY_TTL),
    ]
    for rows in cutoffs:
        while ids := list(rows.values_list("id", flat=True)[:PURGE_CHUNK]):
            purged += rows.model._default_manager.filter(id__in=ids).delete()[0]
    if purged or expired:
        logger.info("webhooks.purge.done", extra={"rows": purged, "expired": expired})
    return purged


def _deliveries_expire(cutoff: datetime) -> int:
    expired = 0
    pending = Delivery.objects.filter(status=DeliveryStatus.PENDING, event__created_at__lt=cutoff)
    while ids := list(pending.values_list("id", flat=True)[:PURGE_CHUNK]):
        with transaction.atomic():
            n = Delivery.objects.filter(id__in=ids, status=DeliveryStatus.PENDING).update(
                status=DeliveryStatus.EXPIRED, next_attempt_at=None, claimed_until=None, claim_token=None
            )
            metrics.deliveries_counted_on_commit(metrics.EXPIRED, n)
        expired += n
        if n:
            logger.warning("webhooks.delivery.expired", extra={"deliveries": n})
    return expired
