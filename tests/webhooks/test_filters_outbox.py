"""Filters and network scopes where the deliveries are written: an event an endpoint's filter or
scopes keep out gets no Delivery for it at all. The change writes its events alone; the worker's
fan-out, run here by hand once the change is done, matches them and writes the deliveries."""

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from chargestations.models import Chargestation, Location
from organizations.models import Organization
from tests.factories import (
    ChargestationFactory,
    ConnectorFactory,
    DriverFactory,
    EndpointFactory,
    LocationFactory,
    OrganizationFactory,
    PriceComponentFactory,
    RateFactory,
    SessionFactory,
)
from tests.pipeline import fan_out_waiting
from webhooks.endpoints.services import endpoint_update
from webhooks.endpoints.test_events import endpoint_send_test
from webhooks.models import Delivery, DeliveryStatus, Endpoint, Event

pytestmark = pytest.mark.django_db


def delivered(endpoint: Endpoint, change: Callable[[], Any]) -> list[str]:
    """The event types `change` (a transaction of its own) gave `endpoint` a Delivery of, once a
    worker fanned them out."""
    last = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
    with transaction.atomic():
        change()
    fan_out_waiting()
    return list(
        Delivery.objects.filter(event_id__gt=last, endpoint=endpoint)
        .order_by("id")
        .values_list("event__type", flat=True)
    )


def rename(instance: Any, name: str = "Renamed") -> Callable[[], None]:
    def apply() -> None:
        instance.name = name
        instance.save()

    return apply


@pytest.fixture
def north(organization: Organization) -> Location:
    return LocationFactory.create(organization=organization, name="North")


@pytest.fixture
def south(organization: Organization) -> Location:
    return LocationFactory.create(organization=organization, name="South")


@pytest.fixture
def north_station(north: Location) -> Chargestation:
    return ChargestationFactory.create(location=north, endpoint="NORTH-1")


@pytest.fixture
def south_station(south: Location) -> Chargestation:
    return ChargestationFactory.create(location=south, endpoint="SOUTH-1")


# Content filters.


def test_an_event_the_filter_keeps_out_creates_no_delivery_for_that_endpoint(
    organization: Organization, north: Location, south: Location
) -> None:
    # Given an endpoint filtering on the location's name, and one without a filter
    filtered = EndpointFactory.create(
        organization=organization, filter={"data": {"name": {"$startsWith": "N"}}}
    )
    everything = EndpointFactory.create(organization=organization)
    # When both locations change
    last = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
    rename(north, "Northwest")()
    rename(south, "Southwest")()
    fan_out_waiting()
    # Then the filtered endpoint has a delivery of the matching event only, and no row of any
    # status for the other, while the unfiltered endpoint has both
    events = Event.objects.filter(id__gt=last).order_by("id")
    northwest, southwest = events
    assert list(Delivery.objects.filter(endpoint=filtered).values_list("event_id", flat=True)) == [
        northwest.pk
    ]
    assert set(
        Delivery.objects.filter(endpoint=everything, event__in=events).values_list("event_id", flat=True)
    ) == {
        northwest.pk,
        southwest.pk,
    }


def test_the_filter_sees_the_whole_envelope_of_either_shape(
    organization: Organization, north_station: Chargestation
) -> None:
    # Given endpoints filtering on envelope A's `type` and on envelope B's `event` and `data`
    on_type = EndpointFactory.create(organization=organization, filter={"type": "chargestation.online"})
    on_protocol = EndpointFactory.create(
        organization=organization, filter={"event": "charger.connected", "data": {"chargeBoxId": "NORTH-1"}}
    )
    # When the station comes online (chargestation.online and charger.connected)
    change = rename(north_station)

    def online() -> None:
        north_station.online = True
        north_station.save()

    assert delivered(on_type, online) == ["chargestation.online"]
    north_station.online = False
    north_station.save()
    assert delivered(on_protocol, online) == ["charger.connected"]
    assert delivered(on_protocol, change) == []  # chargestation.updated: neither matches


