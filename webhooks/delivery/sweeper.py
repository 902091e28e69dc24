"""The safety net: deliveries that are due but that no worker was told about, and old rows.

Running it twice at once (two beat schedulers) is safe: it only enqueues ids, and a worker
sends a delivery only after leasing it (see `claims.deliveries_claim`).
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from webhooks.delivery import queue
from webhooks.delivery.claims import claimable
from webhooks.models import Attempt, Event, IdempotencyRecord

logger = logging.getLogger(__name__)

# A delivery committed a moment ago is normally already on its way: leave it to its own task.
GRACE = timedelta(seconds=2)
PURGE_CHUNK = 1000
IDEMPOTENCY_TTL = timedelta(hours=24)


def deliveries_sweep(*, limit: int = 10_000) -> int:
    """Enqueue due deliveries no worker holds; return how many were enqueued."""
    ids = list(
        claimable(timezone.now() - GRACE)
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    batch = settings.WEBHOOKS_BATCH_SIZE
    for start in range(0, len(ids), batch):
        if not queue.deliveries_enqueue(ids[start : start + batch]):
            break
    if ids:
        logger.info("webhooks.sweep.enqueued", extra={"deliveries": len(ids)})
    return len(ids)


def outbox_purge() -> int:
    """Delete events (with their deliveries) and attempts older than the retention period."""
    cutoff = timezone.now() - timedelta(days=settings.WEBHOOKS_RETENTION_DAYS)
    purged = 0
    # Idempotency records replay answers that may hold a secret: they go after a day.
    cutoffs = [(Attempt, cutoff), (Event, cutoff), (IdempotencyRecord, timezone.now() - IDEMPOTENCY_TTL)]
    for model, before in cutoffs:
        while ids := list(
            model._default_manager.filter(created_at__lt=before).values_list("id", flat=True)[:PURGE_CHUNK]
        ):
            purged += model._default_manager.filter(id__in=ids).delete()[0]
    if purged:
        logger.info("webhooks.purge.done", extra={"rows": purged})
    return purged
