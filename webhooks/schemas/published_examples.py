"""The example body the OpenAPI document shows for each webhook: real, and the same every time.

Real: `data` is what the very serializers of the events make (`envelopes.data_serializer`), around the
envelope deliveries use (`payloads.envelope`). The same every time, and without a database: the rows are
model instances that are never saved, with fixed ids and times, and their lists (connectors, price
components, id tags) set as if prefetched, which the nested serializers read instead of querying.
(`webhooks.schemas.examples` serves the dashboard and `GET /api/v1/event-types/:type` with an
organization's own data instead, from rows it writes and rolls back.)
"""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Model

from chargestations.models import Chargestation, Connector, Location, PriceComponent, Protocol, Rate
from organizations.models import Organization, Plan
from sessions_app.ceilings import exceeded_field
from sessions_app.models import Driver, IdTag, Session, SessionStatus
from webhooks.catalog.payloads import envelope
from webhooks.catalog.types import EVENT_TYPES, Envelope
from webhooks.models import Event
from webhooks.schemas.envelopes import data_serializer
from webhooks.schemas.operational_examples import operational_rows

# When the example happened, and when its objects were made: fixed, so the document never changes.
AT = datetime(2026, 2, 6, 14, 30, 0, 863000, tzinfo=UTC)
_MADE = {"created_at": AT - timedelta(minutes=45), "updated_at": AT}
_ADDRESS = {"streetAndNumber": "1 Example Street", "city": "Amsterdam", "postalCode": "1011", "country": "NL"}

# A session's status as each of its types finds it; the others find it started.
_SESSION_STATUS = {
    "session.created": SessionStatus.CREATED,
    "session.ended": SessionStatus.ENDED,
    "session.cancelled": SessionStatus.CANCELLED,
    "session.start_failure": SessionStatus.START_FAILED,
    "transaction.stopped": SessionStatus.ENDED,
}
_CEILINGS = {"energy": 20000, "time": 7200, "cost": "10.00"}
# A ceiling's type: the ceiling the session has just reached.
_CEILING_REACHED = {
    "session.stop_energy_ceiling_exceeded": ("energy", 7400),
    "session.stop_time_ceiling_exceeded": ("time", 2400),
    "session.stop_cost_ceiling_exceeded": ("cost", "3.00"),
}


def _prefetched(instance: Model, **lists: list[Any]) -> None:
    instance._prefetched_objects_cache = lists  # type: ignore[attr-defined]


def _session(type_name: str, organization: Organization, **related: Any) -> Session:
    status = _SESSION_STATUS.get(type_name, SessionStatus.STARTED)
    metrics: dict[str, Any] = {
        "chargingStart": "2026-02-06T13:50:00.000Z",
        "meterStart": 0,
        "energyConsumed": 7400,
    }
    if status == SessionStatus.ENDED:
        metrics |= {"chargingStop": "2026-02-06T14:30:00.000Z", "meterStop": 7400}
    ceilings: dict[str, Any] = dict(_CEILINGS)
    reached: dict[str, Any] = {}
    if type_name in _CEILING_REACHED:
        kind, limit = _CEILING_REACHED[type_name]
        ceilings[kind], reached[exceeded_field(kind)] = limit, AT
    failed = status == SessionStatus.START_FAILED
    return Session(
        organization=organization,
        public_id="65f1c0a1b2c3d4e5f6a7b806",
        status=status,
        failure_reason="The charger rejected the start: the connector is unavailable." if failed else "",
        transaction_id=None if failed or status == SessionStatus.CREATED else "12345",
        id_tag="EXAMPLE0001",
        metrics={} if failed else metrics,
        energy_report={
            "timestamp": "2026-02-06T14:30:00.000Z",
            "current": {"value": 16.0, "unit": "A"},
            "power": {"value": 11.0, "unit": "kW"},
            "energy_meter": {"value": 7.4, "unit": "kWh"},
            "state_of_charge": {"value": 64.0, "unit": "Percent"},
        },
        cost_amount=Decimal("3.13"),
        currency="EUR",
        ceilings=ceilings,
        **reached,
        **related,
        **_MADE,
    )


def _rows(type_name: str) -> dict[str, tuple[Model, Model]]:
    """(subject, changed object) per catalog object, as a change of this type would have them."""
    organization = Organization(
        public_id="65f1c0a1b2c3d4e5f6a7b800",
        name="Example Charging",
        email="ops@example.com",
        plan=Plan.STARTER,
        currency="EUR",
        timezone="Europe/Amsterdam",
        address=_ADDRESS,
        **_MADE,
    )
    location = Location(
        organization=organization,
        public_id="65f1c0a1b2c3d4e5f6a7b801",
        name="Example Plaza",
        address=_ADDRESS,
        latitude=Decimal("52.370216"),
        longitude=Decimal("4.895168"),
        timezone="Europe/Amsterdam",
        opening_hours={"twentyfourseven": True},
        **_MADE,
    )
    rate = Rate(organization=organization, public_id="65f1c0a1b2c3d4e5f6a7b802", name="Standard", **_MADE)
    _prefetched(rate, price_components=[PriceComponent(rate=rate, type="ENERGY", price=Decimal("0.3500"))])
    station = Chargestation(
        organization=organization,
        location=location,
        public_id="65f1c0a1b2c3d4e5f6a7b803",
        name="Example charger",
        endpoint="EXAMPLE-CP-01",
        protocol=Protocol.OCPP16,
        online=True,
        vendor="ExampleVendor",
        model="EX-22",
        charge_point_serial_number="EX22-0001",
        firmware_version="1.0.0",
        last_boot_at=AT - timedelta(hours=2),
        last_connect_at=AT - timedelta(hours=2),
        last_message_at=AT,
        **_MADE,
    )
    connector = Connector(
        chargestation=station,
        public_id="65f1c0a1b2c3d4e5f6a7b804",
        connector_number=1,
        status="Charging",
        rate=rate,
        **_MADE,
    )
    _prefetched(station, connectors=[connector])
    driver = Driver(
        organization=organization,
        public_id="65f1c0a1b2c3d4e5f6a7b805",
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.com",
        **_MADE,
    )
    _prefetched(driver, id_tags=[IdTag(organization=organization, driver=driver, token="EXAMPLE0001")])  # noqa: S106 - an RFID id
    session = _session(
        type_name, organization, driver=driver, chargestation=station, connector=connector, rate=rate
    )
    return {
        "organization": (organization, organization),
        "location": (location, location),
        "chargestation": (station, station),
        "connector": (station, connector),
        "rate": (rate, rate),
        "user": (driver, driver),
        "session": (session, session),
        # The webhook and delivery in the state each operational type finds them (disabled, failing...).
        **operational_rows(type_name, organization=organization, at=AT),
    }


def published_example(type_name: str) -> dict[str, Any]:
    """The whole body of an example event of this type: no query, and the same on every call."""
    event_type = EVENT_TYPES[type_name]
    subject, changed = _rows(type_name)[event_type.object]
    # An eDRV event carries its subject as the API shows it; a charger-protocol one, what changed.
    shown = changed if event_type.envelope is Envelope.CHARGER else subject
    event = Event(
        public_id="65f1c0a1b2c3d4e5f6a7b8ff",
        type=type_name,
        object=event_type.object,
        data=dict(data_serializer(event_type)(shown).data),
        created_at=AT,
    )
    # Plain JSON values, as a delivery's body is made of.
    parsed: dict[str, Any] = json.loads(json.dumps(envelope(event)))
    return parsed
