"""The dashboard's content filter, network scopes and custom headers, and the "failing since" line."""

import html as html_module
import re
from datetime import UTC, datetime

import pytest
from django.test import Client

from organizations.models import Organization, Role
from tests.dashboard.conftest import LoginAs
from tests.factories import ChargestationFactory, EndpointFactory, LocationFactory
from webhooks.models import Endpoint

pytestmark = pytest.mark.django_db

NEW = "/developers/webhooks/new"
VALID = {"url": "http://127.0.0.1:9/hooks", "events": ["session.ended", "location.updated"]}
FILTER = '{"type": "session.ended", "data": {"cost": {"amount": {"$gte": 10}}}}'


def page_of(endpoint: Endpoint, action: str = "") -> str:
    return f"/developers/webhooks/{endpoint.public_id}/{action}"


def text(response: object) -> str:
    """The page's text without tags and with single spaces: what a reader sees."""
    content = response.content.decode()  # type: ignore[attr-defined]
    return html_module.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", content)))


def option_values(html: str, name: str) -> list[str]:
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert select, f"no select {name}"
    return re.findall(r'<option value="([^"]+)"', select.group(1))


def selected_values(html: str, name: str) -> list[str]:
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert select, f"no select {name}"
    return re.findall(r'<option value="([^"]+)"[^>]*selected', select.group(1))


@pytest.fixture
def north(organization: Organization) -> dict[str, str]:
    location = LocationFactory.create(organization=organization, name="North Plaza")
    station = ChargestationFactory.create(location=location, name="North 1", endpoint="NORTH-1")
    return {"location": location.public_id, "chargestation": station.public_id}


def test_the_form_offers_filter_headers_and_only_the_organizations_own_places(
    admin: Client, north: dict[str, str], other_organization: Organization
) -> None:
    # Given a place of another organization
    theirs = ChargestationFactory.create(location=LocationFactory.create(organization=other_organization))
    # When the new form is opened
    response = admin.get(NEW)
    html = response.content.decode()
    # Then it has the filter and headers text areas, with an example, and the places to choose from
    assert '<textarea name="filter"' in html and '<textarea name="headers"' in html
    assert "$gte" in text(response) and "Authorization: Bearer" in text(response)
    assert option_values(html, "locations") == [north["location"]]
    assert option_values(html, "chargestations") == [north["chargestation"]]
    assert "North 1 (NORTH-1), North Plaza" in text(response)
    assert theirs.public_id not in html and theirs.location.public_id not in html


def test_adding_an_endpoint_with_filter_scopes_and_headers(
    admin: Client, organization: Organization, north: dict[str, str]
) -> None:
    response = admin.post(
        NEW,
        {
            **VALID,
            "filter": FILTER,
            "locations": [north["location"]],
            "chargestations": [north["chargestation"]],
            "headers": "Authorization: Bearer abc\n\nX-Tenant: north",
        },
    )

    assert response.status_code == 302, text(response)
    endpoint = Endpoint.objects.get(organization=organization)
    assert endpoint.filter == {"type": "session.ended", "data": {"cost": {"amount": {"$gte": 10}}}}
    assert endpoint.locations == [north["location"]]
    assert endpoint.chargestations == [north["chargestation"]]
    assert endpoint.headers == {"authorization": "Bearer abc", "x-tenant": "north"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"filter": '{"type": '}, "Not valid JSON: Expecting value (line 1, column 10)."),
        ({"filter": "[1, 2]"}, "A filter is a JSON object, not an array."),
        ({"filter": '{"data": {"n": {"$gtee": 1}}}'}, "data.n.$gtee: Unknown operator $gtee"),
        ({"filter": '{"data": {"n": {"$in": 5}}}'}, "data.n.$in: $in takes an array of values (or a string)"),
        ({"headers": "Content-Type: text/plain"}, '"Content-Type" is reserved'),
        ({"headers": "X-A 1"}, 'Line 1 has no colon: write each header as "Name: value".'),
        ({"headers": "Bad Name: 1"}, "'Bad Name' is not a valid header name"),
        ({"headers": "\n".join(f"X-{n}: v" for n in range(21))}, "At most 20 headers (21 given)."),
        (
            {"locations": ["not-a-place"]},
            'Not found: no location with _id "not-a-place" in this organization.',
        ),
    ],
)
def test_bad_options_are_shown_inline(admin: Client, changes: dict[str, object], message: str) -> None:
    response = admin.post(NEW, {**VALID, **changes})

    assert response.status_code == 400
    assert not Endpoint.objects.exists()
    assert message in text(response)
    assert 'aria-invalid="true"' in response.content.decode()


