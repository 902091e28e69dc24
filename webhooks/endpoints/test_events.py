"""Test events: an example of any event type (webhooks.schemas.examples), sent to one endpoint."""

from webhooks.models import Delivery, Endpoint
from webhooks.outbox.recording import events_record
from webhooks.schemas.examples import example_data


def endpoint_send_test(*, endpoint: Endpoint, type_name: str) -> Delivery:
    """Record a test event of `type_name` for this endpoint alone, and queue its delivery."""
    data = example_data(organization=endpoint.organization, type_name=type_name)
    [event] = events_record(
        organization_id=endpoint.organization_id,
        items=[(type_name, data)],
        endpoints=[endpoint],
        is_test=True,
    )
    return Delivery.objects.select_related("event", "endpoint").get(event=event, endpoint=endpoint)
