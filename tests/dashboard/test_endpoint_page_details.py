"""The endpoint page's smaller things: a failing endpoint says Failing (not Active), the test-event
picker keeps the type last sent, and the form sets the rate limit as the API's `rateLimit` does."""

import re
from datetime import UTC, datetime

import pytest
from django.test import Client
from rest_framework.test import APIClient

from organizations.models import Organization
from tests.factories import EndpointFactory
from webhooks.endpoints import validation
from webhooks.models import Endpoint

pytestmark = pytest.mark.django_db

FORM = {
    "url": "http://127.0.0.1:9/hooks",
    "description": "",
    "alert_email": "ops@operator.example",
    "more_alert_emails": "",
    "events": ["location.created"],
    "filter": "",
    "headers": "",
}


def page_of(endpoint: Endpoint, action: str = "") -> str:
    return f"/developers/webhooks/{endpoint.public_id}/{action}"


def badges(html: str) -> list[str]:
    return re.findall(r'<span class="badge [a-z]+"[^>]*>([^<]+)</span>', html)


def test_a_failing_endpoint_says_failing_on_its_page_and_in_the_list(
    admin: Client, organization: Organization
) -> None:
    # Given an active endpoint whose deliveries have failed since a moment, and a healthy one
    failing = EndpointFactory.create(
        organization=organization,
        failing_since=datetime(2026, 2, 6, 14, 30, tzinfo=UTC),
        consecutive_failures=3,
    )
    healthy = EndpointFactory.create(organization=organization)
    # When their pages and the list are opened
    page = admin.get(page_of(failing)).content.decode()
    listing = admin.get("/developers/webhooks/").content.decode()
    # Then the failing one's state is Failing beside its "Failing since" banner, never Active
    head = page.split('<div class="page-head">')[1].split("</div>")[0]
    assert badges(head) == ["Failing"] and "Failing since" in page
    assert "since 2026-02-06 14:30 UTC" in head  # its badge's title says since when
    row = listing.split(failing.url)[1].split("</tr>")[0]
    assert badges(row) == ["Failing"]
    assert badges(listing.split(healthy.url)[1].split("</tr>")[0]) == ["Active"]
    # And it may still be acted on, as an active endpoint
    assert "Disabled for failures" not in page and "Send test event" in page


def test_the_test_event_picker_keeps_the_type_last_sent(admin: Client, organization: Organization) -> None:
    endpoint = EndpointFactory.create(organization=organization, events=["location.created", "rate.updated"])
    selected = r'<option value="([^"]+)" selected>'
    assert re.findall(selected, admin.get(page_of(endpoint)).content.decode()) == ["location.created"]

    response = admin.post(page_of(endpoint, "send-test"), {"type": "session.ended"}, follow=True)

    html = response.content.decode()
    assert "Test session.ended event queued" in html
    picker = html.split('name="type"')[1].split("</select>")[0]
    assert re.findall(selected, picker) == ["session.ended"]


def test_the_form_sets_and_clears_the_rate_limit(admin: Client, organization: Organization) -> None:
    # When an endpoint is added with a rate limit
    response = admin.post("/developers/webhooks/new", {**FORM, "rate_limit": "25"})
    # Then it is kept, shown in the edit form, and emptied again
    endpoint = Endpoint.objects.get(organization=organization)
    assert response.status_code == 302 and endpoint.rate_limit == 25
    edit = admin.get(page_of(endpoint, "edit")).content.decode()
    assert re.search(r'<input type="number" name="rate_limit" value="25"[^>]*min="1"[^>]*max="1000"', edit)
    admin.post(page_of(endpoint, "edit"), {**FORM, "rate_limit": ""})
    endpoint.refresh_from_db()
    assert endpoint.rate_limit is None


@pytest.mark.parametrize(
    ("value", "api_value", "message"),
    [
        ("0", 0, validation.RATE_LIMIT_TOO_LOW),
        ("1001", 1001, validation.RATE_LIMIT_TOO_HIGH),
        ("fast", "fast", validation.RATE_LIMIT_NOT_INTEGER),
    ],
)
def test_a_bad_rate_limit_is_refused_in_the_apis_words(
    admin: Client, api: APIClient, organization: Organization, value: str, api_value: object, message: str
) -> None:
    response = admin.post("/developers/webhooks/new", {**FORM, "rate_limit": value})

    assert response.status_code == 400
    errors = response.content.decode().split('name="rate_limit"')[0].rsplit('<div class="field', 1)[1]
    assert message in errors
    assert not Endpoint.objects.exists()
    # The API says the same of the same value
    answer = api.post(
        "/api/v1/webhooks",
        {"url": FORM["url"], "events": FORM["events"], "rateLimit": api_value},
        format="json",
    )
    assert answer.json()["rateLimit"] == [message]
