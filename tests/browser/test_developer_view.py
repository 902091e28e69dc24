"""What a developer sees, in Chromium: a delivery's request and response (body, headers, copy
buttons), a pending delivery that turns Succeeded without a reload, and the event log's search.
Deliveries are made by the pipeline in the test's thread (tests/pipeline.py) to a real receiver.
Each page is saved as a screenshot under tests/artifacts/<test>/, at desktop and phone width."""

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, ViewportSize, expect
from pytest_django.live_server_helper import LiveServer

from organizations.models import Organization
from tests.browser.conftest import Login, artifacts_folder
from tests.e2e.receiver import Receiver, status
from tests.factories import ChargestationFactory, EndpointFactory, LocationFactory
from tests.pipeline import deliver_waiting
from webhooks.models import Delivery, Endpoint, Event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE: ViewportSize = {"width": 360, "height": 740}


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Path:
    folder = artifacts_folder(request)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def at_phone_width(page: Page, shot: Path) -> None:
    """The page at a phone's width: nothing makes the page itself scroll sideways."""
    page.set_viewport_size(PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    page.screenshot(path=str(shot), full_page=True)
    assert width <= PHONE["width"], f"{page.url} is {width}px wide"
    page.set_viewport_size({"width": 1280, "height": 900})


def endpoint_at(receiver: Receiver, organization: Organization, **fields: object) -> Endpoint:
    endpoint = EndpointFactory.create(organization=organization, url=receiver.url("/hook"), **fields)
    receiver.expect_secrets("/hook", [endpoint.secret])
    return endpoint


def test_a_delivery_shows_what_was_sent_and_copies_its_body(
    login: Login, live_server: LiveServer, organization: Organization, receiver: Receiver, shots: Path
) -> None:
    # Given a location's event delivered to a receiver, through an endpoint with a custom credential
    endpoint = endpoint_at(
        receiver,
        organization,
        events=["location.created"],
        headers={"authorization": "Bearer sk_live_customers_own"},
    )
    receiver.behave("/hook", status(200, headers={"X-Request-Id": "req-42"}, body='{"received": true}'))
    LocationFactory.create(organization=organization, name="Depot North")
    deliver_waiting()
    [request] = receiver.wait_for(1, path="/hook")
    delivery = Delivery.objects.get(endpoint=endpoint)
    page = login(organization)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    # When the developer opens it from the endpoint's delivery log
    page.goto(f"{live_server.url}/developers/webhooks/{endpoint.public_id}/")
    page.locator("li.delivery summary").first.click()
    page.get_by_role("link", name=f"Request and response of delivery {delivery.pk}").click()
    # Then the page shows the body pretty-printed, verified against the signature sent
    expect(page.get_by_role("heading", name=f"Delivery {delivery.pk}")).to_be_visible()
    expect(page.locator("#body-pretty")).to_have_text(json.dumps(request.json, indent=2))
    expect(page.get_by_text("Byte for byte the body that was signed and sent")).to_be_visible()
    # And the request headers as received, the custom one masked, and the response's headers
    headers = page.get_by_role("table", name="Request headers as sent")
    signature = headers.get_by_role("row", name="webhook-signature")
    expect(signature).to_contain_text(request.headers["webhook-signature"])
    expect(headers.get_by_role("row", name="authorization")).to_contain_text("value hidden")
    expect(page.get_by_role("table", name="Response headers")).to_contain_text("req-42")
    assert "sk_live_customers_own" not in page.content() and endpoint.secret not in page.content()
    page.screenshot(path=str(shots / "delivery.png"), full_page=True)
    # When the body is copied; then the clipboard holds the exact bytes that were sent
    page.get_by_role("button", name="Copy body").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == request.body.decode()
    # And the event's id too, and it links to the event in the event log
    page.locator('button[data-copy="event-id"]').click()
    assert page.evaluate("navigator.clipboard.readText()") == delivery.event.public_id
    at_phone_width(page, shots / "delivery-phone.png")
    page.get_by_role("link", name=delivery.event.public_id).click()
    expect(page.locator("li.event")).to_have_count(1)
    expect(page.locator("li.event")).to_contain_text("Succeeded")


def test_a_pending_delivery_turns_succeeded_without_a_reload(
    login: Login, live_server: LiveServer, organization: Organization, receiver: Receiver, shots: Path
) -> None:
    # Given the endpoint page, just after a test event was sent: the row says Pending
    endpoint = endpoint_at(receiver, organization)
    page = login(organization)
    page.goto(f"{live_server.url}/developers/webhooks/{endpoint.public_id}/")
    page.get_by_label("Test event type").select_option("location.created")
    page.get_by_role("button", name="Send test event").click()
    newest = page.locator("li.delivery").first.locator("summary .badge").first
    expect(newest).to_have_text("Pending")
    expect(page.locator('[data-live-figure="rate"]')).to_have_text("No attempts")
    page.evaluate("window.notReloaded = true")
    # When a worker delivers it
    assert deliver_waiting() == 1
    receiver.wait_for(1, path="/hook")
    # Then the row and the figures update in place, without a reload
    expect(newest).to_have_text("Succeeded")
    expect(page.locator('[data-live-figure="rate"]')).to_contain_text("100%")
    expect(page.locator('[data-live-figure="last-attempt"]')).to_contain_text("UTC")
    assert page.evaluate("window.notReloaded") is True
    page.locator("li.delivery summary").first.click()
    expect(page.locator("table.attempts tbody tr").first).to_contain_text("200")
    page.screenshot(path=str(shots / "endpoint-live.png"), full_page=True)


def test_the_event_log_is_searched(
    login: Login, live_server: LiveServer, organization: Organization, receiver: Receiver, shots: Path
) -> None:
    # Given a location and a chargestation that came online, their events delivered to an endpoint
    endpoint_at(receiver, organization, events=["location.created", "charger.connected"])
    location = LocationFactory.create(organization=organization, name="Depot North")
    station = ChargestationFactory.create(location=location, endpoint="CP-NORTH-1")
    station.online = True
    station.save()
    deliver_waiting()
    page = login(organization)
    # When the developer opens Developers > Events
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Events").click()
    expect(page.get_by_role("heading", name="Events")).to_be_visible()
    expect(page.locator("li.event")).to_have_count(Event.objects.count())
    page.screenshot(path=str(shots / "events.png"), full_page=True)
    # And searches for the location by its id
    page.get_by_label("Object id").fill(location.public_id)
    page.get_by_role("button", name="Search").click()
    # Then only its event is listed, with where it went and, unfolded, its data
    found = page.locator("li.event")
    expect(found).to_have_count(1)
    expect(found).to_contain_text("location.created")
    expect(found).to_contain_text("Succeeded")
    found.get_by_text("Data", exact=True).click()
    expect(found.locator("pre")).to_contain_text('"name": "Depot North"')
    # And the charger's events by its OCPP identity, of one type
    page.get_by_label("Object id").fill("CP-NORTH-1")
    page.get_by_label("Type").select_option("charger.connected")
    page.get_by_role("button", name="Search").click()
    expect(found).to_have_count(1)
    expect(found).to_contain_text("charger.connected")
    found.get_by_text("Data", exact=True).click()
    page.screenshot(path=str(shots / "events-searched.png"), full_page=True)
    at_phone_width(page, shots / "events-phone.png")
