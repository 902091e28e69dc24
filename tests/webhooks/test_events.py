"""Which change raises which event, and what the outbox holds afterwards: the change writes the
events alone, and a worker's fan-out (run here by hand) writes their deliveries."""

from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from chargestations.models import Chargestation, Connector, PriceComponent
from organizations.models import Organization, Plan
from sessions_app.models import Session
from tests.factories import (
    ChargestationFactory,
    ConnectorFactory,
    DriverFactory,
    EndpointFactory,
    IdTagFactory,
    LocationFactory,
    PriceComponentFactory,
    RateFactory,
    SessionFactory,
)
from tests.pipeline import fan_out_waiting
from webhooks.models import Delivery, DeliveryStatus, Event

pytestmark = pytest.mark.django_db


def raised(change: Callable[[], Any]) -> list[str]:
    """The event types `change`, a transaction of its own, recorded, in order."""
    last = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
    with transaction.atomic():
        change()
    return list(Event.objects.filter(id__gt=last).order_by("id").values_list("type", flat=True))


@pytest.fixture
def station(organization: Organization) -> Chargestation:
    station = ChargestationFactory.create(location=LocationFactory.create(organization=organization))
    ConnectorFactory.create(chargestation=station, connector_number=1)
    return station


def save(instance: Any, **changes: Any) -> Callable[[], None]:
    def apply() -> None:
        for name, value in changes.items():
            setattr(instance, name, value)
        instance.save()

    return apply


# Chargestations.


def test_creating_a_chargestation_raises_created_with_the_station_as_data(organization: Organization) -> None:
    location = LocationFactory.create(organization=organization)

    assert raised(lambda: ChargestationFactory.create(location=location, endpoint="CP-NEW")) == [
        "chargestation.created"
    ]
    event = Event.objects.get(type="chargestation.created")
    assert event.object == "chargestation"
    assert event.data["endpoint"] == "CP-NEW"
    assert event.data["_id"] == Chargestation.objects.get(endpoint="CP-NEW").public_id


@pytest.mark.parametrize(
    "field, value",
    [
        ("endpoint", "CP-RENAMED"),
        ("active", False),
        ("public", True),
        ("open_for_business", False),
        ("meta_data", {"site": "north"}),
    ],
)
def test_chargestation_updated_fires_for_its_five_fields(
    station: Chargestation, field: str, value: Any
) -> None:
    assert raised(save(station, **{field: value})) == ["chargestation.updated"]


@pytest.mark.parametrize(
    "field, value",
    [("name", "Renamed"), ("heartbeat_interval", 60), ("vendor", "ABB"), ("last_message_at", timezone.now())],
)
def test_other_chargestation_fields_raise_nothing(station: Chargestation, field: str, value: Any) -> None:
    assert raised(save(station, **{field: value})) == []


def test_saving_an_unchanged_chargestation_raises_nothing(station: Chargestation) -> None:
    assert raised(station.save) == []


def test_online_and_offline_raise_both_catalogs(station: Chargestation) -> None:
    assert raised(save(station, online=True)) == ["chargestation.online", "charger.connected"]
    assert raised(save(station, online=False)) == ["chargestation.offline", "charger.disconnected"]
    event = Event.objects.get(type="charger.disconnected")
    assert event.data == {"chargeBoxId": station.endpoint}


def test_boot_information_raises_charger_boot(station: Chargestation) -> None:
    change = save(station, vendor="ABB", model="Terra", firmware_version="1.2", last_boot_at=timezone.now())

    assert raised(change) == ["charger.boot"]
    assert Event.objects.get(type="charger.boot").data["chargePointVendor"] == "ABB"


def test_deleting_a_chargestation_raises_only_its_deletion(station: Chargestation) -> None:
    assert raised(station.delete) == ["chargestation.deleted"]


# Connectors.


def test_connector_changes_other_than_status_raise_connector_updated(station: Chargestation) -> None:
    connector = station.connectors.get()

    assert raised(save(connector, power=50)) == ["chargestation.connector.updated"]
    data = Event.objects.get(type="chargestation.connector.updated").data
    assert data["_id"] == station.public_id
    assert data["connectors"][0]["power"] == 50


