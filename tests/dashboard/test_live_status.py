"""The endpoint page's live status: the states of the deliveries it asks about, each with its row
of the log, and the endpoint's figures, as JSON for its script; scoped as the page is."""

from collections.abc import Iterator

import pytest
from django.test import Client

from organizations.models import Organization
from tests.dashboard.deliveries import delivery_of
from tests.e2e.receiver import Receiver
from tests.factories import EndpointFactory
from tests.pipeline import deliver_waiting
from webhooks.models import Delivery, DeliveryStatus, Endpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def live(client: Client, endpoint: Endpoint, *ids: int) -> dict:
    response = client.get(f"/developers/webhooks/{endpoint.public_id}/live?ids={','.join(map(str, ids))}")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    return response.json()


def test_a_test_event_is_pending_then_succeeded(
    admin: Client, organization: Organization, receiver: Receiver
) -> None:
    # Given a test event sent from the endpoint page, not delivered yet
    endpoint = EndpointFactory.create(organization=organization, url=receiver.url("/hook"))
    receiver.expect_secrets("/hook", [endpoint.secret])
    admin.post(f"/developers/webhooks/{endpoint.public_id}/send-test", {"type": "location.created"})
    delivery = Delivery.objects.get(endpoint=endpoint)
    # When the page asks how it stands; then it is pending, and the endpoint has no attempt
    before = live(admin, endpoint, delivery.pk)
    [row] = before["deliveries"]
    assert (row["id"], row["status"], row["attempt_count"]) == (delivery.pk, "pending", 0)
    assert "Pending" in row["html"] and 'data-status="pending"' in row["html"]
    assert before["endpoint"]["attempts"] == 0 and before["endpoint"]["success_rate"] is None
    # When a worker delivers it
    assert deliver_waiting() == 1
    receiver.wait_for(1, path="/hook")
    # Then it has succeeded, with its attempt in its row, and the figures count it
    after = live(admin, endpoint, delivery.pk)
    [row] = after["deliveries"]
    assert (row["status"], row["attempt_count"], row["last_status_code"]) == ("succeeded", 1, 200)
    assert "Succeeded" in row["html"] and "<td>200</td>" in row["html"]
    assert after["endpoint"]["success_rate"] == 100 and after["endpoint"]["succeeded"] == 1
    assert after["endpoint"]["last_attempt_at"] is not None
    assert "100%" in after["endpoint"]["html"]["rate"] and "UTC" in after["endpoint"]["html"]["last-attempt"]


def test_only_the_endpoints_own_deliveries_are_answered(
    viewer: Client, organization: Organization, other_organization: Organization
) -> None:
    # Given a delivery of ours, one of another of our endpoints, and one of another organization
    ours, sibling = (EndpointFactory.create(organization=organization) for _ in range(2))
    theirs = EndpointFactory.create(organization=other_organization)
    mine = delivery_of(ours, status=DeliveryStatus.PENDING)
    elsewhere = delivery_of(sibling, status=DeliveryStatus.PENDING)
    foreign = delivery_of(theirs, status=DeliveryStatus.PENDING)
    # When a viewer asks about all three, and junk, through our endpoint
    answer = live(viewer, ours, mine.pk, elsewhere.pk, foreign.pk)
    # Then only ours is answered
    assert [row["id"] for row in answer["deliveries"]] == [mine.pk]
    assert viewer.get(f"/developers/webhooks/{ours.public_id}/live?ids=x,,-1").status_code == 200
    # And through their endpoint's id, nothing is
    assert viewer.get(f"/developers/webhooks/{theirs.public_id}/live?ids={foreign.pk}").status_code == 404


def test_the_endpoint_page_says_where_to_ask(admin: Client, organization: Organization) -> None:
    endpoint = EndpointFactory.create(organization=organization)
    delivery = delivery_of(endpoint, status=DeliveryStatus.PENDING)
    html = admin.get(f"/developers/webhooks/{endpoint.public_id}/").content.decode()
    assert f'data-live-url="/developers/webhooks/{endpoint.public_id}/live"' in html
    assert f'data-delivery="{delivery.pk}" data-status="pending"' in html
