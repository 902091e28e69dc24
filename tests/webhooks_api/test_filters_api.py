"""`filter`, `locations`, `chargestations` and `headers` on /api/v1/webhooks: written, shown,
removed, and refused with a 400 on the field that says what is wrong."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from organizations.models import Organization
from tests.factories import ChargestationFactory, EndpointFactory, LocationFactory
from webhooks.models import Endpoint

pytestmark = pytest.mark.django_db

URL = "https://93.184.215.14/edrv"  # a public address: no DNS needed, accepted by the SSRF guard
FILTER = {"type": "session.ended", "data": {"cost": {"amount": {"$gte": 10}}}}


def create(api: APIClient, **fields: Any) -> Any:
    return api.post("/api/v1/webhooks", {"url": URL, "events": ["session.ended"], **fields}, format="json")


def patch(api: APIClient, endpoint: Endpoint, **fields: Any) -> Any:
    return api.patch(f"/api/v1/webhooks/{endpoint.public_id}", fields, format="json")


def options(body: dict[str, Any]) -> dict[str, Any]:
    return {name: body[name] for name in ("filter", "locations", "chargestations", "headers")}


@pytest.fixture
def places(organization: Organization) -> dict[str, str]:
    location = LocationFactory.create(organization=organization)
    station = ChargestationFactory.create(location=location)
    return {"location": location.public_id, "chargestation": station.public_id}


def test_create_takes_each_option_and_shows_it_back(api: APIClient, places: dict[str, str]) -> None:
    response = create(
        api,
        filter=FILTER,
        locations=[places["location"], places["location"]],
        chargestations=[places["chargestation"]],
        headers={"Authorization": "Bearer abc", "X-Tenant": "north"},
    )

    assert response.status_code == 201, response.json()
    expected = {
        "filter": FILTER,
        "locations": [places["location"]],  # repeats folded
        "chargestations": [places["chargestation"]],
        "headers": {"authorization": "Bearer abc", "x-tenant": "north"},  # names lower-cased
    }
    assert options(response.json()) == expected
    endpoint = Endpoint.objects.get(public_id=response.json()["id"])
    assert (endpoint.filter, endpoint.locations, endpoint.chargestations, endpoint.headers) == tuple(
        expected.values()
    )
    assert options(api.get(f"/api/v1/webhooks/{endpoint.public_id}").json()) == expected
    assert options(api.get("/api/v1/webhooks").json()["webhooks"][0]) == expected


def test_without_options_a_webhook_has_none(api: APIClient) -> None:
    response = create(api)

    assert options(response.json()) == {"filter": None, "locations": [], "chargestations": [], "headers": {}}


def test_patch_changes_each_option_alone(
    api: APIClient, organization: Organization, places: dict[str, str]
) -> None:
    endpoint = EndpointFactory.create(organization=organization, url=URL)

    assert patch(api, endpoint, filter=FILTER).json()["filter"] == FILTER
    assert patch(api, endpoint, locations=[places["location"]]).json()["locations"] == [places["location"]]
    assert patch(api, endpoint, chargestations=[places["chargestation"]]).json()["chargestations"] == [
        places["chargestation"]
    ]
    assert patch(api, endpoint, headers={"X-A": "1"}).json()["headers"] == {"x-a": "1"}
    endpoint.refresh_from_db()
    assert endpoint.filter == FILTER and endpoint.headers == {"x-a": "1"}
    assert endpoint.locations == [places["location"]] and endpoint.chargestations == [places["chargestation"]]


@pytest.mark.parametrize(
    "removal",
    [
        {"filter": {}, "locations": [], "chargestations": [], "headers": {}},
        {"filter": None, "locations": None, "chargestations": None, "headers": None},
    ],
)
def test_empty_or_null_removes_an_option(
    api: APIClient, organization: Organization, places: dict[str, str], removal: dict[str, Any]
) -> None:
    endpoint = EndpointFactory.create(
        organization=organization,
        url=URL,
        filter=FILTER,
        locations=[places["location"]],
        chargestations=[places["chargestation"]],
        headers={"x-a": "1"},
    )

    response = patch(api, endpoint, **removal)

    assert response.status_code == 200, response.json()
    assert options(response.json()) == {"filter": None, "locations": [], "chargestations": [], "headers": {}}
    endpoint.refresh_from_db()
    assert (endpoint.filter, endpoint.locations, endpoint.chargestations, endpoint.headers) == (
        None,
        [],
        [],
        {},
    )


BAD_OPTIONS = [
    ({"filter": []}, "filter", "A filter is a JSON object, not an array."),
    ({"filter": "type=session.ended"}, "filter", "A filter is a JSON object, not a string."),
    ({"filter": {"data": {"amount": {"$gtee": 1}}}}, "filter", "data.amount.$gtee: Unknown operator $gtee"),
    ({"filter": {"data": {"status": {"$in": "x", "$nin": 3}}}}, "filter", "data.status.$nin: $nin takes"),
    ({"filter": {"$and": {"type": "a"}}}, "filter", "$and: $and takes an array of conditions"),
    ({"filter": {"data": {"n": {"$gt": [1]}}}}, "filter", "$gt compares with a number or a string"),
    ({"locations": ["nope"]}, "locations", 'Not found: no location with _id "nope" in this organization.'),
    ({"locations": "nope"}, "locations", 'Expected a list of items but got type "str".'),
    ({"chargestations": ["a", "b"]}, "chargestations", 'no chargestation with _id "a", "b"'),
    ({"headers": {"Content-Type": "text/plain"}}, "headers", '"Content-Type" is reserved'),
    ({"headers": {"webhook-id": "x"}}, "headers", '"webhook-id" is reserved'),
    ({"headers": {"EDRV-Signature": "x"}}, "headers", '"EDRV-Signature" is reserved'),
    ({"headers": {"Host": "evil.example"}}, "headers", '"Host" is reserved'),
    ({"headers": {"Transfer-Encoding": "chunked"}}, "headers", '"Transfer-Encoding" is reserved'),
    ({"headers": {"Bad Name": "x"}}, "headers", "'Bad Name' is not a valid header name"),
    ({"headers": {"X-A": "1\r\nX-B: 2"}}, "headers", '"x-a": a header value may not contain a line break.'),
    ({"headers": {"X-A": "\u00e9"}}, "headers", "only visible ASCII characters"),
    ({"headers": {f"x-{n}": "v" for n in range(21)}}, "headers", "At most 20 headers (21 given)."),
    ({"headers": ["X-A: 1"]}, "headers", 'Expected a dictionary of items but got type "list".'),
]


@pytest.mark.parametrize("method", ["create", "patch"])
@pytest.mark.parametrize("body, field, message", BAD_OPTIONS)
def test_a_bad_option_is_refused_on_create_and_on_patch(
    api: APIClient, organization: Organization, method: str, body: dict[str, Any], field: str, message: str
) -> None:
    endpoint = EndpointFactory.create(organization=organization, url=URL)

    response = create(api, **body) if method == "create" else patch(api, endpoint, **body)

    assert response.status_code == 400
    errors = response.json()
    assert list(errors) == [field]
    assert any(message in reason for reason in errors[field]), errors
    assert Endpoint.objects.count() == 1
    endpoint.refresh_from_db()
    assert (endpoint.filter, endpoint.locations, endpoint.chargestations, endpoint.headers) == (
        None,
        [],
        [],
        {},
    )


def test_another_organizations_places_are_a_400(
    api: APIClient, other_organization: Organization, places: dict[str, str]
) -> None:
    theirs = ChargestationFactory.create(location=LocationFactory.create(organization=other_organization))

    response = create(
        api, locations=[places["location"], theirs.location.public_id], chargestations=[theirs.public_id]
    )

    assert response.status_code == 400
    assert response.json() == {
        "locations": [f'Not found: no location with _id "{theirs.location.public_id}" in this organization.'],
        "chargestations": [
            f'Not found: no chargestation with _id "{theirs.public_id}" in this organization.'
        ],
    }
    assert not Endpoint.objects.exists()
