"""A charging network to connect to, and the canonical charging session with its events."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chargestations.models import Chargestation, Connector, Rate
from chargestations.services import chargestation_authorization_key_generate
from ocpp_gateway.simulator import SimulatedCharger
from organizations.models import Organization
from sessions_app.models import Driver
from tests.factories import (
    ChargestationFactory,
    ConnectorFactory,
    DriverFactory,
    IdTagFactory,
    LocationFactory,
    PriceComponentFactory,
    RateFactory,
)

T0 = datetime(2026, 2, 6, 14, 0, tzinfo=UTC)

STATUS = ["chargestation.connector_status.updated", "connector.status_changed"]
# boot → Available → Preparing → start → Charging → 2 meter values → stop → Finishing → Available
SESSION_EVENTS = [
    "chargestation.online",
    "charger.connected",
    "charger.boot",
    *STATUS,
    *STATUS,
    "session.created",
    "session.started",
    "transaction.started",
    *STATUS,
    "session.updated",
    "transaction.updated",
    "session.updated",
    "transaction.updated",
    "session.ended",
    "transaction.stopped",
    *STATUS,
    *STATUS,
    "chargestation.offline",
    "charger.disconnected",
]
# ENERGY 0.30/kWh + 21 % on 11 kWh, and FLAT 1.00 + 21 %: 3.993 + 1.21 = 5.203.
SESSION_COST = 5.20


@dataclass
class Network:
    station: Chargestation
    connector: Connector
    rate: Rate
    driver: Driver
    tag: str
    authorization_key: str | None = None  # the station's key (HTTP Basic password), once it has one


def network_create(organization: Organization, **station: Any) -> Network:
    """One station with connector 1 priced by an ENERGY + FLAT rate, and a driver with a card; the
    station has an authorization key, as every station in production should."""
    rate = RateFactory.create(organization=organization)
    PriceComponentFactory.create(rate=rate, type="ENERGY", price="0.3000", tax="21.00")
    PriceComponentFactory.create(rate=rate, type="FLAT", price="1.0000", tax="21.00")
    location = LocationFactory.create(organization=organization)
    chargestation = ChargestationFactory.create(location=location, **station)
    connector = ConnectorFactory.create(chargestation=chargestation, connector_number=1, rate=rate)
    driver = DriverFactory.create(organization=organization)
    tag = IdTagFactory.create(driver=driver).token
    key = chargestation_authorization_key_generate(chargestation=chargestation)
    return Network(chargestation, connector, rate, driver, tag, authorization_key=key)


async def session_charge(charger: SimulatedCharger, tag: str) -> int:
    """The canonical session of SESSION_EVENTS (without the connection's own events)."""
    await charger.boot(
        vendor="ACME", model="AC22", charge_point_serial_number="SN-1", firmware_version="1.2.3"
    )
    await charger.status("Available")
    await charger.status("Preparing")
    assert await charger.authorize(tag) == "Accepted"
    transaction_id = await charger.start_transaction(tag, meter_start=1000, at=T0)
    await charger.status("Charging")
    await charger.meter(transaction_id, energy_wh=6500, power_w=11000, at=T0 + timedelta(minutes=30))
    await charger.meter(transaction_id, energy_wh=12000, power_w=11000, at=T0 + timedelta(minutes=60))
    await charger.stop_transaction(transaction_id, meter_stop=12000, at=T0 + timedelta(minutes=60))
    await charger.status("Finishing")
    await charger.status("Available")
    return transaction_id


# The shortest whole session: boot, start, one meter value, stop.
SHORT_SESSION_EVENTS = [
    "chargestation.online",
    "charger.connected",
    "charger.boot",
    "session.created",
    "session.started",
    "transaction.started",
    "session.updated",
    "transaction.updated",
    "session.ended",
    "transaction.stopped",
    "chargestation.offline",
    "charger.disconnected",
]


async def session_charge_short(charger: SimulatedCharger, tag: str) -> int:
    await charger.boot()
    transaction_id = await charger.start_transaction(tag, meter_start=0, at=T0)
    await charger.meter(transaction_id, energy_wh=5500, power_w=11000, at=T0 + timedelta(minutes=30))
    await charger.stop_transaction(transaction_id, meter_stop=11000, at=T0 + timedelta(minutes=60))
    return transaction_id


def event_type(request: Any) -> str:
    return str(request.json.get("type") or request.json.get("event"))


def station_of(request: Any, endpoints: dict[str, str]) -> str:
    """The public id of the station an event is about, in either envelope."""
    body = request.json
    if "event" in body:
        return endpoints[body["data"]["chargeBoxId"]]
    return str(body["data"]["_id"] if body["object"] == "chargestation" else body["data"]["chargestation"])
