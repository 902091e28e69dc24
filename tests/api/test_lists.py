from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from organizations.models import Organization
from tests.factories import (
    ChargestationFactory,
    ConnectorFactory,
    DriverFactory,
    IdTagFactory,
    LocationFactory,
    PriceComponentFactory,
    RateFactory,
    SessionFactory,
)
from tests.pipeline import own_queries

pytestmark = pytest.mark.django_db


def test_a_list_is_a_page_with_count_next_previous_and_results(
    api: APIClient, organization: Organization
) -> None:
    for name in ("a", "b", "c"):
        LocationFactory.create(organization=organization, name=name)

    first = api.get("/api/v1/locations?limit=2&ordering=name").json()
    second = api.get(first["next"]).json()

    assert set(first) == {"count", "next", "previous", "results"}
    assert first["count"] == 3
    assert [item["name"] for item in first["results"]] == ["a", "b"]
    assert first["previous"] is None
    assert [item["name"] for item in second["results"]] == ["c"]
    assert second["next"] is None


def test_the_page_size_is_capped(api: APIClient, organization: Organization) -> None:
    LocationFactory.create_batch(3, organization=organization)

    body = api.get("/api/v1/locations?limit=100000").json()

    assert len(body["results"]) == 3
    assert body["next"] is None


def test_ordering_uses_the_api_field_names(api: APIClient, organization: Organization) -> None:
    older = LocationFactory.create(organization=organization, name="z")
    newer = LocationFactory.create(organization=organization, name="a")

    default = api.get("/api/v1/locations").json()["results"]
    oldest_first = api.get("/api/v1/locations?ordering=createdAt").json()["results"]
    by_name = api.get("/api/v1/locations?ordering=-name").json()["results"]

    assert [item["_id"] for item in default] == [newer.public_id, older.public_id]
    assert [item["_id"] for item in oldest_first] == [older.public_id, newer.public_id]
    assert [item["_id"] for item in by_name] == [older.public_id, newer.public_id]


def test_an_unknown_ordering_is_a_400_that_lists_the_valid_ones(api: APIClient) -> None:
    response = api.get("/api/v1/locations?ordering=organization")

    assert response.status_code == 400
    assert response.json() == {
        "ordering": ['Cannot order by "organization". Use one of: createdAt, updatedAt, name.']
    }


def _station(org: Organization) -> None:
    station = ChargestationFactory.create(location__organization=org)
    ConnectorFactory.create(chargestation=station, rate=RateFactory.create(organization=org))
    ConnectorFactory.create(chargestation=station)


def _connector(org: Organization) -> None:
    ConnectorFactory.create(
        chargestation__location__organization=org, rate=RateFactory.create(organization=org)
    )


def _rate(org: Organization) -> None:
    rate = RateFactory.create(organization=org)
    PriceComponentFactory.create(rate=rate, type="ENERGY")
    PriceComponentFactory.create(rate=rate, type="FLAT")


def _user(org: Organization) -> None:
    IdTagFactory.create_batch(2, driver=DriverFactory.create(organization=org))


def _session(org: Organization) -> None:
    SessionFactory.create(
        chargestation__location__organization=org, rate=RateFactory.create(organization=org)
    )


@pytest.mark.parametrize(
    ("route", "make"),
    [
        ("locations", lambda org: LocationFactory.create(organization=org)),
        ("chargestations", _station),
        ("connectors", _connector),
        ("rates", _rate),
        ("users", _user),
        ("sessions", _session),
    ],
)
def test_a_list_costs_the_same_queries_for_one_item_or_many(
    route: str, make: Callable[[Organization], None], api: APIClient, organization: Organization
) -> None:
    make(organization)
    api.get(f"/api/v1/{route}")  # the key's first use records last_used_at: keep it out of the count
    with CaptureQueriesContext(connection) as one:
        assert api.get(f"/api/v1/{route}").json()["count"] == 1
    for _ in range(4):
        make(organization)

    with CaptureQueriesContext(connection) as five:
        assert api.get(f"/api/v1/{route}").json()["count"] == 5

    assert len(own_queries(five)) == len(own_queries(one))
