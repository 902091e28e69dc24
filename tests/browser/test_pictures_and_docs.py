"""What a developer looks at, in Chromium: an endpoint's charts and the overview's events by type drawn
from real deliveries (the pipeline, in the test's thread, to a real receiver), the signature samples,
every webhook's fields and example in /api/docs/, and every page of the dashboard (and an admin list at
1400 px) saved as screenshots under tests/artifacts/<test>/, at desktop and phone width."""

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, ViewportSize, expect
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from organizations.models import Organization
from organizations.services import api_key_create
from tests.browser.conftest import Login, artifacts_folder
from tests.e2e.receiver import Plan, Receiver, RecordedRequest, Reply, ok, status
from tests.factories import PASSWORD, ChargestationFactory, ConnectorFactory, LocationFactory, SessionFactory
from tests.pipeline import deliver_waiting
from webhooks.endpoints.services import endpoint_create
from webhooks.models import Delivery, DeliveryStatus, Endpoint, Event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 360, "height": 740}
# A name long enough to wrap: its checkbox must stay beside it.
LONG_TYPE = "session.stop_energy_ceiling_exceeded"


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Path:
    folder = artifacts_folder(request)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shoot(page: Page, folder: Path, name: str, *, phone_fits: bool = True) -> None:
    """The page at desktop width, then at a phone's, where (unless told otherwise) nothing makes the
    page itself scroll sideways."""
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(folder / f"{name}-phone.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    page.set_viewport_size(DESKTOP)
    if phone_fits:
        assert width <= PHONE["width"], f"{page.url} is {width}px wide on a phone"


@dataclass(frozen=True)
class Network:
    endpoint: Endpoint
    succeeded: int
    retried: int
    failed: int


def flaky_receiver() -> Plan:
    """A receiver's plan: a location named "Broken" always fails, one named "Flaky" fails its first
    attempt only, anything else succeeds."""
    tried: set[str] = set()

    def plan(request: RecordedRequest, n: int) -> Reply:
        name = str(((request.json or {}).get("data") or {}).get("name", ""))
        if "Broken" in name:
            return status(500, body="database down")
        if "Flaky" in name and request.headers["webhook-id"] not in tried:
            tried.add(request.headers["webhook-id"])
            return status(503)
        return ok()

    return plan


@pytest.fixture
def network(organization: Organization, receiver: Receiver, settings: Settings) -> Network:
    """Locations, chargestations and sessions, their events delivered (two attempts at most, the
    second at once) to an endpoint whose receiver takes most, fails one at first and one always."""
    settings.WEBHOOKS_RETRY_SCHEDULE = [0, 0]
    endpoint = endpoint_create(
        organization=organization,
        url=receiver.url("/hook"),
        events=["location.created", "location.updated", "chargestation.created", "session.created"],
        description="Billing service",
    )
    receiver.expect_secrets("/hook", [endpoint.secret])
    receiver.behave("/hook", flaky_receiver())
    api_key_create(organization=organization, name="billing service")
    for name in ("Depot North", "Depot South", "Depot Flaky", "Depot Broken", "Harbour"):
        location = LocationFactory.create(organization=organization, name=name)
        station = ChargestationFactory.create(location=location, vendor="ExampleVendor", model="EX-22")
        ConnectorFactory.create(chargestation=station)
        SessionFactory.create(chargestation=station, metrics={"energyConsumed": 7400})
    while deliver_waiting():
        pass
    deliveries = Delivery.objects.filter(endpoint=endpoint)
    assert not deliveries.filter(status=DeliveryStatus.PENDING).exists()
    return Network(
        endpoint=endpoint,
        succeeded=deliveries.filter(status=DeliveryStatus.SUCCEEDED, attempt_count=1).count(),
        retried=deliveries.filter(status=DeliveryStatus.SUCCEEDED, attempt_count=2).count(),
        failed=deliveries.filter(status=DeliveryStatus.FAILED).count(),
    )


def bar_values(page: Page, chart: str, series: str) -> int:
    values = page.locator(f'figure[data-chart="{chart}"] rect[data-series="{series}"]').evaluate_all(
        "bars => bars.map(bar => Number(bar.dataset.value))"
    )
    return int(sum(values))


def test_an_endpoint_draws_its_deliveries_and_latency(
    login: Login, live_server: LiveServer, organization: Organization, network: Network, shots: Path
) -> None:
    assert network.succeeded > 0 and network.retried == 1 and network.failed == 1
    page = login(organization)
    # When the developer opens the endpoint's page
    page.goto(f"{live_server.url}/developers/webhooks/{network.endpoint.public_id}/")
    # Then its deliveries of the last 24 hours and 7 days are drawn, by outcome
    for window in ("day", "week"):
        chart = page.locator(f'figure[data-chart="{window}-deliveries"]')
        expect(chart.locator("svg")).to_be_visible()
        assert bar_values(page, f"{window}-deliveries", "succeeded") == network.succeeded
        assert bar_values(page, f"{window}-deliveries", "retried") == network.retried
        assert bar_values(page, f"{window}-deliveries", "failed") == network.failed
    total = network.succeeded + network.retried + network.failed
    svg = page.get_by_role("img", name="Deliveries, last 24 hours")
    expect(svg).to_have_accessible_description(
        f"{total} deliveries: {network.succeeded} succeeded, 1 retried, 1 failed."
    )
    # And the attempts' latency, p50 and p95, with a legend
    latency = page.locator('figure[data-chart="day-latency"]')
    expect(latency.locator('circle[data-series="p50"]')).to_have_count(1)
    expect(latency.locator('circle[data-series="p95"]')).to_have_count(1)
    expect(latency.locator(".legend")).to_contain_text("p95")
    # And the numbers, for whoever would rather read them
    chart = page.locator('figure[data-chart="day-deliveries"]')
    chart.get_by_text("Numbers").click()
    expect(chart.get_by_role("table")).to_be_visible()
    expect(chart.get_by_role("row").filter(has_text=f"{network.succeeded}")).not_to_have_count(0)
    shoot(page, shots, "endpoint-charts")


def test_the_overview_draws_the_events_by_type(
    login: Login, live_server: LiveServer, organization: Organization, network: Network, shots: Path
) -> None:
    page = login(organization)

    chart = page.locator('figure[data-chart="events-day"]')

    expect(chart.get_by_role("img", name="Events by type, last 24 hours")).to_be_visible()
    for type_name in ("location.created", "chargestation.created", "session.created"):
        count = Event.objects.filter(organization=organization, type=type_name).count()
        assert count > 0
        expect(chart.locator(f'rect[data-bucket="{type_name}"]')).to_have_attribute("data-value", str(count))
    expect(chart.locator("text").filter(has_text="location.created")).to_be_visible()
    shoot(page, shots, "overview")


def test_the_signature_samples_are_a_click_away(
    login: Login, live_server: LiveServer, organization: Organization, network: Network, shots: Path
) -> None:
    page = login(organization)
    page.goto(f"{live_server.url}/developers/webhooks/{network.endpoint.public_id}/")
    section = page.get_by_role("region", name="Verify signatures")
    expect(section.locator("#verify-python")).to_be_visible()
    expect(section.locator("#verify-node")).to_be_hidden()

    section.get_by_text("Node.js, with the").click()

    node = section.locator("#verify-node")
    expect(node).to_be_visible()
    expect(node).to_contain_text("new Webhook(SECRET)")
    expect(node).to_contain_text(f"the signing secret of {network.endpoint.public_id}")
    section.get_by_text("Python, plain HMAC").click()
    expect(section.locator("#verify-python-hmac")).to_contain_text("hmac.compare_digest")
    assert network.endpoint.secret not in page.content()
    section.scroll_into_view_if_needed()
    section.screenshot(path=str(shots / "verify-samples.png"))


def test_the_api_docs_show_each_webhooks_fields_and_example(
    live_server: LiveServer, page: Page, shots: Path
) -> None:
    page.goto(f"{live_server.url}/api/docs/")
    webhook = page.locator("#operations-webhooks-location_created")

    webhook.locator(".opblock-summary-control").click()

    # Its example body is a real one, every field of it
    example = webhook.locator(".opblock-body .highlight-code").first
    expect(example).to_contain_text('"_id": "65f1c0a1b2c3d4e5f6a7b8ff"')
    expect(example).to_contain_text('"name": "Example Plaza"')
    expect(example).to_contain_text('"type": "location.created"')
    body = json.loads(example.inner_text())
    assert set(body) == {"_id", "data", "object", "type", "createdAt"} and body["data"]["_id"]
    webhook.scroll_into_view_if_needed()
    webhook.screenshot(path=str(shots / "api-docs-webhook-example.png"))
    # And its schema lists the fields, the object's own included
    webhook.get_by_role("tab", name="Schema").click()
    model = webhook.locator(".model-box")
    titles = model.locator(
        "[data-json-schema-level='1'] > .json-schema-2020-12-head .json-schema-2020-12__title"
    )
    expect(titles).to_have_text(["_id", "data", "object", "type", "createdAt"])
    data = (
        model.locator(".json-schema-2020-12-property").filter(has=page.get_by_text("data", exact=True)).first
    )
    data.get_by_role("button", name="Expand all").first.click()
    expect(data).to_contain_text("operator_name")
    expect(data).to_contain_text("coordinates")
    webhook.screenshot(path=str(shots / "api-docs-webhook-schema.png"))
    page.screenshot(path=str(shots / "api-docs.png"), full_page=False)


def test_every_page_at_desktop_and_phone_width(
    login: Login, live_server: LiveServer, organization: Organization, network: Network, shots: Path
) -> None:
    page = login(organization)
    endpoint = network.endpoint
    delivery = Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.FAILED).get()
    url = live_server.url
    pages = {
        "overview": "/",
        "locations": "/locations/",
        "chargestations": "/chargestations/",
        "chargestation": f"/chargestations/{endpoint.organization.chargestations.first().public_id}/",  # type: ignore[union-attr]
        "sessions": "/sessions/",
        "webhooks": "/developers/webhooks/",
        "endpoint": f"/developers/webhooks/{endpoint.public_id}/",
        "endpoint-form": f"/developers/webhooks/{endpoint.public_id}/edit",
        "delivery": f"/developers/webhooks/{endpoint.public_id}/deliveries/{delivery.pk}/",
        "events": "/developers/events/",
        "event-types": "/developers/event-types/",
        "event-type": f"/developers/event-types/{LONG_TYPE}",
        "api-keys": "/developers/api-keys/",
        "members": "/members/",
        "audit-log": "/audit-log/",
        "not-found": "/no/such/page/",
    }
    for name, path in pages.items():
        response = page.goto(url + path)
        assert response is not None and response.status == (404 if name == "not-found" else 200), path
        expect(page.locator("main h1").first).to_be_visible()
        shoot(page, shots, name)
    # The event type's schema scrolls in its box, not the page
    page.goto(f"{url}/developers/event-types/{LONG_TYPE}")
    page.set_viewport_size(PHONE)
    schema = page.locator("pre.schema-json")
    assert schema.evaluate("pre => pre.scrollWidth > pre.clientWidth")
    # A long event name keeps its checkbox beside it, at a phone's width too
    page.goto(f"{url}/developers/webhooks/{endpoint.public_id}/edit")
    label = page.locator("label", has=page.locator(f'input[value="{LONG_TYPE}"]'))
    checkbox = label.locator("input").bounding_box()
    type_name = label.locator("code").bounding_box()
    assert checkbox and type_name, label
    assert abs(checkbox["y"] - type_name["y"]) < type_name["height"], (checkbox, type_name)
    page.set_viewport_size(DESKTOP)
    # The API docs, whose own layout is Swagger UI's
    page.goto(f"{url}/api/docs/")
    expect(page.locator("#operations-webhooks-location_created")).to_be_visible()
    shoot(page, shots, "api-docs", phone_fits=False)


def test_an_admin_list_fits_a_1400px_window(
    live_server: LiveServer, page: Page, network: Network, shots: Path
) -> None:
    User.objects.create_superuser("root", "root@example.com", PASSWORD)
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    for model in ("webhooks/endpoint", "webhooks/delivery", "chargestations/chargestation"):
        page.goto(f"{live_server.url}/admin/{model}/")
        results = page.locator("#changelist-form .results")
        expect(results).to_be_visible()
        # Every column within the list's width: nothing cut off behind a scrollbar
        assert results.evaluate("list => list.scrollWidth <= list.clientWidth"), model
        page.screenshot(path=str(shots / f"admin-{model.replace('/', '-')}.png"), full_page=True)
