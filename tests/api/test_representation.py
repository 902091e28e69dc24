"""The serializers are also what webhooks carry as `data`: plain JSON, built without a request."""

import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chargestations.models import Chargestation
from chargestations.serializers import ChargestationSerializer, LocationSerializer, RateSerializer
from chargestations.services import rate_update
from organizations.serializers import OrganizationSerializer
from sessions_app.serializers import DriverSerializer, SessionSerializer
from tests.factories import (
    ChargestationFactory,
    ConnectorFactory,
    IdTagFactory,
    LocationFactory,
    OrganizationFactory,
    PriceComponentFactory,
    RateFactory,
    SessionFactory,
)

pytestmark = pytest.mark.django_db

EDRV_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_every_object_serializes_without_a_request_to_plain_json() -> None:
    organization = OrganizationFactory.create()
    rate = PriceComponentFactory.create(rate__organization=organization, price="0.2500").rate
    connector = ConnectorFactory.create(chargestation__location__organization=organization, rate=rate)
    driver = IdTagFactory.create(driver__organization=organization).driver
    session = SessionFactory.create(
        chargestation=connector.chargestation,
        connector=connector,
        driver=driver,
        rate=rate,
        cost_amount="12.34",
    )
    pairs = [
        (OrganizationSerializer, organization),
        (LocationSerializer, connector.chargestation.location),
        (ChargestationSerializer, connector.chargestation),
        (RateSerializer, rate),
        (DriverSerializer, driver),
        (SessionSerializer, session),
    ]

    for serializer_class, instance in pairs:
        data = serializer_class(instance).data

        # Plain json, no DRF encoder: webhooks store and send exactly this.
        assert json.loads(json.dumps(data)) == data
        assert data["_id"] == instance.public_id
        assert EDRV_TIMESTAMP.match(data["createdAt"]), data["createdAt"]
        assert EDRV_TIMESTAMP.match(data["updatedAt"]), data["updatedAt"]
    assert SessionSerializer(session).data["cost"] == {"amount": 12.34, "currency": "EUR"}
    assert RateSerializer(rate).data["price_components"][0]["price"] == 0.25


def test_coordinates_are_numbers() -> None:
    location = LocationFactory.create(latitude="52.370216", longitude="4.895168")

    assert LocationSerializer(location).data["coordinates"] == {"latitude": 52.370216, "longitude": 4.895168}


def test_a_station_serializes_in_the_same_queries_whatever_its_connectors() -> None:
    station = ChargestationFactory.create()
    ConnectorFactory.create(chargestation=station, rate=RateFactory.create())
    with CaptureQueriesContext(connection) as one:
        ChargestationSerializer(Chargestation.objects.get(pk=station.pk)).data  # noqa: B018
    for _ in range(3):
        ConnectorFactory.create(chargestation=station, rate=RateFactory.create())

    with CaptureQueriesContext(connection) as four:
        data = ChargestationSerializer(Chargestation.objects.get(pk=station.pk)).data

    assert len(data["connectors"]) == 4
    assert len(four) == len(one)


def test_serializing_twice_sees_children_added_in_between() -> None:
    # A webhook snapshot after each connector change must show that change, not a cached list.
    station = ChargestationFactory.create()
    ConnectorFactory.create(chargestation=station)
    first = ChargestationSerializer(station).data

    ConnectorFactory.create(chargestation=station)
    second = ChargestationSerializer(station).data

    assert (len(first["connectors"]), len(second["connectors"])) == (1, 2)


def test_a_rate_serializes_its_components_after_a_change_through_the_service() -> None:
    rate = RateFactory.create()
    PriceComponentFactory.create(rate=rate, type="FLAT")
    assert [pc["type"] for pc in RateSerializer(rate).data["price_components"]] == ["FLAT"]

    rate_update(rate=rate, data={"price_components": [{"type": "ENERGY", "price": 1}]})

    assert [pc["type"] for pc in RateSerializer(rate).data["price_components"]] == ["ENERGY"]
