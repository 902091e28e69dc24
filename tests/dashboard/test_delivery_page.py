"""A delivery's page: what was sent (the body, rebuilt and checked against the signature sent; the
request headers, custom values masked) and what came back, attempt by attempt; read by any member
of the organization, a 404 for anyone else."""

import json
from collections.abc import Iterator

import pytest
from django.test import Client
from django.utils.html import escape

from organizations.models import Organization
from tests.dashboard.deliveries import delivery_of
from tests.e2e.receiver import Receiver, Reply, ok, status
from tests.factories import EndpointFactory, LocationFactory
from tests.pipeline import deliver_waiting
from webhooks.dashboard.exchanges import FOLD_LINES
from webhooks.endpoints.services import endpoint_rotate_secret
from webhooks.models import Attempt, Delivery, DeliveryStatus, Event

pytestmark = pytest.mark.django_db

CUSTOMER_TOKEN = "Bearer sk_live_customers_own_token"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def delivered(receiver: Receiver, organization: Organization, reply: Reply | None = None) -> Delivery:
    """A location created, and its event delivered by the pipeline (in this process) to the receiver,
    through an endpoint with a custom header whose value is the customer's own credential."""
    endpoint = EndpointFactory.create(
        organization=organization,
        url=receiver.url("/hook"),
        events=["location.created"],
        headers={"authorization": CUSTOMER_TOKEN, "x-tenant": "acme"},
    )
    receiver.expect_secrets("/hook", [endpoint.secret])
    receiver.behave("/hook", reply or ok())
    LocationFactory.create(organization=organization, name="Depot Nørth")
    deliver_waiting()
    receiver.wait_for(1, path="/hook")
    return Delivery.objects.select_related("event", "endpoint").get(endpoint=endpoint)


def page_url(delivery: Delivery) -> str:
    return f"/developers/webhooks/{delivery.endpoint.public_id}/deliveries/{delivery.pk}/"


def test_it_shows_the_request_as_sent_and_the_response_as_received(
    admin: Client, organization: Organization, receiver: Receiver
) -> None:
    # Given a delivery the pipeline made, to a receiver that answers with headers and a body
    reply = status(202, headers={"X-Request-Id": "req-42", "Set-Cookie": "a=1"}, body='{"queued": true}')
    delivery = delivered(receiver, organization, reply)
    [request] = receiver.requests("/hook")
    assert request.verified
    # When its page is opened
    response = admin.get(page_url(delivery))
    html = response.content.decode()
    # Then it shows each request header the receiver got, the signatures among them
    assert response.status_code == 200
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature", "edrv-signature", "user-agent"):
        assert f"<code>{name}</code>" in html and escape(request.headers[name]) in html, name
    assert "<code>application/json</code>" in html
    # And the custom headers by name only: their values, and the signing secret, appear nowhere
    assert "<code>authorization</code>" in html and "<code>x-tenant</code>" in html
    assert "sk_live_customers_own_token" not in html and "acme" not in html
    assert html.count("(custom header, value hidden)") == 2
    assert delivery.endpoint.secret not in html
    # And the body: the exact bytes received, pretty-printed too, verified against the signature
    assert escape(request.body.decode()) in html
    assert escape(json.dumps(request.json, indent=2, ensure_ascii=False)) in html
    assert "Byte for byte the body that was signed and sent" in html
    assert "Its signature verifies the body above." in html
    # And the response: status, headers, body
    assert "Status <strong>202</strong>" in html
    assert "<code>X-Request-Id</code>" in html and "<code>req-42</code>" in html
    assert escape('{"queued": true}') in html
    # And the event, linked to the event log, its times with their time zone
    assert f'href="/developers/events/?id={delivery.event.public_id}"' in html
    assert " UTC</time>" in html


def test_an_attempt_without_an_answer_shows_its_error_and_what_was_sent(
    admin: Client, organization: Organization
) -> None:
    # Given an endpoint on a port where nothing listens, and the pipeline's attempt at it
    endpoint = EndpointFactory.create(
        organization=organization, url="http://127.0.0.1:9/nobody", events=["location.created"]
    )
    LocationFactory.create(organization=organization)
    deliver_waiting()
    delivery = Delivery.objects.get(endpoint=endpoint)
    # When its page is opened
    html = admin.get(page_url(delivery)).content.decode()
    # Then the error is said, with the request headers that were sent and no response
    assert "connection refused" in html
    assert "No answer" in html and "<code>webhook-signature</code>" in html
    assert "Status <strong>" not in html


