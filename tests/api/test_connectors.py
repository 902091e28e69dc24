import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from chargestations.models import Connector
from chargestations.services import connector_create
from edrv_project.writes import model_save_unique
from organizations.models import Organization
from tests.factories import ChargestationFactory, ConnectorFactory, RateFactory

pytestmark = pytest.mark.django_db


def test_create_returns_the_connector_in_edrv_shape(api: APIClient, organization: Organization) -> None:
    station = ChargestationFactory.create(location__organization=organization)
    rate = RateFactory.create(organization=organization)

    response = api.post(
        "/api/v1/connectors",
        {
            "chargestation": station.public_id,
            "connector_number": 1,
            "type": "IEC_62196_T2_COMBO",
            "format": "CABLE",
            "power_type": "DC",
            "power": 150,
            "rate": rate.public_id,
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body == {
        "_id": body["_id"],
        "chargestation": station.public_id,
        "connector_number": 1,
        "status": "Unavailable",
        "error_code": "NoError",
        "active": True,
        "type": "IEC_62196_T2_COMBO",
        "format": "CABLE",
        "power_type": "DC",
        "power": 150.0,
        "rate": rate.public_id,
        "createdAt": body["createdAt"],
        "updatedAt": body["updatedAt"],
    }


def test_update_list_and_delete(api: APIClient, organization: Organization) -> None:
    connector = ConnectorFactory.create(
        chargestation__location__organization=organization, connector_number=1
    )
    url = f"/api/v1/connectors/{connector.public_id}"

    response = api.patch(url, {"status": "Charging", "power": "7.4", "rate": None}, format="json")

    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["power"]) == ("Charging", 7.4)
    listed = api.get(f"/api/v1/connectors?chargestation={connector.chargestation.public_id}").json()
    assert [item["_id"] for item in listed["results"]] == [connector.public_id]
    assert api.get("/api/v1/connectors?status=Available").json()["count"] == 0
    assert api.delete(url).status_code == 204
    assert not Connector.objects.filter(pk=connector.pk).exists()


def test_a_duplicate_connector_number_is_a_400_that_names_it(
    api: APIClient, organization: Organization
) -> None:
    station = ChargestationFactory.create(location__organization=organization)
    ConnectorFactory.create(chargestation=station, connector_number=1)

    response = api.post(
        "/api/v1/connectors", {"chargestation": station.public_id, "connector_number": 1}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "connector_number": [f"Chargestation {station.public_id} already has a connector number 1."]
    }


def test_renumbering_onto_a_taken_number_is_a_400(api: APIClient, organization: Organization) -> None:
    station = ChargestationFactory.create(location__organization=organization)
    ConnectorFactory.create(chargestation=station, connector_number=1)
    second = ConnectorFactory.create(chargestation=station, connector_number=2)

    response = api.patch(f"/api/v1/connectors/{second.public_id}", {"connector_number": 1}, format="json")

    assert response.status_code == 400
    assert "connector_number" in response.json()


def test_the_same_number_on_another_station_is_fine(api: APIClient, organization: Organization) -> None:
    ConnectorFactory.create(chargestation__location__organization=organization, connector_number=1)
    station = ChargestationFactory.create(location__organization=organization)

    response = api.post(
        "/api/v1/connectors", {"chargestation": station.public_id, "connector_number": 1}, format="json"
    )

    assert response.status_code == 201


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        ({"connector_number": 0}, {"connector_number": ["Ensure this value is greater than or equal to 1."]}),
        ({"connector_number": "one"}, {"connector_number": ["A valid integer is required."]}),
        (
            {"status": "Sleeping"},
            {
                "status": [
                    '"Sleeping" is not a valid choice. Valid choices: Available, Preparing, Charging, '
                    "SuspendedEVSE, SuspendedEV, Finishing, Reserved, Unavailable, Faulted."
                ]
            },
        ),
        (
            {"power_type": "AC"},
            {"power_type": ['"AC" is not a valid choice. Valid choices: AC_1_PHASE, AC_3_PHASE, DC.']},
        ),
        ({"power": -1}, {"power": ["Ensure this value is greater than or equal to 0."]}),
        ({"chargestation": None}, {"chargestation": ["This field may not be null."]}),
    ],
)
def test_bad_input_is_a_400_naming_each_field(
    api: APIClient, organization: Organization, change: dict, errors: dict
) -> None:
    station = ChargestationFactory.create(location__organization=organization)
    payload = {"chargestation": station.public_id, "connector_number": 1, **change}

    response = api.post("/api/v1/connectors", payload, format="json")

    assert response.status_code == 400
    assert response.json() == errors
    assert not Connector.objects.exists()


def test_a_station_or_rate_of_another_organization_is_not_found(
    api: APIClient, organization: Organization, other_organization: Organization
) -> None:
    mine = ChargestationFactory.create(location__organization=organization)
    foreign_station = ChargestationFactory.create(location__organization=other_organization)
    foreign_rate = RateFactory.create(organization=other_organization)

    station_response = api.post(
        "/api/v1/connectors",
        {"chargestation": foreign_station.public_id, "connector_number": 1},
        format="json",
    )
    rate_response = api.post(
        "/api/v1/connectors",
        {"chargestation": mine.public_id, "connector_number": 1, "rate": foreign_rate.public_id},
        format="json",
    )

    assert station_response.json() == {
        "chargestation": [f'Not found: no chargestation with _id "{foreign_station.public_id}".']
    }
    assert rate_response.json() == {"rate": [f'Not found: no rate with _id "{foreign_rate.public_id}".']}
    assert not Connector.objects.exists()


def test_a_duplicate_that_slips_past_the_check_is_still_a_validation_error(
    organization: Organization,
) -> None:
    # Two concurrent requests can both pass the "is the number free?" check; the database decides.
    existing = ConnectorFactory.create(chargestation__location__organization=organization, connector_number=1)
    racer = Connector(chargestation=existing.chargestation, connector_number=1)

    with pytest.raises(ValidationError) as caught:
        model_save_unique(instance=racer, field="connector_number", message="taken")

    assert caught.value.message_dict == {"connector_number": ["taken"]}
    assert Connector.objects.filter(chargestation=existing.chargestation).count() == 1


def test_the_service_refuses_to_link_a_rate_of_another_organization(
    organization: Organization, other_organization: Organization
) -> None:
    station = ChargestationFactory.create(location__organization=organization)

    with pytest.raises(ValidationError) as caught:
        connector_create(
            chargestation=station,
            connector_number=1,
            rate=RateFactory.create(organization=other_organization),
        )

    assert list(caught.value.message_dict) == ["rate"]
    assert not Connector.objects.exists()
