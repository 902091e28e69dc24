"""Test events: an example of any event type (webhooks.schemas.examples), sent to one endpoint."""

from webhooks.models import Delivery, Endpoint
from webhooks.outbox.recording import test_event_record
from webhooks.schemas.examples import example_data


def endpoint_send_test(*, endpoint: Endpoint, type_name: str) -> Delivery:
    """Record a test event of `type_name` for this endpoint alone, and queue its delivery."""
    data = example_data(organization=endpoint.organization, type_name=type_name)
    delivery = test_event_record(endpoint=endpoint, type_name=type_name, data=data)
    return Delivery.objects.select_related("event", "endpoint").get(pk=delivery.pk)
