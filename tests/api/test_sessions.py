import pytest
from rest_framework.test import APIClient

from organizations.models import Organization
from sessions_app.models import Session
from tests.factories import (
    ChargestationFactory,
    ConnectorFactory,
    DriverFactory,
    RateFactory,
    SessionFactory,
)

pytestmark = pytest.mark.django_db


def test_create_a_session(api: APIClient, organization: Organization) -> None:
    connector = ConnectorFactory.create(chargestation__location__organization=organization)
    driver = DriverFactory.create(organization=organization)
    rate = RateFactory.create(organization=organization, currency="GBP")

    response = api.post(
        "/api/v1/sessions",
        {
            "user": driver.public_id,
            "chargestation": connector.chargestation.public_id,
            "connector": connector.public_id,
            "rate": rate.public_id,
            "id_tag": "04A2B3C4",
            "meta_data": {"po": "77"},
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body == {
        "_id": body["_id"],
        "user": driver.public_id,
        "chargestation": connector.chargestation.public_id,
        "connector": connector.public_id,
        "rate": rate.public_id,
        "status": "created",
        "failure_reason": "",
        "stop_failure_reason": "",
        "transaction_id": None,
        "id_tag": "04A2B3C4",
        "metrics": {},
        "energy_report": {},
        "cost": {"amount": 0.0, "currency": "GBP"},
        "ev_charged_at": None,
        "ceilings": {},
        "energy_ceiling_exceeded_at": None,
        "time_ceiling_exceeded_at": None,
        "cost_ceiling_exceeded_at": None,
        "meta_data": {"po": "77"},
        "createdAt": body["createdAt"],
        "updatedAt": body["updatedAt"],
    }
    assert Session.objects.get(public_id=body["_id"]).organization == organization


def test_without_a_rate_the_session_uses_the_organizations_currency(
    api: APIClient, organization: Organization
) -> None:
    organization.currency = "CHF"
    organization.save()
    station = ChargestationFactory.create(location__organization=organization)

    response = api.post("/api/v1/sessions", {"chargestation": station.public_id}, format="json")

    assert response.json()["cost"] == {"amount": 0.0, "currency": "CHF"}
    assert response.json()["user"] is None


def test_what_the_charger_reports_is_read_only(api: APIClient, organization: Organization) -> None:
    session = SessionFactory.create(chargestation__location__organization=organization)

    response = api.patch(
        f"/api/v1/sessions/{session.public_id}",
        {
            "status": "ended",
            "transaction_id": 99,
            "metrics": {"energyConsumed": 5},
            "energy_report": {"power": 1},
            "cost": {"amount": 100, "currency": "EUR"},
            "failure_reason": "",
        },
        format="json",
    )

    assert response.status_code == 200
    session.refresh_from_db()
    assert (session.status, session.transaction_id, session.metrics, session.energy_report) == (
        "created",
        None,
        {},
        {},
    )
    assert session.cost_amount == 0


def test_update_and_delete(api: APIClient, organization: Organization) -> None:
    session = SessionFactory.create(chargestation__location__organization=organization)
    rate = RateFactory.create(organization=organization, currency="USD")
    url = f"/api/v1/sessions/{session.public_id}"

    response = api.patch(
        url, {"rate": rate.public_id, "ev_charged_at": "2024-05-01T10:00:00.5+02:00"}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["ev_charged_at"] == "2024-05-01T08:00:00.500Z"
    assert response.json()["cost"]["currency"] == "USD"
    assert api.delete(url).status_code == 204
    assert not Session.objects.filter(pk=session.pk).exists()


def test_a_connector_of_another_station_is_a_400(api: APIClient, organization: Organization) -> None:
    station = ChargestationFactory.create(location__organization=organization)
    elsewhere = ConnectorFactory.create(chargestation__location__organization=organization)

    response = api.post(
        "/api/v1/sessions",
        {"chargestation": station.public_id, "connector": elsewhere.public_id},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "connector": [
            f"Connector {elsewhere.public_id} does not belong to chargestation {station.public_id}."
        ]
    }


def test_moving_a_session_away_from_its_connectors_station_is_a_400(
    api: APIClient, organization: Organization
) -> None:
    connector = ConnectorFactory.create(chargestation__location__organization=organization)
    session = SessionFactory.create(chargestation=connector.chargestation, connector=connector)
    other_station = ChargestationFactory.create(location__organization=organization)

    response = api.patch(
        f"/api/v1/sessions/{session.public_id}", {"chargestation": other_station.public_id}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()) == ["connector"]


def test_references_of_another_organization_are_not_found(
    api: APIClient, organization: Organization, other_organization: Organization
) -> None:
    station = ChargestationFactory.create(location__organization=organization)
    foreign_driver = DriverFactory.create(organization=other_organization)
    foreign_connector = ConnectorFactory.create(chargestation__location__organization=other_organization)

    response = api.post(
        "/api/v1/sessions",
        {
            "chargestation": station.public_id,
            "user": foreign_driver.public_id,
            "connector": foreign_connector.public_id,
        },
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "user": [f'Not found: no user with _id "{foreign_driver.public_id}".'],
        "connector": [f'Not found: no connector with _id "{foreign_connector.public_id}".'],
    }


def test_list_filters(api: APIClient, organization: Organization) -> None:
    started = SessionFactory.create(chargestation__location__organization=organization, status="started")
    SessionFactory.create(chargestation__location__organization=organization, status="ended")

    by_status = api.get("/api/v1/sessions?status=started").json()
    by_station = api.get(f"/api/v1/sessions?chargestation={started.chargestation.public_id}").json()
    assert started.driver is not None
    by_user = api.get(f"/api/v1/sessions?user={started.driver.public_id}").json()

    assert [s["_id"] for s in by_status["results"]] == [started.public_id]
    assert [s["_id"] for s in by_station["results"]] == [started.public_id]
    assert [s["_id"] for s in by_user["results"]] == [started.public_id]


def test_an_unknown_status_filter_is_a_400(api: APIClient) -> None:
    response = api.get("/api/v1/sessions?status=paused")

    assert response.status_code == 400
    assert list(response.json()) == ["status"]


def test_an_id_tag_longer_than_ocpp_16_allows_is_a_400_for_a_16_station_only(
    api: APIClient, organization: Organization
) -> None:
    # Given a 1.6J station and a 2.0.1 station, and a 30-character token (a 2.0.1 idToken)
    station_16 = ChargestationFactory.create(location__organization=organization, protocol="ocpp1.6")
    station_201 = ChargestationFactory.create(location__organization=organization, protocol="ocpp2.0.1")
    token = "E" * 30

    # When a session is started with it on each
    refused = api.post(
        "/api/v1/sessions", {"chargestation": station_16.public_id, "id_tag": token}, format="json"
    )
    accepted = api.post(
        "/api/v1/sessions", {"chargestation": station_201.public_id, "id_tag": token}, format="json"
    )

    # Then the 1.6J station's is a 400 naming the field, and the 2.0.1 station's keeps the whole token
    assert refused.status_code == 400
    assert refused.json() == {"id_tag": ["An OCPP 1.6J chargestation takes idTags of at most 20 characters."]}
    assert accepted.status_code == 201, accepted.json()
    assert accepted.json()["id_tag"] == token