def test_connector_status_raises_status_events_only(station: Chargestation) -> None:
    connector = station.connectors.get()

    assert raised(save(connector, status="Charging")) == [
        "chargestation.connector_status.updated",
        "connector.status_changed",
    ]
    assert Event.objects.get(type="connector.status_changed").data == {
        "chargeBoxId": station.endpoint,
        "connectorId": 1,
        "status": "Charging",
        "errorCode": "NoError",
    }


def test_connector_created_and_deleted(station: Chargestation) -> None:
    created = raised(lambda: ConnectorFactory.create(chargestation=station, connector_number=2))
    deleted = raised(Connector.objects.get(chargestation=station, connector_number=2).delete)

    assert created == ["chargestation.connector.created"]
    assert deleted == ["chargestation.connector.deleted"]


# Sessions.


@pytest.mark.parametrize(
    "status, expected",
    [
        ("started", ["session.started", "transaction.started"]),
        ("ended", ["session.ended", "transaction.stopped"]),
        ("cancelled", ["session.cancelled"]),
        ("start_failed", ["session.start_failure"]),
    ],
)
def test_session_status_transitions(station: Chargestation, status: str, expected: list[str]) -> None:
    session = SessionFactory.create(chargestation=station)

    assert raised(save(session, status=status, metrics={"energyConsumed": 1})) == expected


def test_session_created_and_other_changes_are_updated(station: Chargestation) -> None:
    session: list[Session] = []
    driver = DriverFactory.create(organization=station.organization)

    assert raised(lambda: session.append(SessionFactory.create(chargestation=station, driver=driver))) == [
        "session.created"
    ]
    assert raised(save(session[0], metrics={"energyConsumed": 1200})) == ["session.updated"]


def test_meter_values_raise_session_and_transaction_updated(station: Chargestation) -> None:
    session = SessionFactory.create(chargestation=station, status="started", transaction_id=7)

    assert raised(save(session, energy_report={"power": 11000})) == ["session.updated", "transaction.updated"]


def test_stop_failure_and_ev_charged(station: Chargestation) -> None:
    session = SessionFactory.create(chargestation=station, status="started")

    assert raised(save(session, stop_failed_at=timezone.now(), stop_failure_reason="Rejected")) == [
        "session.stop_failure"
    ]
    assert raised(save(session, ev_charged_at=timezone.now())) == ["session.ev_charged"]
    assert raised(save(session, ev_charged_at=timezone.now())) == []


@pytest.mark.parametrize("kind", ["energy", "time", "cost"])
def test_a_ceiling_reached_raises_only_its_own_event_once(station: Chargestation, kind: str) -> None:
    # Given a started session with ceilings
    session = SessionFactory.create(
        chargestation=station, status="started", ceilings={"energy": 1, "time": 1, "cost": "1.00"}
    )
    field = f"{kind}_ceiling_exceeded_at"

    # When the ceiling is marked reached, then marked again
    first = raised(save(session, **{field: timezone.now()}))
    again = raised(save(session, **{field: timezone.now()}))

    # Then its event is raised the first time only, and no session.updated with it
    assert (first, again) == ([f"session.stop_{kind}_ceiling_exceeded"], [])


def test_two_ceilings_reached_in_one_save_raise_both_and_changing_ceilings_is_an_update(
    station: Chargestation,
) -> None:
    session = SessionFactory.create(chargestation=station, status="started")
    now = timezone.now()

    assert raised(save(session, ceilings={"energy": 5000})) == ["session.updated"]
    assert raised(save(session, energy_ceiling_exceeded_at=now, cost_ceiling_exceeded_at=now)) == [
        "session.stop_energy_ceiling_exceeded",
        "session.stop_cost_ceiling_exceeded",
    ]


def test_transaction_started_carries_the_protocol_fields(station: Chargestation) -> None:
    session = SessionFactory.create(chargestation=station, connector=station.connectors.get(), id_tag="TAG1")

    raised(save(session, status="started", transaction_id=12345, metrics={"meterStart": 0}))

    assert Event.objects.get(type="transaction.started").data == {
        "transactionId": 12345,
        "chargeBoxId": station.endpoint,
        "connectorId": 1,
        "idTag": "TAG1",
        "meterStart": 0,
    }


# The other objects.


