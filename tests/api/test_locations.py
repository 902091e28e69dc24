import pytest
from rest_framework.test import APIClient

from chargestations.models import Location
from organizations.models import Organization
from tests.factories import ChargestationFactory, LocationFactory

pytestmark = pytest.mark.django_db


def test_create_with_only_a_name_fills_in_the_defaults(api: APIClient, organization: Organization) -> None:
    response = api.post("/api/v1/locations", {"name": "Depot"}, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "Depot"
    assert body["active"] is True
    assert body["coordinates"] == {"latitude": None, "longitude": None}
    assert body["timezone"] == "UTC"
    assert body["meta_data"] == {}
    location = Location.objects.get(public_id=body["_id"])
    assert location.organization == organization


def test_create_with_every_field_returns_them_in_edrv_shape(api: APIClient) -> None:
    payload = {
        "name": "Harbour",
        "active": False,
        "operator_name": "Harbour Energy",
        "address": {"streetAndNumber": "Kade 1", "city": "Rotterdam", "postalCode": "3011", "country": "NL"},
        "coordinates": {"latitude": 51.9225, "longitude": 4.47917},
        "timezone": "Europe/Amsterdam",
        "opening_hours": {"twentyfourseven": True},
        "meta_data": {"site": 7},
    }

    response = api.post("/api/v1/locations", payload, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert {key: body[key] for key in payload} == payload
    assert set(body) == {*payload, "_id", "createdAt", "updatedAt"}


def test_retrieve_list_update_and_delete(api: APIClient, organization: Organization) -> None:
    location = LocationFactory.create(organization=organization, name="Old")
    url = f"/api/v1/locations/{location.public_id}"

    assert api.get(url).json()["name"] == "Old"
    assert [item["_id"] for item in api.get("/api/v1/locations").json()["results"]] == [location.public_id]

    patched = api.patch(
        url, {"name": "New", "coordinates": {"latitude": 1.5, "longitude": -2}}, format="json"
    )
    assert patched.status_code == 200, patched.json()
    assert patched.json()["coordinates"] == {"latitude": 1.5, "longitude": -2.0}

    put = api.put(url, {"name": "Renamed", "active": False}, format="json")
    assert put.status_code == 200, put.json()
    location.refresh_from_db()
    assert (location.name, location.active) == ("Renamed", False)

    assert api.delete(url).status_code == 204
    assert not Location.objects.filter(pk=location.pk).exists()


def test_an_unchanged_patch_does_not_touch_the_object(api: APIClient, organization: Organization) -> None:
    location = LocationFactory.create(organization=organization, name="Same")

    response = api.patch(f"/api/v1/locations/{location.public_id}", {"name": "Same"}, format="json")

    assert response.status_code == 200
    location_after = Location.objects.get(pk=location.pk)
    assert location_after.updated_at == location.updated_at


def test_coordinates_can_be_cleared(api: APIClient, organization: Organization) -> None:
    location = LocationFactory.create(organization=organization, latitude=52, longitude=4)

    response = api.patch(
        f"/api/v1/locations/{location.public_id}",
        {"coordinates": {"latitude": None, "longitude": None}},
        format="json",
    )

    assert response.json()["coordinates"] == {"latitude": None, "longitude": None}


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        ({}, {"name": ["This field is required."]}),
        (
            {"name": "X", "coordinates": {"latitude": 91, "longitude": 0}},
            {"coordinates": {"latitude": ["Ensure this value is less than or equal to 90."]}},
        ),
        (
            {"name": "X", "coordinates": {"latitude": 0, "longitude": "east"}},
            {"coordinates": {"longitude": ["A valid number is required."]}},
        ),
        (
            {"name": "X", "coordinates": {"latitude": 52}},
            {"coordinates": {"longitude": ["This field is required."]}},
        ),
        (
            {"name": "X", "coordinates": {"latitude": 52, "longitude": None}},
            {"coordinates": {"non_field_errors": ["Latitude and longitude are both numbers or both null."]}},
        ),
        (
            {"name": "X", "timezone": "Mars/Olympus"},
            {"timezone": ['"Mars/Olympus" is not an IANA time zone name (e.g. "Europe/Berlin").']},
        ),
        (
            {"name": "X", "address": {"country": "Netherlands"}},
            {"address": {"country": ["Use an ISO 3166-1 alpha-2 code in capitals (e.g. NL)."]}},
        ),
        (
            {"name": "X", "meta_data": ["a", "list"]},
            {"meta_data": ['Expected a dictionary of items but got type "list".']},
        ),
        ({"name": ""}, {"name": ["This field may not be blank."]}),
    ],
)
def test_bad_input_is_a_400_naming_each_field(api: APIClient, payload: dict, errors: dict) -> None:
    response = api.post("/api/v1/locations", payload, format="json")

    assert response.status_code == 400
    assert response.json() == errors
    assert not Location.objects.exists()


def test_a_patch_of_half_the_coordinates_is_a_400(api: APIClient, organization: Organization) -> None:
    location = LocationFactory.create(organization=organization, latitude=52, longitude=4)

    response = api.patch(
        f"/api/v1/locations/{location.public_id}", {"coordinates": {"latitude": 1}}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "coordinates": {"non_field_errors": ["Give both latitude and longitude (null for both to clear)."]}
    }


def test_deleting_a_location_with_chargestations_is_a_409_that_says_why(
    api: APIClient, organization: Organization
) -> None:
    location = LocationFactory.create(organization=organization)
    ChargestationFactory.create_batch(2, location=location)

    response = api.delete(f"/api/v1/locations/{location.public_id}")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "Cannot delete it: still in use by 2 chargestations. Delete or move those first."
    }
    assert Location.objects.filter(pk=location.pk).exists()


def test_malformed_json_is_a_400(api: APIClient) -> None:
    response = api.generic("POST", "/api/v1/locations", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_a_json_list_instead_of_an_object_is_a_400(api: APIClient) -> None:
    response = api.post("/api/v1/locations", [{"name": "X"}], format="json")

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}


def test_the_trailing_slash_is_optional(api: APIClient, organization: Organization) -> None:
    location = LocationFactory.create(organization=organization)

    assert api.get("/api/v1/locations/").status_code == 200
    assert api.get(f"/api/v1/locations/{location.public_id}/").status_code == 200
