"""The admin edits an endpoint's filter, scopes and headers with the API's validators."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from organizations.models import Organization
from tests.factories import ChargestationFactory, EndpointFactory, LocationFactory, OrganizationFactory
from webhooks.models import Endpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(organization: Organization) -> Endpoint:
    return EndpointFactory.create(organization=organization, events=["location.created"])


def change(admin_client: Client, endpoint: Endpoint, **fields: str) -> Any:
    form = {
        "organization": endpoint.organization_id,
        "url": endpoint.url,
        "events": '["location.created"]',
        "alert_emails": "[]",
        "active": "on",
        "filter": "",
        "locations": "[]",
        "chargestations": "[]",
        "headers": "{}",
        **fields,
    }
    return admin_client.post(reverse("admin:webhooks_endpoint_change", args=[endpoint.pk]), form)


def test_the_options_are_edited_and_stored_as_the_api_stores_them(
    admin_client: Client, endpoint: Endpoint, organization: Organization
) -> None:
    station = ChargestationFactory.create(location=LocationFactory.create(organization=organization))

    response = change(
        admin_client,
        endpoint,
        filter='{"data": {"name": {"$startsWith": "N"}}}',
        locations=f'["{station.location.public_id}"]',
        chargestations=f'["{station.public_id}", "{station.public_id}"]',
        headers='{"X-Tenant": "north"}',
    )

    assert response.status_code == 302, response.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.filter == {"data": {"name": {"$startsWith": "N"}}}
    assert endpoint.locations == [station.location.public_id]
    assert endpoint.chargestations == [station.public_id]
    assert endpoint.headers == {"x-tenant": "north"}
    # And emptied, they are removed
    assert change(admin_client, endpoint, filter="{}", locations="", headers="").status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.filter, endpoint.locations, endpoint.chargestations, endpoint.headers) == (
        None,
        [],
        [],
        {},
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"filter": '{"data": {"n": {"$gtee": 1}}}'}, "data.n.$gtee: Unknown operator $gtee"),
        ({"filter": "[]"}, "A filter is a JSON object, not an array."),
        ({"headers": '{"Host": "x"}'}, "&quot;Host&quot; is reserved"),
        ({"locations": '["nope"]'}, "Not found: no location with _id &quot;nope&quot; in this organization."),
        ({"locations": '"nope"'}, "Expected a list of items but got type &quot;str&quot;."),
    ],
)
def test_bad_options_are_refused_saying_why(
    admin_client: Client, endpoint: Endpoint, fields: dict[str, str], message: str
) -> None:
    response = change(admin_client, endpoint, **fields)

    assert response.status_code == 200
    assert message in response.content.decode()
    endpoint.refresh_from_db()
    assert (endpoint.filter, endpoint.locations, endpoint.headers) == (None, [], {})


def test_another_organizations_station_is_refused(admin_client: Client, endpoint: Endpoint) -> None:
    theirs = ChargestationFactory.create(
        location=LocationFactory.create(organization=OrganizationFactory.create())
    )

    response = change(admin_client, endpoint, chargestations=f'["{theirs.public_id}"]')

    assert response.status_code == 200
    assert (
        f"no chargestation with _id &quot;{theirs.public_id}&quot; in this organization"
        in response.content.decode()
    )
    endpoint.refresh_from_db()
    assert endpoint.chargestations == []
