"""A realistic example of any event type: its `data` as a real change would carry it.

The example's `data` comes from the real serializers over real rows that are created in a
savepoint and rolled back at once: it has exactly the shape a real event has, and nothing of
it (nor any event it raised) survives.
"""

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from chargestations.models import Chargestation, Connector, Location, PriceComponent, Rate
from edrv_project.times import utc_timestamp
from organizations.models import Organization
from sessions_app.ceilings import exceeded_field
from sessions_app.models import Driver, IdTag, Session
from webhooks.catalog.payloads import event_data
from webhooks.catalog.types import EVENT_TYPES
from webhooks.schemas.operational_examples import operational_rows

# The example session's ceilings (none reached), and for a ceiling's type the one it has just reached.
_CEILINGS = {"energy": 20000, "time": 7200, "cost": "10.00"}
_CEILINGS_REACHED = {
    "session.stop_energy_ceiling_exceeded": ("energy", 7400),
    "session.stop_time_ceiling_exceeded": ("time", 2400),
    "session.stop_cost_ceiling_exceeded": ("cost", "3.00"),
}


def _session_ceilings(type_name: str) -> dict[str, Any]:
    """`ceilings`, and the `*_exceeded_at` its change set when the type is a ceiling's."""
    if type_name not in _CEILINGS_REACHED:
        return {"ceilings": _CEILINGS}
    kind, limit = _CEILINGS_REACHED[type_name]
    return {"ceilings": {**_CEILINGS, kind: limit}, exceeded_field(kind): timezone.now()}


def _example_rows(organization: Organization, type_name: str) -> dict[str, tuple[Model, Model]]:
    """(subject, changed object) per catalog object, as a real change of this type would have them."""
    location = Location.objects.create(
        organization=organization,
        name="Example Plaza",
        address={
            "streetAndNumber": "1 Example Street",
            "city": "Amsterdam",
            "postalCode": "1011",
            "country": "NL",
        },
        latitude="52.370216",
        longitude="4.895168",
    )
    rate = Rate.objects.create(organization=organization, name="Standard", currency=organization.currency)
    PriceComponent.objects.create(rate=rate, type="ENERGY", price="0.3500", tax="21.00")
    station = Chargestation.objects.create(
        organization=organization,
        location=location,
        name="Example charger",
        endpoint=f"EXAMPLE-{timezone.now():%H%M%S%f}",
        online=True,
        vendor="ExampleVendor",
        model="EX-22",
        firmware_version="1.0.0",
    )
    connector = Connector.objects.create(
        chargestation=station, connector_number=1, status="Charging", rate=rate
    )
    driver = Driver.objects.create(organization=organization, first_name="Ada", last_name="Lovelace")
    IdTag.objects.create(organization=organization, driver=driver, token="EXAMPLE0001")  # noqa: S106 - an RFID id
    now = timezone.now()
    # 40 minutes at 11 kW: 7.4 kWh at 0.35 + 21 %.
    session = Session.objects.create(
        organization=organization,
        driver=driver,
        chargestation=station,
        connector=connector,
        rate=rate,
        status="started",
        transaction_id="12345",
        id_tag="EXAMPLE0001",
        metrics={
            "chargingStart": utc_timestamp(now - timedelta(minutes=40)),
            "meterStart": 0,
            "energyConsumed": 7400,
        },
        energy_report={
            "timestamp": utc_timestamp(now),
            "current": {"value": 16.0, "unit": "A"},
            "power": {"value": 11.0, "unit": "kW"},
            "energy_meter": {"value": 7.4, "unit": "kWh"},
            "state_of_charge": {"value": 64.0, "unit": "Percent"},
        },
        cost_amount="3.13",
        currency=organization.currency,
        **_session_ceilings(type_name),
    )
    return {
        "organization": (organization, organization),
        "location": (location, location),
        "chargestation": (station, station),
        "connector": (station, connector),
        "rate": (rate, rate),
        "user": (driver, driver),
        "session": (session, session),
        **operational_rows(type_name, organization=organization, at=now),
    }


def example_data(*, organization: Organization, type_name: str) -> Any:
    with transaction.atomic():
        savepoint = transaction.savepoint()
        try:
            subject, changed = _example_rows(organization, type_name)[EVENT_TYPES[type_name].object]
            return event_data(type_name=type_name, subject=subject, changed=changed, snapshots={})
        finally:
            transaction.savepoint_rollback(savepoint)
