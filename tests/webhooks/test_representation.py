"""An event's data is its object's API representation: the snapshot (webhooks.catalog.payloads, read
field by field by webhooks.catalog.representation) must equal the API serializer's output, key for
key and in order, for every object the catalog carries."""

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Model
from django.utils import timezone
from django.utils.module_loading import import_string

from chargestations.models import Location
from tests.factories import (
    ChargestationFactory,
    ConnectorFactory,
    DriverFactory,
    EndpointFactory,
    IdTagFactory,
    LocationFactory,
    OrganizationFactory,
    PriceComponentFactory,
    RateFactory,
    SessionFactory,
)
from webhooks import rows
from webhooks.catalog.payloads import SERIALIZERS, snapshot
from webhooks.models import EVENT_COLUMNS, Delivery, DeliveryStatus, Event

pytestmark = pytest.mark.django_db


def location_full() -> Model:
    return LocationFactory.create(
        latitude=Decimal("52.520008"),
        longitude=Decimal("13.404954"),
        opening_hours={"twentyfourseven": True},
        meta_data={"site": "depot", "levels": [1, 2]},
    )


def station_with_connectors() -> Model:
    station = ChargestationFactory.create()
    ConnectorFactory.create(chargestation=station)
    ConnectorFactory.create(chargestation=station)
    return station


def rate_with_components() -> Model:
    rate = RateFactory.create()
    PriceComponentFactory.create(rate=rate)
    PriceComponentFactory.create(rate=rate, type="TIME", price="2.5000")
    return rate


def driver_with_tags() -> Model:
    driver = DriverFactory.create()
    IdTagFactory.create(driver=driver, organization=driver.organization)
    return driver


def delivery() -> Model:
    endpoint = EndpointFactory.create()
    event = Event(
        organization_id=endpoint.organization_id,
        type="location.created",
        object="location",
        data={},
        created_at=timezone.now(),
    )
    [event.pk] = rows.insert(Event, EVENT_COLUMNS, [event])
    return Delivery.objects.create(
        event=event, endpoint=endpoint, status=DeliveryStatus.PENDING, created_at=timezone.now()
    )


SUBJECTS: dict[str, list[Callable[[], Model]]] = {
    "organization": [OrganizationFactory.create],
    "location": [LocationFactory.create, location_full, lambda: LocationFactory.create(address={})],
    "chargestation": [ChargestationFactory.create, station_with_connectors],
    "rate": [RateFactory.create, rate_with_components],
    "user": [DriverFactory.create, driver_with_tags],
    "session": [SessionFactory.create, lambda: SessionFactory.create(driver=None)],
    "webhook": [EndpointFactory.create],
    "delivery": [delivery],
}


def api(object_name: str, subject: Model) -> Any:
    return import_string(SERIALIZERS[object_name])(subject).data


def test_every_object_of_the_catalog_has_subjects_here() -> None:
    assert set(SUBJECTS) == set(SERIALIZERS)


@pytest.mark.parametrize(
    ("object_name", "make"), [(name, make) for name, makes in SUBJECTS.items() for make in makes]
)
def test_the_snapshot_is_the_api_representation(object_name: str, make: Callable[[], Model]) -> None:
    made = make()
    subject = type(made)._default_manager.get(pk=made.pk)  # as loaded from the database

    taken = snapshot(object_name=object_name, subject=subject)

    assert json.dumps(taken) == json.dumps(api(object_name, subject))  # the same keys, in order


def test_a_field_not_loaded_yet_is_read_from_the_database() -> None:
    created = location_full()
    subject = Location.objects.only("id", "name").get(pk=created.pk)

    taken = snapshot(object_name="location", subject=subject)

    assert taken["coordinates"] == {"latitude": 52.520008, "longitude": 13.404954}
    assert json.dumps(taken) == json.dumps(api("location", Location.objects.get(pk=created.pk)))


def test_a_changed_instance_is_represented_as_it_is_now() -> None:
    subject = Location.objects.get(pk=location_full().pk)
    snapshot(object_name="location", subject=subject)

    subject.name, subject.latitude, subject.meta_data = "Renamed", None, {"changed": True}

    taken = snapshot(object_name="location", subject=subject)
    assert (taken["name"], taken["coordinates"]["latitude"], taken["meta_data"]) == (
        "Renamed",
        None,
        {"changed": True},
    )
    assert json.dumps(taken) == json.dumps(api("location", subject))