def test_another_organizations_place_is_not_a_valid_choice(
    admin: Client, other_organization: Organization
) -> None:
    theirs = ChargestationFactory.create(location=LocationFactory.create(organization=other_organization))

    response = admin.post(NEW, {**VALID, "chargestations": [theirs.public_id]})

    assert response.status_code == 400
    assert f'no chargestation with _id "{theirs.public_id}" in this organization' in text(response)
    assert not Endpoint.objects.exists()


def test_editing_shows_the_options_and_clearing_them_removes_them(
    admin: Client, organization: Organization, north: dict[str, str]
) -> None:
    # Given an endpoint with every option
    endpoint = EndpointFactory.create(
        organization=organization,
        events=["location.updated"],
        filter={"data": {"name": {"$startsWith": "North"}}},
        locations=[north["location"]],
        chargestations=[north["chargestation"]],
        headers={"authorization": "Bearer abc", "x-tenant": "north"},
    )
    # When its form is opened, it shows them as stored
    html = html_module.unescape(admin.get(page_of(endpoint, "edit")).content.decode())
    assert '"$startsWith": "North"' in html
    assert "authorization: Bearer abc\nx-tenant: north</textarea>" in html
    assert selected_values(html, "locations") == [north["location"]]
    assert selected_values(html, "chargestations") == [north["chargestation"]]
    # And when it is saved with them emptied, they are gone
    response = admin.post(page_of(endpoint, "edit"), {**VALID, "filter": "  ", "headers": ""})
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.filter, endpoint.locations, endpoint.chargestations, endpoint.headers) == (
        None,
        [],
        [],
        {},
    )


def test_the_endpoint_page_shows_filter_scopes_and_headers(
    login_as: LoginAs, organization: Organization, north: dict[str, str]
) -> None:
    endpoint = EndpointFactory.create(
        organization=organization,
        filter={"data": {"name": {"$startsWith": "North"}}},
        locations=[north["location"]],
        chargestations=[north["chargestation"]],
        headers={"authorization": "Bearer abc"},
    )

    page = text(login_as(Role.ADMIN).get(page_of(endpoint)))

    assert 'Content filter { "data": { "name": { "$startsWith": "North" } } }' in page
    assert f"Location North Plaza {north['location']}" in page
    assert f"Chargestation North 1 (NORTH-1) {north['chargestation']}" in page
    assert "Custom headers authorization: Bearer abc" in page
    # A read-only member sees which headers are sent, not their values (they often hold credentials)
    page = text(login_as(Role.VIEWER).get(page_of(endpoint)))
    assert "authorization: (hidden)" in page and "Bearer abc" not in page


def test_an_endpoint_without_options_says_so(admin: Client, organization: Organization) -> None:
    page = text(admin.get(page_of(EndpointFactory.create(organization=organization))))

    assert "Content filter None: every event of its types" in page
    assert "Network scope Every location and chargestation" in page
    assert "Custom headers None" in page
    assert "Failing since" not in page


def test_a_failing_endpoint_says_since_when_and_how_many_attempts(
    admin: Client, organization: Organization
) -> None:
    endpoint = EndpointFactory.create(
        organization=organization,
        failing_since=datetime(2026, 2, 6, 14, 30, tzinfo=UTC),
        consecutive_failures=7,
    )

    response = admin.get(page_of(endpoint))

    assert "Failing since 2026-02-06 14:30 UTC (7 failed attempts)" in text(response)
    assert 'datetime="2026-02-06T14:30:00+00:00"' in response.content.decode()
