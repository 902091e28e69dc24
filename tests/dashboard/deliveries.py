"""Delivery history written straight to the outbox tables, as the pipeline would have left it."""

from collections.abc import Sequence
from datetime import datetime

from django.utils import timezone

from webhooks.models import Attempt, Delivery, DeliveryStatus, Endpoint, Event


def delivery_of(
    endpoint: Endpoint,
    *,
    type_name: str = "location.created",
    status: str = DeliveryStatus.SUCCEEDED,
    at: datetime | None = None,
    attempts: Sequence[tuple[int | None, str]] = (),
) -> Delivery:
    """A delivery of a new event; `attempts` are (status code, error) pairs, oldest first."""
    at = at or timezone.now()
    event = Event.objects.create(
        organization=endpoint.organization,
        type=type_name,
        object=type_name.split(".")[0],
        data={},
        fanned_out=True,
        created_at=at,
    )
    delivery = Delivery.objects.create(
        event=event, endpoint=endpoint, status=status, created_at=at, attempt_count=len(attempts)
    )
    for code, error in attempts:
        Attempt.objects.create(
            delivery=delivery,
            created_at=at,
            status_code=code,
            duration_ms=42,
            response_excerpt=f"answer {code}" if code else "",
            error=error,
            succeeded=code is not None and 200 <= code < 300,
        )
    return delivery