def test_no_filter_and_an_empty_one_let_everything_through(
    organization: Organization, north: Location
) -> None:
    none = EndpointFactory.create(organization=organization, filter=None)
    empty = EndpointFactory.create(organization=organization, filter={})

    assert delivered(none, rename(north)) == ["location.updated"]
    assert delivered(empty, rename(north, "Again")) == ["location.updated"]


def test_a_changed_filter_applies_from_the_next_event(organization: Organization, north: Location) -> None:
    # Given a filtered endpoint that has already matched events (its filter compiled and kept)
    endpoint = EndpointFactory.create(organization=organization, filter={"data": {"name": "A"}})
    assert delivered(endpoint, rename(north, "A")) == ["location.updated"]
    # When its filter changes, then the next event is matched against the new one
    endpoint_update(endpoint=endpoint, filter={"data": {"name": "B"}})
    assert delivered(endpoint, rename(north, "A2")) == []
    assert delivered(endpoint, rename(north, "B")) == ["location.updated"]
    # And removing it lets everything through
    endpoint_update(endpoint=endpoint, filter={})
    assert Endpoint.objects.get(pk=endpoint.pk).filter is None
    assert delivered(endpoint, rename(north, "C")) == ["location.updated"]


def test_a_disabled_or_free_endpoint_gets_no_skipped_row_for_a_filtered_out_event(
    organization: Organization, north: Location
) -> None:
    disabled = EndpointFactory.create(organization=organization, active=False, filter={"data": {"name": "Z"}})

    assert delivered(disabled, rename(north, "A")) == []
    assert delivered(disabled, rename(north, "Z")) == ["location.updated"]
    assert Delivery.objects.get(endpoint=disabled).status == DeliveryStatus.SKIPPED


