"""Reads for the webhooks API: always within one organization, loaded as the API shows them."""

from django.db.models import QuerySet

from organizations.models import Organization
from webhooks.models import Delivery, Endpoint, Event

# Larger numbers cannot be a delivery's key, and PostgreSQL would refuse them (bigint) with a 500.
_MAX_KEY_DIGITS = 18


def endpoint_list(*, organization: Organization) -> QuerySet[Endpoint]:
    return Endpoint.objects.filter(organization=organization).order_by("-created_at", "-id")


def event_list(*, organization: Organization) -> QuerySet[Event]:
    return Event.objects.filter(organization=organization).order_by("-created_at", "-id")


def delivery_list(*, organization: Organization, endpoint: Endpoint | None = None) -> QuerySet[Delivery]:
    """Deliveries with what their representation shows (endpoint id, event id and type), newest first.

    An event's `data` can be large and a delivery shows only its id and type: it is not loaded.
    """
    deliveries = Delivery.objects.filter(endpoint__organization=organization)
    if endpoint is not None:
        deliveries = deliveries.filter(endpoint=endpoint)
    return deliveries.select_related("event", "endpoint").defer("event__data").order_by("-created_at", "-id")


def delivery_get(*, organization: Organization, delivery_id: str) -> Delivery | None:
    """One delivery with its attempts, or None when the id is not one of the organization's."""
    if not delivery_id.isascii() or not delivery_id.isdigit() or len(delivery_id) > _MAX_KEY_DIGITS:
        return None
    deliveries = delivery_list(organization=organization).prefetch_related("attempts")
    return deliveries.filter(pk=delivery_id).first()
