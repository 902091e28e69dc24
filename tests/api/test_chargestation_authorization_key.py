"""`POST /api/v1/chargestations/:id/authorization-key`: the key a charger connects with, shown once,
stored hashed, in no event, audit entry or later answer; and the heartbeat floor."""

import hashlib
import json
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from rest_framework.test import APIClient

from chargestations.authorization_keys import authorization_key_matches
from chargestations.models import Chargestation
from organizations.models import AuditEntry, Organization, Scope
from organizations.services import api_key_create
from tests.factories import ChargestationFactory, EndpointFactory, LocationFactory
from webhooks.models import Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def station(organization: Organization) -> Chargestation:
    return ChargestationFactory.create(location__organization=organization, endpoint="CP-KEYED")


def generate(api: APIClient, station: Chargestation) -> str:
    response = api.post(f"/api/v1/chargestations/{station.public_id}/authorization-key")
    assert response.status_code == 201, response.content
    key: str = response.json()["authorizationKey"]
    return key


def test_generating_answers_the_key_once_and_keeps_only_its_hash(
    api: APIClient, station: Chargestation
) -> None:
    # Given a station without a key
    assert not station.has_authorization_key

    # When its key is generated
    response = api.post(f"/api/v1/chargestations/{station.public_id}/authorization-key")

    # Then the answer is the key alone: long, random, printable, never cached
    assert response.status_code == 201
    assert set(response.json()) == {"authorizationKey"}
    key = response.json()["authorizationKey"]
    assert len(key) >= 16 and key.isascii() and key.isalnum()
    assert response["Cache-Control"] == "no-store"
    # And the station keeps its SHA-256 and when it was set, not the key
    station.refresh_from_db()
    assert station.authorization_key_hash == hashlib.sha256(key.encode()).hexdigest() != key
    assert station.authorization_key_set_at is not None
    # And its representation says a key is set, and shows neither the key nor its hash
    shown = api.get(f"/api/v1/chargestations/{station.public_id}")
    assert shown.json()["has_authorization_key"] is True
    assert shown.json()["authorization_key_set_at"] is not None
    listed = api.get("/api/v1/chargestations")
    for later in (shown, listed):
        assert key not in later.content.decode()
        assert station.authorization_key_hash not in later.content.decode()


def test_two_keys_are_different_and_the_new_one_replaces_the_old(
    api: APIClient, station: Chargestation
) -> None:
    first = generate(api, station)
    second = generate(api, station)

    station.refresh_from_db()
    assert first != second
    assert authorization_key_matches(key=second, key_hash=station.authorization_key_hash)
    assert not authorization_key_matches(key=first, key_hash=station.authorization_key_hash)


def test_generating_raises_no_event_and_audits_without_the_key(
    api: APIClient, station: Chargestation, organization: Organization
) -> None:
    # Given an endpoint subscribed to every event type, and the events so far
    EndpointFactory.create(organization=organization)
    events_before = Event.objects.count()

    # When the key is generated, twice
    keys = [generate(api, station), generate(api, station)]

    # Then no event was raised (the catalog's chargestation.updated is about other fields)
    assert Event.objects.count() == events_before
    # And the audit log says who generated it for which station, holding neither the key nor its hash
    entries = AuditEntry.objects.filter(action="chargestation.authorization_key_generated").order_by("pk")
    assert [(e.target_id, e.actor_type, e.changes["replaced"]) for e in entries] == [
        (station.public_id, "api_key", False),
        (station.public_id, "api_key", True),
    ]
    station.refresh_from_db()
    stored = json.dumps([list(Event.objects.values_list("data", flat=True)), [e.changes for e in entries]])
    for secret in (*keys, station.authorization_key_hash):
        assert secret not in stored


def test_a_later_event_about_the_station_carries_neither_key_nor_hash(
    api: APIClient, station: Chargestation
) -> None:
    # Given a station with a key
    key = generate(api, station)

    # When a change raises chargestation.updated
    response = api.patch(f"/api/v1/chargestations/{station.public_id}", {"public": True}, format="json")

    # Then the event says a key is set, and carries neither the key nor its hash
    assert response.status_code == 200
    event = Event.objects.filter(type="chargestation.updated").latest("id")
    assert event.data["has_authorization_key"] is True
    station.refresh_from_db()
    assert key not in json.dumps(event.data) and station.authorization_key_hash not in json.dumps(event.data)


def test_the_key_fields_cannot_be_written(api: APIClient, station: Chargestation) -> None:
    generate(api, station)
    station.refresh_from_db()
    stored = station.authorization_key_hash

    api.patch(
        f"/api/v1/chargestations/{station.public_id}",
        {"has_authorization_key": False, "authorization_key_set_at": None, "authorization_key_hash": "x"},
        format="json",
    )

    station.refresh_from_db()
    assert (station.authorization_key_hash, station.has_authorization_key) == (stored, True)


def test_another_organizations_station_is_a_404(other_api: APIClient, station: Chargestation) -> None:
    response = other_api.post(f"/api/v1/chargestations/{station.public_id}/authorization-key")

    assert response.status_code == 404
    station.refresh_from_db()
    assert not station.has_authorization_key


def test_it_needs_the_network_write_scope(organization: Organization, station: Chargestation) -> None:
    _, raw_key = api_key_create(organization=organization, scopes=[Scope.NETWORK_READ])
    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")

    response = reader.post(f"/api/v1/chargestations/{station.public_id}/authorization-key")

    assert response.status_code == 403
    assert response.json()["requiredScope"] == "network:write"
    station.refresh_from_db()
    assert not station.has_authorization_key


@pytest.mark.parametrize("interval", [0, 5, 9])
def test_a_heartbeat_under_ten_seconds_is_a_400_naming_the_field(
    api: APIClient, organization: Organization, station: Chargestation, interval: int
) -> None:
    location = LocationFactory.create(organization=organization)
    error = {"heartbeat_interval": ["Ensure this value is greater than or equal to 10."]}

    created = api.post(
        "/api/v1/chargestations",
        {"location": location.public_id, "endpoint": "CP-FAST", "heartbeat_interval": interval},
        format="json",
    )
    changed = api.patch(
        f"/api/v1/chargestations/{station.public_id}", {"heartbeat_interval": interval}, format="json"
    )

    assert (created.status_code, created.json()) == (400, error)
    assert (changed.status_code, changed.json()) == (400, error)
    station.refresh_from_db()
    assert station.heartbeat_interval == 300


def test_ten_seconds_is_accepted(api: APIClient, station: Chargestation) -> None:
    response = api.patch(
        f"/api/v1/chargestations/{station.public_id}", {"heartbeat_interval": 10}, format="json"
    )

    assert (response.status_code, response.json()["heartbeat_interval"]) == (200, 10)


def test_the_operation_is_in_the_openapi_schema(tmp_path: Path) -> None:
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(target))
    operation = yaml.safe_load(target.read_text())["paths"]["/api/v1/chargestations/{id}/authorization-key/"][
        "post"
    ]

    assert operation["security"] == [{"apiKey": ["network:write"]}]
    body = operation["responses"]["201"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/AuthorizationKey"}