def test_a_stored_filter_that_does_not_compile_neither_fails_the_save_nor_loses_events(
    organization: Organization, north: Location, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a filter written around the validators (straight into the database)
    endpoint = EndpointFactory.create(organization=organization)
    Endpoint.objects.filter(pk=endpoint.pk).update(filter={"data": {"name": {"$like": "N%"}}})
    # When an event is recorded, then the change is saved and the event delivered, and it is logged
    assert delivered(endpoint, rename(north)) == ["location.updated"]
    assert any(r.message == "webhooks.filter.invalid" for r in caplog.records)


def test_a_test_event_ignores_filter_and_scopes(organization: Organization, south: Location) -> None:
    # Given an endpoint whose filter and scope no example event could pass
    endpoint = EndpointFactory.create(
        organization=organization, filter={"type": "nothing.ever"}, locations=[south.public_id]
    )
    # When a test event is sent to it, then it is delivered
    delivery = endpoint_send_test(endpoint=endpoint, type_name="session.started")
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.event.is_test


def test_a_whole_written_with_its_parts_is_matched_as_it_will_be_sent(organization: Organization) -> None:
    # Given an endpoint that wants only rates with a time-based price component
    endpoint = EndpointFactory.create(
        organization=organization, filter={"data": {"price_components": {"type": "TIME"}}}
    )

    # When a rate is written with its components in one block, the event is matched complete
    def rate_with(*types: str) -> Callable[[], None]:
        def write() -> None:
            rate = RateFactory.create(organization=organization)
            for kind in types:
                PriceComponentFactory.create(rate=rate, type=kind)

        return write

    assert delivered(endpoint, rate_with("ENERGY", "TIME")) == ["rate.created"]
    assert delivered(endpoint, rate_with("ENERGY")) == []

    # And a later component that removes the match before commit removes the delivery
    def time_then_flat() -> None:
        rate = RateFactory.create(organization=organization)
        component = PriceComponentFactory.create(rate=rate, type="TIME")
        component.type = "FLAT"
        component.save()

    assert delivered(endpoint, time_then_flat) == []


# Network scopes, per event family.


def test_location_events_are_scoped_to_the_location_itself(
    organization: Organization, north: Location, south: Location, north_station: Chargestation
) -> None:
    by_location = EndpointFactory.create(organization=organization, locations=[north.public_id])
    by_station = EndpointFactory.create(organization=organization, chargestations=[north_station.public_id])

    assert delivered(by_location, rename(north)) == ["location.updated"]
    assert delivered(by_location, rename(south)) == []
    assert delivered(by_station, rename(north, "Again")) == []  # a location is not one of the stations


def test_chargestation_events_belong_to_the_station_and_its_location(
    organization: Organization, north_station: Chargestation, south_station: Chargestation, north: Location
) -> None:
    by_location = EndpointFactory.create(organization=organization, locations=[north.public_id])
    by_station = EndpointFactory.create(organization=organization, chargestations=[south_station.public_id])

    def toggle(station: Chargestation) -> Callable[[], None]:
        def apply() -> None:
            station.active = not station.active
            station.save()

        return apply

    assert delivered(by_location, toggle(north_station)) == ["chargestation.updated"]
    assert delivered(by_location, toggle(south_station)) == []
    assert delivered(by_station, toggle(south_station)) == ["chargestation.updated"]
    assert delivered(by_station, toggle(north_station)) == []
    assert delivered(by_location, lambda: ChargestationFactory.create(location=north)) == [
        "chargestation.created"
    ]


def test_connector_events_belong_to_their_station(
    organization: Organization, north_station: Chargestation, south_station: Chargestation
) -> None:
    endpoint = EndpointFactory.create(
        organization=organization,
        chargestations=[north_station.public_id],
        events=["chargestation.connector.created", "connector.status_changed"],
    )
    north_connector = ConnectorFactory.create(chargestation=north_station, connector_number=1)
    south_connector = ConnectorFactory.create(chargestation=south_station, connector_number=1)

    def status(connector: Any, value: str) -> Callable[[], None]:
        def apply() -> None:
            connector.status = value
            connector.save()

        return apply

    assert delivered(endpoint, status(north_connector, "Charging")) == ["connector.status_changed"]
    assert delivered(endpoint, status(south_connector, "Charging")) == []
    assert delivered(
        endpoint, lambda: ConnectorFactory.create(chargestation=north_station, connector_number=2)
    ) == ["chargestation.connector.created"]


def test_session_events_belong_to_their_station_and_its_location(
    organization: Organization, north: Location, north_station: Chargestation, south_station: Chargestation
) -> None:
    by_location = EndpointFactory.create(
        organization=organization,
        locations=[north.public_id],
        events=["session.started", "transaction.started"],
    )
    by_station = EndpointFactory.create(
        organization=organization, chargestations=[south_station.public_id], events=["session.started"]
    )
    driver = DriverFactory.create(organization=organization)
    north_session = SessionFactory.create(chargestation=north_station, driver=driver)
    south_session = SessionFactory.create(chargestation=south_station, driver=driver)

    def start(session: Any) -> Callable[[], None]:
        def apply() -> None:
            session.status = "started"
            session.save()

        return apply

    assert delivered(by_location, start(north_session)) == ["session.started", "transaction.started"]
    assert delivered(by_location, start(south_session)) == []
    assert Delivery.objects.filter(endpoint=by_station, event__type="session.started").count() == 1


def test_events_about_no_place_are_not_restricted_by_scopes(
    organization: Organization, south: Location
) -> None:
    endpoint = EndpointFactory.create(organization=organization, locations=[south.public_id])

    assert delivered(endpoint, lambda: RateFactory.create(organization=organization)) == ["rate.created"]
    assert delivered(endpoint, lambda: DriverFactory.create(organization=organization)) == ["user.created"]
    assert delivered(endpoint, rename(organization)) == ["organization.updated"]


def test_with_both_lists_an_event_about_either_passes(
    organization: Organization, north: Location, south_station: Chargestation, south: Location
) -> None:
    endpoint = EndpointFactory.create(
        organization=organization, locations=[north.public_id], chargestations=[south_station.public_id]
    )
    other = ChargestationFactory.create(location=south)

    assert delivered(endpoint, rename(north)) == ["location.updated"]
    assert delivered(endpoint, rename(south_station)) == []  # a name change raises nothing...
    south_station.public = True
    assert delivered(endpoint, lambda: south_station.save()) == ["chargestation.updated"]
    other.public = True
    assert delivered(endpoint, lambda: other.save()) == []
    assert delivered(endpoint, rename(south)) == []


def test_a_scope_filters_together_with_a_content_filter(
    organization: Organization, north: Location, south: Location
) -> None:
    endpoint = EndpointFactory.create(
        organization=organization, locations=[north.public_id], filter={"data": {"name": {"$endsWith": "!"}}}
    )

    assert delivered(endpoint, rename(north, "Open!")) == ["location.updated"]
    assert delivered(endpoint, rename(north, "Closed")) == []
    assert delivered(endpoint, rename(south, "Open!")) == []


# Cost: once compiled, filters and scopes add no query to a save, nor to its fan-out.


def queries_of(change: Callable[[], Any]) -> int:
    with CaptureQueriesContext(connection) as captured:
        change()
    return len(captured)


def costs(change: Callable[[], Any]) -> tuple[int, int]:
    """The queries of `change` (a save: its events alone), then of the fan-out that follows it."""
    return queries_of(change), queries_of(fan_out_waiting)


def three_endpoints(organization: Organization, **narrowing: Any) -> None:
    for _ in range(3):
        EndpointFactory.create(
            organization=organization, events=["location.updated", "session.updated"], **narrowing
        )


def test_filters_and_scopes_add_no_query_to_a_save(organization: Organization, north: Location) -> None:
    # Given an organization with three filtered and scoped endpoints, and one with three plain ones
    three_endpoints(
        organization,
        filter={"data": {"name": {"$startsWith": "Saved"}, "metrics": {"$exist": False}}},
        locations=[north.public_id],
    )
    plain = OrganizationFactory.create()
    three_endpoints(plain)
    plain_location = LocationFactory.create(organization=plain)
    rename(north, "Saved 0")()
    fan_out_waiting()  # the first fan-out compiles the filters and resolves the scopes
    # When a location of each is saved and fanned out, then both cost the same queries
    assert costs(rename(north, "Saved 1")) == costs(rename(plain_location, "Saved 1"))
    # And the filtered endpoints did get the event
    assert (
        Delivery.objects.filter(event__data__name="Saved 1", endpoint__organization=organization).count() == 3
    )


def test_a_session_event_finds_its_place_without_a_query(organization: Organization, north: Location) -> None:
    # Given a session at a station of a scoped organization, and one of an organization without scopes
    three_endpoints(organization, locations=[north.public_id])
    scoped = SessionFactory.create(chargestation=ChargestationFactory.create(location=north))
    plain = OrganizationFactory.create()
    three_endpoints(plain)
    unscoped = SessionFactory.create(
        chargestation=ChargestationFactory.create(location=LocationFactory.create(organization=plain))
    )

    def meter(session: Any, value: int) -> Callable[[], None]:
        def apply() -> None:
            session.metrics = {"energyConsumed": value}
            session.save()

        return apply

    meter(scoped, 1)()
    fan_out_waiting()  # the first fan-out resolves the scopes
    # When their metering changes, then both saves, and both fan-outs, cost the same queries
    assert costs(meter(scoped, 2)) == costs(meter(unscoped, 2))
    assert (
        Delivery.objects.filter(event__type="session.updated", endpoint__organization=organization).count()
        == 6
    )
