import pytest
from rest_framework.test import APIClient

from chargestations.models import Chargestation
from organizations.models import Organization
from tests.factories import (
    ChargestationFactory,
    ConnectorFactory,
    LocationFactory,
    RateFactory,
    SessionFactory,
)

pytestmark = pytest.mark.django_db


def test_create_needs_a_location_and_an_endpoint(api: APIClient) -> None:
    response = api.post("/api/v1/chargestations", {}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "location": ["This field is required."],
        "endpoint": ["This field is required."],
    }


def test_create_returns_the_station_in_edrv_shape(api: APIClient, organization: Organization) -> None:
    location = LocationFactory.create(organization=organization)

    response = api.post(
        "/api/v1/chargestations",
        {"location": location.public_id, "endpoint": "CP-NEW-1", "name": "Gate", "meta_data": {"bay": 3}},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["location"] == location.public_id
    assert body["endpoint"] == "CP-NEW-1"
    assert body["protocol"] == "ocpp1.6"
    assert body["online"] is False
    assert body["connectors"] == []
    assert body["last_connect_at"] is None
    assert body["meta_data"] == {"bay": 3}
    assert Chargestation.objects.get(public_id=body["_id"]).organization == organization


def test_the_charger_reported_fields_are_read_only(api: APIClient, organization: Organization) -> None:
    station = ChargestationFactory.create(location__organization=organization, online=False, vendor="ACME")

    response = api.patch(
        f"/api/v1/chargestations/{station.public_id}",
        {
            "online": True,
            "vendor": "Evil",
            "firmware_version": "9",
            "last_connect_at": "2024-01-01T00:00:00Z",
        },
        format="json",
    )

    assert response.status_code == 200
    station.refresh_from_db()
    assert (station.online, station.vendor, station.firmware_version, station.last_connect_at) == (
        False,
        "ACME",
        "",
        None,
    )


def test_retrieve_shows_the_connectors(api: APIClient, organization: Organization) -> None:
    station = ChargestationFactory.create(location__organization=organization)
    rate = RateFactory.create(organization=organization)
    second = ConnectorFactory.create(chargestation=station, connector_number=2, rate=rate)
    first = ConnectorFactory.create(chargestation=station, connector_number=1)

    body = api.get(f"/api/v1/chargestations/{station.public_id}").json()

    assert [c["_id"] for c in body["connectors"]] == [first.public_id, second.public_id]
    assert body["connectors"][1]["rate"] == rate.public_id
    assert body["connectors"][1]["chargestation"] == station.public_id


def test_update_and_delete(api: APIClient, organization: Organization) -> None:
    station = ChargestationFactory.create(location__organization=organization)
    new_location = LocationFactory.create(organization=organization)
    url = f"/api/v1/chargestations/{station.public_id}"

    response = api.patch(url, {"location": new_location.public_id, "open_for_business": False}, format="json")

    assert response.status_code == 200, response.json()
    station.refresh_from_db()
    assert (station.location, station.open_for_business) == (new_location, False)
    assert api.delete(url).status_code == 204
    assert not Chargestation.objects.filter(pk=station.pk).exists()


def test_an_endpoint_in_use_is_a_400_even_in_another_organization(
    api: APIClient, organization: Organization, other_organization: Organization
) -> None:
    ChargestationFactory.create(location__organization=other_organization, endpoint="CP-TAKEN")
    location = LocationFactory.create(organization=organization)

    response = api.post(
        "/api/v1/chargestations", {"location": location.public_id, "endpoint": "CP-TAKEN"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"endpoint": ['The endpoint "CP-TAKEN" is already in use.']}


def test_renaming_the_endpoint_to_one_in_use_is_a_400(api: APIClient, organization: Organization) -> None:
    ChargestationFactory.create(location__organization=organization, endpoint="CP-A")
    station = ChargestationFactory.create(location__organization=organization, endpoint="CP-B")

    response = api.patch(f"/api/v1/chargestations/{station.public_id}", {"endpoint": "CP-A"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"endpoint": ['The endpoint "CP-A" is already in use.']}


def test_keeping_its_own_endpoint_is_fine(api: APIClient, organization: Organization) -> None:
    station = ChargestationFactory.create(location__organization=organization, endpoint="CP-SELF")

    response = api.put(
        f"/api/v1/chargestations/{station.public_id}",
        {"location": station.location.public_id, "endpoint": "CP-SELF", "name": "Renamed"},
        format="json",
    )

    assert response.status_code == 200, response.json()


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        (
            {"protocol": "ocpp9"},
            {"protocol": ['"ocpp9" is not a valid choice. Valid choices: ocpp1.6, ocpp2.0.1.']},
        ),
        (
            {"endpoint": "has/slash"},
            {
                "endpoint": [
                    "Use letters, digits and . _ - : * + | @ only "
                    "(it is the last segment of the charger's URL)."
                ]
            },
        ),
        (
            {"heartbeat_interval": -1},
            {"heartbeat_interval": ["Ensure this value is greater than or equal to 10."]},
        ),
        (
            {"location": "000000000000000000000000"},
            {"location": ['Not found: no location with _id "000000000000000000000000".']},
        ),
        ({"location": 5}, {"location": ["Invalid value: expected an _id string."]}),
    ],
)
def test_bad_input_is_a_400_naming_each_field(
    api: APIClient, organization: Organization, change: dict, errors: dict
) -> None:
    location = LocationFactory.create(organization=organization)
    payload = {"location": location.public_id, "endpoint": "CP-1", **change}

    response = api.post("/api/v1/chargestations", payload, format="json")

    assert response.status_code == 400
    assert response.json() == errors


def test_a_location_of_another_organization_is_not_found(
    api: APIClient, other_organization: Organization
) -> None:
    foreign = LocationFactory.create(organization=other_organization)

    response = api.post(
        "/api/v1/chargestations", {"location": foreign.public_id, "endpoint": "CP-1"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"location": [f'Not found: no location with _id "{foreign.public_id}".']}
    assert not Chargestation.objects.filter(endpoint="CP-1").exists()


def test_deleting_a_station_with_sessions_is_a_409(api: APIClient, organization: Organization) -> None:
    session = SessionFactory.create(chargestation__location__organization=organization)

    response = api.delete(f"/api/v1/chargestations/{session.chargestation.public_id}")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "Cannot delete it: still in use by 1 session. Delete or move those first."
    }


def test_filters(api: APIClient, organization: Organization) -> None:
    here = LocationFactory.create(organization=organization)
    online = ChargestationFactory.create(location=here, online=True)
    ChargestationFactory.create(location=here, online=False)
    elsewhere = ChargestationFactory.create(location__organization=organization, online=True)

    def ids(query: str) -> set[str]:
        return {item["_id"] for item in api.get(f"/api/v1/chargestations?{query}").json()["results"]}

    assert ids("online=true") == {online.public_id, elsewhere.public_id}
    assert ids(f"location={here.public_id}&online=true") == {online.public_id}
    assert ids(f"endpoint={elsewhere.endpoint}") == {elsewhere.public_id}
