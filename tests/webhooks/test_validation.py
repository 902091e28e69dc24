"""One bad value of an endpoint's field reads the same through each front door that offers the field:
the API, the dashboard's form and the admin's add form (webhooks.endpoints.validation owns the rules)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from organizations.models import Organization, Role
from tests.factories import MembershipFactory
from webhooks.models import Endpoint

pytestmark = pytest.mark.django_db

URL = "http://127.0.0.1:9/hooks"  # a receiver's address under the tests' settings (tests/conftest.py)
SEE_CATALOG = "The valid ones are listed at GET /api/v1/event-types."
TOO_MANY_EMAILS = [f"ops{n}@example.com" for n in range(21)]
FILTER_UNKNOWN_OPERATOR = (
    "data.n.$gtee: Unknown operator $gtee; the operators are $eq, $neq, $gt, $gte, $lt, $lte, $in, $nin, "
    "$startsWith, $endsWith, $exist, $and, $or, $not."
)

# A bad value as each front door takes it: (field, value), or None when the door has no such field.
Input = tuple[str, Any] | None


@dataclass(frozen=True)
class Case:
    id: str
    message: str
    api: Input
    dashboard: Input
    admin: Input


CASES = [
    Case(
        "url-private",
        "This URL cannot receive webhooks: private address 10.0.0.7.",
        api=("url", "https://10.0.0.7/hook"),
        dashboard=("url", "https://10.0.0.7/hook"),
        admin=("url", "https://10.0.0.7/hook"),
    ),
    Case(
        "url-malformed",
        "Enter a valid URL, e.g. https://example.com/hooks.",
        api=("url", "https://"),
        dashboard=("url", "https://"),
        admin=("url", "https://"),
    ),
    Case(
        "url-not-http",
        "This URL cannot receive webhooks: the URL must start with https://.",
        api=("url", "ftp://example.com/x"),
        dashboard=("url", "ftp://example.com/x"),
        admin=("url", "ftp://example.com/x"),
    ),
    Case(
        "url-too-long",
        "A URL may be at most 2048 characters long.",
        api=("url", "https://example.com/" + "a" * 2030),
        dashboard=("url", "https://example.com/" + "a" * 2030),
        admin=("url", "https://example.com/" + "a" * 2030),
    ),
    Case(
        "events-unknown",
        f'"nope.nothing" is not an event type. {SEE_CATALOG}',
        api=("events", ["nope.nothing"]),
        dashboard=("events", ["nope.nothing"]),
        admin=("events", '["nope.nothing"]'),
    ),
    Case(
        "events-renamed",
        f'"session.stop_duration_ceiling_exceeded" is not an event type. {SEE_CATALOG}',
        api=("events", ["session.stop_duration_ceiling_exceeded"]),
        dashboard=("events", ["session.stop_duration_ceiling_exceeded"]),
        admin=("events", '["session.stop_duration_ceiling_exceeded"]'),
    ),
    Case(
        "events-empty",
        "Choose at least one event type (see GET /api/v1/event-types).",
        api=("events", []),
        dashboard=("events", []),
        admin=("events", "[]"),
    ),
    # The secret is the API's alone: the dashboard and the admin generate it and rotate it.
    Case(
        "secret",
        "A secret must be 16 to 128 characters long.",
        api=("secret", "short"),
        dashboard=None,
        admin=None,
    ),
    Case(
        "description-too-long",
        "Ensure this field has no more than 500 characters.",
        api=("description", "x" * 501),
        dashboard=("description", "x" * 501),
        admin=("description", "x" * 501),
    ),
    Case(
        "alert-emails-invalid",
        "Enter a valid email address.",
        api=("alertEmails", ["ops@example.com", "not-an-email"]),
        dashboard=("more_alert_emails", "ops@example.com, not-an-email"),
        admin=("alert_emails", '["ops@example.com", "not-an-email"]'),
    ),
    Case(
        "alert-emails-too-many",
        "At most 20 alert emails.",
        api=("alertEmails", TOO_MANY_EMAILS),
        dashboard=("more_alert_emails", "\n".join(TOO_MANY_EMAILS)),
        admin=("alert_emails", str(TOO_MANY_EMAILS).replace("'", '"')),
    ),
    # The dashboard's form has no rate limit: it is set through the API or by an operator.
    Case(
        "rate-limit-zero",
        "Ensure this value is greater than or equal to 1.",
        api=("rateLimit", 0),
        dashboard=None,
        admin=("rate_limit", "0"),
    ),
    Case(
        "rate-limit-too-high",
        "Ensure this value is less than or equal to 1000.",
        api=("rateLimit", 1001),
        dashboard=None,
        admin=("rate_limit", "1001"),
    ),
    Case(
        "rate-limit-not-a-number",
        "A valid integer is required.",
        api=("rateLimit", "fast"),
        dashboard=None,
        admin=("rate_limit", "fast"),
    ),
    Case(
        "filter",
        FILTER_UNKNOWN_OPERATOR,
        api=("filter", {"data": {"n": {"$gtee": 1}}}),
        dashboard=("filter", '{"data": {"n": {"$gtee": 1}}}'),
        admin=("filter", '{"data": {"n": {"$gtee": 1}}}'),
    ),
    Case(
        "filter-not-an-object",
        "A filter is a JSON object, not an array.",
        api=("filter", [1, 2]),
        dashboard=("filter", "[1, 2]"),
        admin=("filter", "[1, 2]"),
    ),
    Case(
        "locations",
        'Not found: no location with _id "nope" in this organization.',
        api=("locations", ["nope"]),
        dashboard=("locations", ["nope"]),
        admin=("locations", '["nope"]'),
    ),
    Case(
        "chargestations",
        'Not found: no chargestation with _id "nope" in this organization.',
        api=("chargestations", ["nope"]),
        dashboard=("chargestations", ["nope"]),
        admin=("chargestations", '["nope"]'),
    ),
    Case(
        "headers-reserved",
        '"Content-Type" is reserved: every delivery is JSON, and says so.',
        api=("headers", {"Content-Type": "text/plain"}),
        dashboard=("headers", "Content-Type: text/plain"),
        admin=("headers", '{"Content-Type": "text/plain"}'),
    ),
    Case(
        "headers-bad-name",
        "'Bad Name' is not a valid header name: use letters, digits and !#$%&'*+-.^_`|~ only (RFC 9110).",
        api=("headers", {"Bad Name": "1"}),
        dashboard=("headers", "Bad Name: 1"),
        admin=("headers", '{"Bad Name": "1"}'),
    ),
]


def _flat(detail: Any) -> list[str]:
    """A DRF field error's messages; a list item's errors are keyed by its index."""
    if isinstance(detail, dict):
        return [message for value in detail.values() for message in _flat(value)]
    if isinstance(detail, list):
        return [message for value in detail for message in _flat(value)]
    return [str(detail)]


@pytest.fixture
def through_api(organization: Organization, api: APIClient) -> Callable[[str, Any], list[str]]:
    def submit(field: str, value: Any) -> list[str]:
        body = {"url": URL, "events": ["session.started"], field: value}
        response = api.post("/api/v1/webhooks", body, format="json")
        assert response.status_code == 400, response.content
        return _flat(response.json()[field])

    return submit


@pytest.fixture
def through_dashboard(organization: Organization) -> Callable[[str, Any], list[str]]:
    member = MembershipFactory.create(organization=organization, role=Role.ADMIN, user__password=None)
    client = Client()
    client.force_login(member.user)

    def submit(field: str, value: Any) -> list[str]:
        form = {"url": URL, "events": ["session.started"], field: value}
        response = client.post("/developers/webhooks/new", form)
        assert response.status_code == 400, response.content
        return list(response.context["form"].errors[field])

    return submit


@pytest.fixture
def through_admin(organization: Organization, admin_client: Client) -> Callable[[str, Any], list[str]]:
    def submit(field: str, value: Any) -> list[str]:
        form = {
            "organization": organization.pk,
            "url": URL,
            "events": '["session.started"]',
            "description": "",
            "active": "on",
            "alert_emails": "[]",
            "rate_limit": "",
            "filter": "",
            "locations": "[]",
            "chargestations": "[]",
            "headers": "{}",
            field: value,
        }
        response = admin_client.post(reverse("admin:webhooks_endpoint_add"), form)
        assert response.status_code == 200, response.get("Location")
        return list(response.context["adminform"].form.errors[field])

    return submit


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_bad_value_reads_the_same_through_every_front_door(
    case: Case,
    through_api: Callable[[str, Any], list[str]],
    through_dashboard: Callable[[str, Any], list[str]],
    through_admin: Callable[[str, Any], list[str]],
) -> None:
    doors = {"api": through_api, "dashboard": through_dashboard, "admin": through_admin}

    # When the bad value is submitted through each door that offers the field
    seen = {
        door: submit(*given) for door, submit in doors.items() if (given := getattr(case, door)) is not None
    }

    # Then each refuses it with the same words, and nothing is created
    assert seen == {door: [case.message] for door in seen}
    assert not Endpoint.objects.exists()