def test_location_rate_user_and_organization_events(organization: Organization) -> None:
    location = LocationFactory.create(organization=organization)
    rate = RateFactory.create(organization=organization)
    driver = DriverFactory.create(organization=organization)

    assert raised(save(location, name="Renamed")) == ["location.updated"]
    assert raised(save(rate, name="Night")) == ["rate.updated"]
    assert raised(lambda: PriceComponentFactory.create(rate=rate)) == ["rate.updated"]
    assert raised(save(driver, last_name="Lovelace")) == ["user.updated"]
    assert raised(lambda: IdTagFactory.create(driver=driver)) == ["user.updated"]
    assert raised(save(organization, name="New name")) == ["organization.updated"]
    assert raised(driver.delete) == ["user.deleted"]
    assert raised(rate.delete) == ["rate.deleted"]
    assert raised(location.delete) == ["location.deleted"]


def test_a_rate_event_carries_its_price_components(organization: Organization) -> None:
    rate = RateFactory.create(organization=organization)
    PriceComponentFactory.create(rate=rate, type="ENERGY", price="0.2500")

    raised(save(PriceComponent.objects.get(rate=rate), price="0.3000"))

    data = Event.objects.filter(type="rate.updated").latest("id").data
    assert [(c["type"], c["price"]) for c in data["price_components"]] == [("ENERGY", 0.3)]


# The outbox.


def test_one_delivery_per_subscribed_endpoint(station: Chargestation) -> None:
    organization = station.organization
    everything = EndpointFactory.create(organization=organization)
    sessions_only = EndpointFactory.create(organization=organization, events=["session.started"])
    EndpointFactory.create()  # another organization's endpoint hears nothing

    raised(save(station, active=False))
    assert not Delivery.objects.exists()  # the change wrote its event alone
    fan_out_waiting()

    assert list(Delivery.objects.values_list("endpoint", "status", "event__type")) == [
        (everything.pk, DeliveryStatus.PENDING, "chargestation.updated")
    ]
    assert not sessions_only.deliveries.exists()


def test_disabled_endpoint_and_free_plan_keep_skipped_deliveries(station: Chargestation) -> None:
    organization = station.organization
    disabled = EndpointFactory.create(organization=organization, active=False)

    raised(save(station, active=False))
    fan_out_waiting()
    assert disabled.deliveries.get().status == DeliveryStatus.SKIPPED

    active = EndpointFactory.create(organization=organization)
    Organization.objects.filter(pk=organization.pk).update(plan=Plan.FREE)
    raised(save(station, active=True))
    fan_out_waiting()
    assert active.deliveries.get().status == DeliveryStatus.SKIPPED


def test_a_rolled_back_change_records_nothing(station: Chargestation) -> None:
    fan_out_waiting()  # the station's own creation, before any endpoint: nothing to deliver
    EndpointFactory.create(organization=station.organization)

    def change_then_fail() -> None:
        with pytest.raises(RuntimeError), transaction.atomic():
            for number in range(2, 12):
                ConnectorFactory.create(chargestation=station, connector_number=number)
            station.active = False
            station.save()
            raise RuntimeError("rolled back")

    assert raised(change_then_fail) == []
    assert fan_out_waiting() == 0  # a worker finds nothing to fan out
    assert not Delivery.objects.exists()


def test_the_workers_are_hinted_only_after_commit(
    station: Chargestation, django_capture_on_commit_callbacks: Any
) -> None:
    EndpointFactory.create(organization=station.organization)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        raised(save(station, active=False))

    assert [c.__qualname__ for c in callbacks if "hint" in c.__qualname__] == [
        "events_record.<locals>.hint_workers_and_feed"
    ]


def test_a_rate_written_with_its_price_components_is_one_event(organization: Organization) -> None:
    def write_rate_with_components() -> None:
        rate = RateFactory.create(organization=organization)
        PriceComponentFactory.create(rate=rate, type="ENERGY")
        PriceComponentFactory.create(rate=rate, type="TIME")

    assert raised(write_rate_with_components) == ["rate.created"]
    data = Event.objects.get(type="rate.created").data
    assert sorted(c["type"] for c in data["price_components"]) == ["ENERGY", "TIME"]


def test_creating_a_rate_through_the_api_raises_one_complete_event(api: Any) -> None:
    response = api.post(
        "/api/v1/rates",
        {"name": "Day", "price_components": [{"type": "ENERGY", "price": 0.3}, {"type": "FLAT", "price": 1}]},
        format="json",
    )

    assert response.status_code == 201, response.json()
    [event] = Event.objects.all()
    assert event.type == "rate.created"
    assert event.data == response.json()
