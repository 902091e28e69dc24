"""The dashboard as a person uses it, in Chromium: log in, add an endpoint, send a test event and
see it arrive, reveal and rotate the secret, disable and enable, resend a failure, and the Free
tier's notice. A real worker delivers to a real receiver where a test needs it (marked e2e)."""

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from organizations.models import Organization, Plan
from tests.browser.conftest import Login
from tests.e2e.conftest import StartProcess
from tests.e2e.receiver import Receiver, ok, sequence, status
from tests.factories import EndpointFactory, OrganizationFactory
from webhooks.models import Delivery, DeliveryStatus, Endpoint

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ONE_ATTEMPT = {"WEBHOOKS_RETRY_SCHEDULE": "0", "WEBHOOKS_SWEEP_INTERVAL": "1"}


def open_endpoint(page: Page, live_server: LiveServer, endpoint: Endpoint) -> None:
    page.goto(f"{live_server.url}/developers/webhooks/{endpoint.public_id}/")
    expect(page.get_by_role("heading", name=endpoint.url)).to_be_visible()


def send_test_event(page: Page, type_name: str) -> None:
    page.get_by_label("Test event type").select_option(type_name)
    page.get_by_role("button", name="Send test event").click()
    expect(page.get_by_role("status")).to_contain_text(f"Test {type_name} event queued")


def wait_for_status(page: Page, label: str, timeout: float = 30_000) -> None:
    """Reload the endpoint page until its newest delivery shows `label`, as a person would."""
    newest = page.locator("li.delivery").first.locator("summary .badge").first
    deadline = page.evaluate("Date.now()") + timeout
    while page.evaluate("Date.now()") < deadline:
        if newest.count() and newest.inner_text() == label:
            return
        page.wait_for_timeout(300)
        page.reload()
    expect(newest).to_have_text(label)


@pytest.mark.e2e
def test_log_in_add_an_endpoint_and_see_a_test_event_arrive(
    login: Login,
    live_server: LiveServer,
    organization: Organization,
    receiver: Receiver,
    celery_worker: StartProcess,
) -> None:
    celery_worker(**ONE_ATTEMPT)
    # Given a developer logged in through the login form
    page = login(organization)
    # When they add an endpoint with a whole category and one more chosen type
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Webhooks").click()
    page.get_by_role("link", name="Add endpoint").click()
    page.get_by_label("Endpoint URL").fill(receiver.url("/dashboard"))
    page.get_by_label("Description").fill("Billing")
    chargestations = page.get_by_role("group", name="Chargestation events")
    chargestations.get_by_label("Select all chargestation events").check()
    page.get_by_label("location.created").check()
    expect(page.get_by_label("session.stop_cost_ceiling_exceeded")).to_be_enabled()
    page.get_by_role("button", name="Add endpoint").click()
    # Then its page shows it active with what was chosen
    expect(page.get_by_role("status")).to_contain_text("Endpoint added")
    endpoint = Endpoint.objects.get(organization=organization)
    assert "location.created" in endpoint.events and "chargestation.online" in endpoint.events
    assert len(endpoint.events) == 10
    expect(page.locator(".page-head .badge")).to_have_text("Active")
    # When they send a test event of a type they chose
    receiver.expect_secrets("/dashboard", [endpoint.secret])
    send_test_event(page, "location.created")
    # Then the receiver gets it, signed, and the log shows it succeeded with its attempt
    [request] = receiver.wait_for(1, path="/dashboard")
    assert request.verified, request.summary()
    assert request.json["type"] == "location.created" and request.headers["edrv-test"] == "true"
    wait_for_status(page, "Succeeded")
    page.locator("li.delivery summary").first.click()
    expect(page.locator("table.attempts tbody tr").first).to_contain_text("200")


def test_reveal_and_rotate_the_secret(
    login: Login, live_server: LiveServer, organization: Organization
) -> None:
    endpoint = EndpointFactory.create(organization=organization)
    page = login(organization)
    open_endpoint(page, live_server, endpoint)
    secret = page.locator("#secret-value")
    # The secret is hidden until asked for
    expect(secret).to_be_hidden()
    page.get_by_role("link", name="Click to reveal").click()
    expect(secret).to_have_text(endpoint.secret)
    # Rotating asks for confirmation first, then signs with a new secret
    page.get_by_text("Rotate secret…").click()
    page.get_by_role("button", name="Yes, rotate the secret").click()
    expect(page.get_by_role("status")).to_contain_text("Secret rotated")
    endpoint.refresh_from_db()
    page.get_by_role("link", name="Click to reveal").click()
    expect(secret).to_have_text(endpoint.secret)
    assert page.locator("#secret-value").inner_text() != endpoint.previous_secret


def test_disable_and_enable(login: Login, live_server: LiveServer, organization: Organization) -> None:
    endpoint = EndpointFactory.create(organization=organization)
    page = login(organization)
    open_endpoint(page, live_server, endpoint)
    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_role("heading", name="Disabled by you")).to_be_visible()
    expect(page.get_by_role("button", name="Send test event")).to_have_count(0)
    page.get_by_role("button", name="Enable endpoint").click()
    expect(page.locator(".page-head .badge")).to_have_text("Active")
    endpoint.refresh_from_db()
    assert endpoint.active


@pytest.mark.e2e
def test_resend_a_failed_delivery(
    login: Login,
    live_server: LiveServer,
    organization: Organization,
    receiver: Receiver,
    celery_worker: StartProcess,
) -> None:
    celery_worker(**ONE_ATTEMPT)
    # Given an endpoint whose receiver fails the first request, and a delivery that failed so
    endpoint = EndpointFactory.create(organization=organization, url=receiver.url("/flaky"))
    receiver.expect_secrets("/flaky", [endpoint.secret])
    receiver.behave("/flaky", sequence([status(500, body="database down"), ok()]))
    page = login(organization)
    open_endpoint(page, live_server, endpoint)
    send_test_event(page, "session.started")
    wait_for_status(page, "Failed")
    page.locator("li.delivery summary").first.click()
    expect(page.locator("table.attempts tbody tr").first).to_contain_text("500")
    expect(page.locator("table.attempts tbody tr").first).to_contain_text("database down")
    # When it is resent from the log
    page.get_by_role("button", name="Resend").first.click()
    expect(page.get_by_role("status")).to_contain_text("queued again")
    # Then it succeeds on its second attempt
    wait_for_status(page, "Succeeded")
    assert len(receiver.wait_for(2, path="/flaky")) == 2
    assert Delivery.objects.get(endpoint=endpoint).status == DeliveryStatus.SUCCEEDED


def test_a_free_organization_is_told_webhooks_need_starter(login: Login, live_server: LiveServer) -> None:
    free = OrganizationFactory.create(plan=Plan.FREE)
    page = login(free)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", name="Webhooks need the Starter tier")).to_be_visible()
    expect(page.get_by_role("link", name="Add endpoint")).to_have_count(0)


@pytest.mark.parametrize(
    "path", ["/developers/webhooks/", "/developers/webhooks/new", "{endpoint}", "/sessions/"]
)
def test_usable_at_phone_width(
    login: Login, live_server: LiveServer, organization: Organization, path: str
) -> None:
    # Given a phone-sized window
    endpoint = EndpointFactory.create(organization=organization, url="http://127.0.0.1:9/" + "long/" * 30)
    page = login(organization)
    page.set_viewport_size({"width": 360, "height": 740})
    # When a page is opened; then nothing makes the page itself scroll sideways
    page.goto(live_server.url + path.format(endpoint=f"/developers/webhooks/{endpoint.public_id}/"))
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"{path} is {width}px wide"
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
