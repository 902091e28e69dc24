"""A second organization's key gets 404 for every object of the first, on every route and method."""

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from edrv_project.db import PublicModel
from organizations.models import Organization
from tests.factories import (
    ChargestationFactory,
    ConnectorFactory,
    DriverFactory,
    IdTagFactory,
    LocationFactory,
    PriceComponentFactory,
    SessionFactory,
)

pytestmark = pytest.mark.django_db


def _location(org: Organization) -> PublicModel:
    return LocationFactory.create(organization=org)


def _chargestation(org: Organization) -> PublicModel:
    return ChargestationFactory.create(location__organization=org)


def _connector(org: Organization) -> PublicModel:
    return ConnectorFactory.create(chargestation__location__organization=org)


def _rate(org: Organization) -> PublicModel:
    return PriceComponentFactory.create(rate__organization=org).rate


def _user(org: Organization) -> PublicModel:
    return IdTagFactory.create(driver=DriverFactory.create(organization=org)).driver


def _session(org: Organization) -> PublicModel:
    return SessionFactory.create(chargestation__location__organization=org)


# Each route, the object it serves, and a body that would be a valid write for its owner.
RESOURCES: dict[str, tuple[Callable[[Organization], PublicModel], dict]] = {
    "locations": (_location, {"name": "Hijacked"}),
    "chargestations": (_chargestation, {"name": "Hijacked", "active": False}),
    "connectors": (_connector, {"status": "Faulted"}),
    "rates": (_rate, {"name": "Hijacked", "price_components": []}),
    "users": (_user, {"first_name": "Hijacked", "id_tags": []}),
    "sessions": (_session, {"meta_data": {"hijacked": True}}),
}


def _snapshot(instance: PublicModel) -> dict:
    instance.refresh_from_db()
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
@pytest.mark.parametrize("route", list(RESOURCES))
def test_another_organizations_object_is_404_on_every_method(
    route: str, method: str, organization: Organization, other_api: APIClient
) -> None:
    make, body = RESOURCES[route]
    instance = make(organization)
    before = _snapshot(instance)

    response = getattr(other_api, method)(f"/api/v1/{route}/{instance.public_id}", body, format="json")

    assert response.status_code == 404
    assert list(response.json()) == ["detail"]
    assert _snapshot(instance) == before
    assert type(instance)._default_manager.filter(pk=instance.pk).exists()


@pytest.mark.parametrize("route", list(RESOURCES))
def test_another_organizations_objects_are_not_listed(
    route: str, organization: Organization, other_api: APIClient
) -> None:
    make, _ = RESOURCES[route]
    make(organization)

    response = other_api.get(f"/api/v1/{route}")

    assert response.status_code == 200
    assert response.json()["count"] == 0


@pytest.mark.parametrize("route", list(RESOURCES))
def test_the_owner_sees_the_same_objects(route: str, organization: Organization, api: APIClient) -> None:
    make, _ = RESOURCES[route]
    instance = make(organization)

    assert api.get(f"/api/v1/{route}/{instance.public_id}").status_code == 200
    assert [item["_id"] for item in api.get(f"/api/v1/{route}").json()["results"]] == [instance.public_id]


def test_an_id_of_another_organization_reads_exactly_like_an_unknown_one(
    organization: Organization, other_api: APIClient
) -> None:
    location = _location(organization)

    foreign = other_api.get(f"/api/v1/locations/{location.public_id}")
    unknown = other_api.get("/api/v1/locations/ffffffffffffffffffffffff")

    assert (foreign.status_code, foreign.json()) == (unknown.status_code, unknown.json())


def test_the_organization_route_shows_only_the_keys_own(
    organization: Organization, other_organization: Organization, other_api: APIClient
) -> None:
    response = other_api.patch("/api/v1/organization", {"name": "Mine now"}, format="json")

    assert response.json()["_id"] == other_organization.public_id
    organization.refresh_from_db()
    assert organization.name != "Mine now"