def test_after_a_rotation_the_old_attempts_still_check_against_the_previous_secret(
    admin: Client, organization: Organization, receiver: Receiver
) -> None:
    # Given a delivery signed with a secret rotated out since
    delivery = delivered(receiver, organization)
    endpoint_rotate_secret(endpoint=delivery.endpoint)
    # When its page is opened; then the signature still verifies the body, with the previous secret
    html = admin.get(page_url(delivery)).content.decode()
    assert "Its signature verifies the body above." in html


def test_a_body_that_differs_from_what_was_signed_is_said_to(
    admin: Client, organization: Organization, receiver: Receiver
) -> None:
    # Given a delivery whose event's data changed after it was sent (nothing in the product does it)
    delivery = delivered(receiver, organization)
    event = delivery.event
    event.data = {**event.data, "name": "Renamed since"}
    event.save(update_fields=["data"])
    # When its page is opened; then it does not claim the body is what was signed
    html = admin.get(page_url(delivery)).content.decode()
    assert "Its signature does not verify the body above." in html
    assert "Byte for byte" not in html


def test_an_attempt_from_before_headers_were_kept_says_so(admin: Client, organization: Organization) -> None:
    # Given an attempt written without headers, as every attempt was before they were kept
    endpoint = EndpointFactory.create(organization=organization)
    delivery = delivery_of(endpoint, status=DeliveryStatus.FAILED, attempts=[(500, "")])
    assert Attempt.objects.get(delivery=delivery).headers == {}
    # When its page is opened; then the attempt shows, and says its headers were not recorded
    html = admin.get(f"/developers/webhooks/{endpoint.public_id}/deliveries/{delivery.pk}/").content.decode()
    assert "Not recorded: this attempt was made before headers were kept." in html
    assert "answer 500" in html


def test_a_viewer_reads_it_without_the_resend_button(
    viewer: Client, admin: Client, organization: Organization
) -> None:
    endpoint = EndpointFactory.create(organization=organization)
    delivery = delivery_of(endpoint, status=DeliveryStatus.FAILED, attempts=[(500, "")])
    url = f"/developers/webhooks/{endpoint.public_id}/deliveries/{delivery.pk}/"
    # A viewer reads the page, and is offered no resend; a developer or admin is
    assert viewer.get(url).status_code == 200
    assert "Resend" not in viewer.get(url).content.decode()
    assert "Resend" in admin.get(url).content.decode()


def test_another_organizations_delivery_is_404(
    admin: Client, organization: Organization, other_organization: Organization
) -> None:
    # Given our endpoint, and another organization's endpoint with a delivery
    ours = EndpointFactory.create(organization=organization)
    theirs = EndpointFactory.create(organization=other_organization)
    delivery = delivery_of(theirs, attempts=[(200, "")])
    # When it is asked for through their endpoint's id or through ours; then it is not found
    assert admin.get(f"/developers/webhooks/{theirs.public_id}/deliveries/{delivery.pk}/").status_code == 404
    assert admin.get(f"/developers/webhooks/{ours.public_id}/deliveries/{delivery.pk}/").status_code == 404


def test_the_endpoint_page_links_each_delivery_to_its_page(admin: Client, organization: Organization) -> None:
    endpoint = EndpointFactory.create(organization=organization)
    delivery = delivery_of(endpoint, attempts=[(200, "")])
    html = admin.get(f"/developers/webhooks/{endpoint.public_id}/").content.decode()
    assert f'href="/developers/webhooks/{endpoint.public_id}/deliveries/{delivery.pk}/"' in html


def test_a_long_body_is_folded(admin: Client, organization: Organization) -> None:
    # Given a delivery whose event carries a long object, and one whose event is short
    endpoint = EndpointFactory.create(organization=organization)
    long, short = (delivery_of(endpoint, attempts=[(200, "")]) for _ in range(2))
    Event.objects.filter(pk=long.event_id).update(data={f"field_{n}": n for n in range(FOLD_LINES)})
    # When their pages are opened; then the long body is folded, the short one open
    page = f"/developers/webhooks/{endpoint.public_id}/deliveries/{{}}/"
    folded = '<details class="payload">\n    <summary>Pretty-printed</summary>'
    assert folded in admin.get(page.format(long.pk)).content.decode()
    assert folded not in admin.get(page.format(short.pk)).content.decode()
