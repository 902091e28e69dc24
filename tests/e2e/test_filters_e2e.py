"""Filters, network scopes and custom headers end to end: a real worker sends to the real receiver,
which verifies every signature. One endpoint per case, each on its own path of the same receiver."""

import time
from typing import Any

import pytest

from organizations.models import Organization
from tests.e2e.conftest import StartProcess
from tests.e2e.receiver import Receiver
from tests.factories import ChargestationFactory, ConnectorFactory, LocationFactory, RateFactory
from webhooks.endpoints.services import endpoint_create
from webhooks.models import Delivery, Endpoint

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FAST = {"WEBHOOKS_RETRY_SCHEDULE": "0,1,1", "WEBHOOKS_SWEEP_INTERVAL": "1"}

GOLD = {"tier": "gold", "tags": ["fast", "24h"], "capacity": 12}  # "North Plaza"
SILVER = {"tier": "silver", "tags": ["slow"], "capacity": 4, "note": "staffed"}  # "South Depot"

# Each operator once on each side: the filter of each path matches exactly one of the two locations.
CASES: dict[str, tuple[dict[str, Any], str]] = {
    "exact-nested": ({"data": {"meta_data": {"tier": "gold"}}}, "North Plaza"),
    "array-contains": ({"data": {"meta_data": {"tags": "slow"}}}, "South Depot"),
    "eq": ({"data": {"name": {"$eq": "South Depot"}}}, "South Depot"),
    "neq": ({"data": {"name": {"$neq": "South Depot"}}}, "North Plaza"),
    "gt": ({"data": {"meta_data": {"capacity": {"$gt": 10}}}}, "North Plaza"),
    "gte": ({"data": {"meta_data": {"capacity": {"$gte": 12}}}}, "North Plaza"),
    "lt": ({"data": {"meta_data": {"capacity": {"$lt": 5}}}}, "South Depot"),
    "lte": ({"data": {"meta_data": {"capacity": {"$lte": 4}}}}, "South Depot"),
    "in": ({"data": {"meta_data": {"tier": {"$in": ["silver", "bronze"]}}}}, "South Depot"),
    "nin": ({"data": {"meta_data": {"tier": {"$nin": ["silver", "bronze"]}}}}, "North Plaza"),
    "starts-with": ({"data": {"name": {"$startsWith": "North"}}}, "North Plaza"),
    "ends-with": ({"data": {"name": {"$endsWith": "Depot"}}}, "South Depot"),
    "exist-true": ({"data": {"meta_data": {"note": {"$exist": True}}}}, "South Depot"),
    "exist-false": ({"data": {"meta_data": {"note": {"$exist": False}}}}, "North Plaza"),
    "and": (
        {"$and": [{"type": "location.created"}, {"data": {"meta_data": {"tier": "gold"}}}]},
        "North Plaza",
    ),
    "or": (
        {"$or": [{"data": {"name": "Nowhere"}}, {"data": {"meta_data": {"tier": "silver"}}}]},
        "South Depot",
    ),
    "not": ({"$not": {"data": {"meta_data": {"tier": "gold"}}}}, "South Depot"),
}


def endpoint_at(receiver: Receiver, path: str, organization: Organization, **options: Any) -> Endpoint:
    endpoint = endpoint_create(organization=organization, url=receiver.url(path), **options)
    receiver.expect_secrets(path, [endpoint.secret])
    return endpoint


def settled(receiver: Receiver, expected: int) -> None:
    """Wait for the expected requests, then a moment more: anything unexpected would show too."""
    receiver.wait_for(expected, timeout=60)
    time.sleep(1.5)


def names_at(receiver: Receiver, path: str) -> list[str]:
    requests = receiver.requests(path)
    assert all(r.verified for r in requests), [r.summary() for r in requests]
    return sorted(r.json["data"].get("name") or r.json.get("type") or r.json["event"] for r in requests)


def test_each_operator_delivers_what_matches_and_nothing_else(
    receiver: Receiver, celery_worker: StartProcess, organization: Organization
) -> None:
    # Given an endpoint per operator, each subscribed to location.created with its own filter
    celery_worker(**FAST)
    for path, (spec, _) in CASES.items():
        endpoint_at(receiver, f"/{path}", organization, events=["location.created"], filter=spec)
    # When two locations are created
    LocationFactory.create(organization=organization, name="North Plaza", meta_data=GOLD)
    LocationFactory.create(organization=organization, name="South Depot", meta_data=SILVER)
    # Then each endpoint received, signed, exactly the location its filter matches
    settled(receiver, expected=len(CASES))
    assert {path: names_at(receiver, f"/{path}") for path in CASES} == {
        path: [matching] for path, (_, matching) in CASES.items()
    }
    # And the other event never had a delivery for it
    assert Delivery.objects.count() == len(CASES)


def test_scopes_deliver_events_about_their_places_and_about_no_place(
    receiver: Receiver, celery_worker: StartProcess, organization: Organization
) -> None:
    # Given two locations with a station each, and endpoints scoped to one location, one station
    # of the other location, and both (each subscribed to station, connector and rate events)
    celery_worker(**FAST)
    north = LocationFactory.create(organization=organization, name="North")
    south = LocationFactory.create(organization=organization, name="South")
    north_station = ChargestationFactory.create(location=north, name="North 1")
    south_station = ChargestationFactory.create(location=south, name="South 1")
    events = ["chargestation.updated", "connector.status_changed", "rate.created"]
    endpoint_at(receiver, "/north", organization, events=events, locations=[north.public_id])
    endpoint_at(receiver, "/south-1", organization, events=events, chargestations=[south_station.public_id])
    endpoint_at(
        receiver,
        "/either",
        organization,
        events=events,
        locations=[north.public_id],
        chargestations=[south_station.public_id],
    )
    # When each station changes, a connector of the north one reports a status, and a rate is added
    for station in (north_station, south_station):
        station.public = True
        station.save()
    connector = ConnectorFactory.create(chargestation=north_station, connector_number=1)
    connector.status = "Charging"
    connector.save()
    RateFactory.create(organization=organization, name="Day")
    # Then each endpoint got the events about its places, and the rate (about no place)
    settled(receiver, expected=3 + 2 + 4)
    assert names_at(receiver, "/north") == ["Day", "North 1", "connector.status_changed"]
    assert names_at(receiver, "/south-1") == ["Day", "South 1"]
    assert names_at(receiver, "/either") == ["Day", "North 1", "South 1", "connector.status_changed"]


def test_custom_headers_arrive_with_every_delivery_and_signatures_still_verify(
    receiver: Receiver, celery_worker: StartProcess, organization: Organization
) -> None:
    # Given an endpoint with custom headers, one of them given in mixed case
    celery_worker(**FAST)
    endpoint_at(
        receiver,
        "/headers",
        organization,
        events=["location.created", "location.updated"],
        headers={"Authorization": "Bearer t0ken-123", "x-tenant": "north east"},
    )
    # When events are delivered to it
    location = LocationFactory.create(organization=organization)
    location.name = "Renamed"
    location.save()
    # Then each request carries the headers beside the product's own, and verifies
    requests = receiver.wait_for(2, path="/headers")
    for request in requests:
        assert request.verified, request.summary()
        assert request.headers["authorization"] == "Bearer t0ken-123"
        assert request.headers["x-tenant"] == "north east"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["webhook-id"] == request.json["_id"]
