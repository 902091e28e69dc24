"""/api/v1/event-types (the catalog) and /api/v1/events (what happened)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from chargestations.serializers import LocationSerializer
from edrv_project.times import utc_timestamp
from organizations.models import Organization
from tests.factories import EndpointFactory, LocationFactory
from tests.webhooks_api.matchers import TEST_EVENT_ID, TIMESTAMP
from webhooks.catalog.types import EVENT_TYPES
from webhooks.endpoints.test_events import endpoint_send_test
from webhooks.models import Event

pytestmark = pytest.mark.django_db


def test_event_types_lists_the_whole_catalog(api: APIClient) -> None:
    response = api.get("/api/v1/event-types")

    assert response.status_code == 200
    types = response.json()["eventTypes"]
    assert list(response.json()) == ["eventTypes"]
    assert [t["name"] for t in types] == list(EVENT_TYPES)
    assert types[[t["name"] for t in types].index("session.started")] == {
        "name": "session.started",
        "object": "session",
        "category": "Synchronous events",
        "description": "A charging session started.",
        "envelope": "edrv",
        "subscribable": True,
    }


def test_event_types_list_the_ceilings_as_subscribable_and_say_which_envelope_each_has(
    api: APIClient,
) -> None:
    types = {t["name"]: t for t in api.get("/api/v1/event-types").json()["eventTypes"]}

    for kind in ("energy", "time", "cost"):
        ceiling = types[f"session.stop_{kind}_ceiling_exceeded"]
        assert (ceiling["subscribable"], ceiling["category"]) == (True, "Charging intelligence")
    assert "session.stop_duration_ceiling_exceeded" not in types
    assert (types["transaction.started"]["envelope"], types["transaction.started"]["category"]) == (
        "charger",
        "Charger protocol",
    )


def test_events_lists_what_happened_newest_first(api: APIClient, organization: Organization) -> None:
    older = LocationFactory.create(organization=organization, name="Older")
    Event.objects.update(created_at=timezone.now() - timedelta(minutes=1))
    newer = LocationFactory.create(organization=organization, name="Newer")
    first, second = Event.objects.order_by("created_at")

    response = api.get("/api/v1/events")

    assert response.status_code == 200
    assert response.json() == {
        "events": [
            {
                "id": second.public_id,
                "type": "location.created",
                "object": "location",
                "data": LocationSerializer(newer).data,
                "createdAt": utc_timestamp(second.created_at),
                "test": False,
            },
            {
                "id": first.public_id,
                "type": "location.created",
                "object": "location",
                "data": LocationSerializer(older).data,
                "createdAt": utc_timestamp(first.created_at),
                "test": False,
            },
        ],
        "count": 2,
        "next": None,
        "previous": None,
    }


def test_events_filter_by_type_and_paginate(api: APIClient, organization: Organization) -> None:
    location = LocationFactory.create(organization=organization)
    for name in ("A", "B", "C"):
        location.name = name
        location.save()

    updated = api.get("/api/v1/events?type=location.updated&limit=2").json()
    created = api.get("/api/v1/events?type=location.created").json()

    assert (updated["count"], len(updated["events"])) == (3, 2)
    assert {e["type"] for e in updated["events"]} == {"location.updated"}
    assert [e["data"]["name"] for e in updated["events"]] == ["C", "B"]
    assert created["count"] == 1


def test_event_detail_shows_one_event(api: APIClient, organization: Organization) -> None:
    location = LocationFactory.create(organization=organization)
    event = Event.objects.get()

    response = api.get(f"/api/v1/events/{event.public_id}")

    assert response.status_code == 200
    assert response.json() == {
        "id": event.public_id,
        "type": "location.created",
        "object": "location",
        "data": LocationSerializer(location).data,
        "createdAt": TIMESTAMP,
        "test": False,
    }


def test_a_test_event_is_marked_as_one(api: APIClient, organization: Organization) -> None:
    endpoint = EndpointFactory.create(organization=organization)
    delivery = endpoint_send_test(endpoint=endpoint, type_name="transaction.started")

    shown = api.get(f"/api/v1/events/{delivery.event.public_id}").json()

    assert (shown["id"], shown["type"], shown["object"], shown["test"]) == (
        TEST_EVENT_ID,
        "transaction.started",
        "session",
        True,
    )
    assert shown["data"]["transactionId"] == 12345


def test_an_unknown_event_is_404(api: APIClient) -> None:
    assert api.get("/api/v1/events/ffffffffffffffffffffffff").status_code == 404
