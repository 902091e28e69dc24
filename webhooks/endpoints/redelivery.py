"""Sending again: one delivery on demand, or everything an endpoint missed since a moment."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from webhooks.delivery import queue
from webhooks.models import Delivery, DeliveryStatus, Endpoint


def _requeue(deliveries: list[int]) -> None:
    if deliveries:
        transaction.on_commit(lambda: queue.deliveries_enqueue(deliveries), robust=True)


def delivery_resend(*, delivery: Delivery) -> Delivery:
    """One new attempt now, whatever state the delivery is in.

    A delivery that had used up its retries gets exactly one more attempt; a skipped one
    starts the retry schedule from the beginning.
    """
    with transaction.atomic():
        delivery.status = DeliveryStatus.PENDING
        delivery.next_attempt_at = timezone.now()
        # A worker still holding it from before can no longer record over the new attempt.
        delivery.claimed_until, delivery.claim_token = None, None
        delivery.save(update_fields=["status", "next_attempt_at", "claimed_until", "claim_token"])
        _requeue([delivery.pk])
    return delivery


def endpoint_recover(*, endpoint: Endpoint, since: datetime) -> int:
    """Send again every failed or skipped delivery of the endpoint created since `since`.

    Each gets a fresh retry schedule. Returns how many were queued.
    """
    with transaction.atomic():
        missed = Delivery.objects.filter(
            endpoint=endpoint,
            created_at__gte=since,
            status__in=[DeliveryStatus.FAILED, DeliveryStatus.SKIPPED],
        )
        ids = list(missed.values_list("id", flat=True))
        Delivery.objects.filter(id__in=ids).update(
            status=DeliveryStatus.PENDING,
            attempt_count=0,
            next_attempt_at=timezone.now(),
            claimed_until=None,
            claim_token=None,
        )
        for start in range(0, len(ids), 500):
            _requeue(ids[start : start + 500])
    return len(ids)
