"""Charging sessions as chargers report them: start, meter values, stop, and the car full.

Each step is one `save()` of a locked row inside `transaction.atomic`, and the fields it changes
are chosen so that the webhooks catalog raises exactly that step's events: a start changes
`status` with the transaction's fields (`session.started`, `transaction.started`), a meter
reading changes `energy_report` (`session.updated`, `transaction.updated`), a stop changes
`status` with the final metrics and cost (`session.ended`, `transaction.stopped`). The moment
the car is full is a save of its own, after the reading that revealed it, so that the reading
still raises its `session.updated`.

Times are the charger's: the cost of a session follows its meter, not our clock.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils.dateparse import parse_datetime

from chargestations.models import Chargestation, Connector
from edrv_project.times import utc_timestamp
from ocpp_gateway import ceilings, conf
from ocpp_gateway.stations import connector_for
from sessions_app import costs
from sessions_app.models import IdTag, Session, SessionStatus

logger = logging.getLogger(__name__)

ACCEPTED, BLOCKED, INVALID = "Accepted", "Blocked", "Invalid"


@dataclass(frozen=True)
class MeterReading:
    """One sampled moment, in W, Wh, A and percent; None where the charger did not say."""

    timestamp: datetime
    energy_wh: float | None = None
    power_w: float | None = None
    current_a: float | None = None
    state_of_charge: float | None = None


def _moment(value: object) -> datetime | None:
    return parse_datetime(value) if isinstance(value, str) else None


def id_tag_status(*, organization_id: int, chargestation_id: int, token: str) -> str:
    """Authorize: a token of the organization's drivers, or the tag of a session we asked to start."""
    tag = IdTag.objects.filter(organization_id=organization_id, token=token).select_related("driver").first()
    if tag is not None:
        return ACCEPTED if tag.active and tag.driver.active else BLOCKED
    pending = Session.objects.filter(
        chargestation_id=chargestation_id, status=SessionStatus.CREATED, id_tag=token
    )
    return ACCEPTED if pending.exists() else INVALID


@transaction.atomic
def transaction_start(
    *,
    chargestation_id: int,
    connector_number: int,
    id_tag: str,
    meter_start: int,
    timestamp: datetime,
    transaction_id: str | None = None,
    requested_session_id: int | None = None,
) -> tuple[str, str]:
    """A transaction started: start the session we asked for, or open one; (transaction id, tag status).

    OCPP 1.6J lets us number transactions (the session's id, `transaction_id` None); in 2.0.1 the
    charger names them, and quotes the remote start it answers (`requested_session_id`, which wins
    over a match by tag). A charger that repeats a start whose answer it lost gets the same one.
    """
    station = Chargestation.objects.get(pk=chargestation_id)
    status = id_tag_status(organization_id=station.organization_id, chargestation_id=station.pk, token=id_tag)
    connector = connector_for(chargestation=station, number=connector_number)
    started = utc_timestamp(timestamp)
    repeated = (
        Session.objects.filter(chargestation=station, transaction_id=transaction_id).first()
        if transaction_id is not None
        else Session.objects.filter(
            chargestation=station,
            connector=connector,
            id_tag=id_tag,
            metrics__chargingStart=started,
            metrics__meterStart=meter_start,
        ).first()
    )
    if repeated is not None and repeated.transaction_id is not None:
        return repeated.transaction_id, status
    requested = Session.objects.select_for_update().filter(
        chargestation=station, status=SessionStatus.CREATED
    )
    session = (
        (requested.filter(pk=requested_session_id).first() if requested_session_id is not None else None)
        or requested.filter(id_tag=id_tag)
        .filter(Q(connector__isnull=True) | Q(connector=connector))
        .order_by("created_at")
        .first()
    ) or _session_open(station=station, connector=connector, id_tag=id_tag)
    session.status = SessionStatus.STARTED
    session.connector = connector
    session.transaction_id = transaction_id or str(session.pk)
    rate = connector.rate
    if session.rate_id is None and rate is not None:
        session.rate, session.currency = rate, rate.currency
    session.metrics = {**session.metrics, "chargingStart": started, "meterStart": meter_start}
    session.save()
    logger.info("ocpp.transaction.started", extra={"session_id": session.pk, "id_tag_status": status})
    return session.transaction_id, status


def _session_open(*, station: Chargestation, connector: Connector, id_tag: str) -> Session:
    """A session the charger started on its own (a card at the reader): `session.created` first."""
    tag = IdTag.objects.filter(organization_id=station.organization_id, token=id_tag).first()
    rate = connector.rate
    session = Session(
        organization_id=station.organization_id,
        chargestation=station,
        connector=connector,
        driver_id=tag.driver_id if tag is not None else None,
        rate=rate,
        currency=rate.currency if rate is not None else station.organization.currency,
        id_tag=id_tag,
    )
    session.save()
    return session


def _running(*, chargestation_id: int, transaction_id: str | None, connector_number: int) -> Session | None:
    # Only the session's row: a lookup by connector joins the connector, which stays unlocked.
    sessions = Session.objects.select_for_update(of=("self",)).filter(
        chargestation_id=chargestation_id, status=SessionStatus.STARTED
    )
    if transaction_id is not None:
        return sessions.filter(transaction_id=transaction_id).first()
    return sessions.filter(connector__connector_number=connector_number).order_by("-created_at").first()


def _energy_report(previous: dict, reading: MeterReading) -> dict:
    """The latest reading in eDRV's shape; a quantity this reading lacks keeps its last value."""

    def quantity(key: str, value: float | None, unit: str, scale: float, digits: int) -> dict | None:
        if value is None:
            return previous.get(key)
        return {"value": round(value / scale, digits), "unit": unit}

    return {
        "timestamp": utc_timestamp(reading.timestamp),
        "current": quantity("current", reading.current_a, "A", 1, 2),
        "power": quantity("power", reading.power_w, "kW", 1000, 3),
        "energy_meter": quantity("energy_meter", reading.energy_wh, "kWh", 1000, 3),
        "state_of_charge": quantity("state_of_charge", reading.state_of_charge, "Percent", 1, 1),
    }


def _idle_since(session: Session, readings: list[MeterReading]) -> tuple[str | None, datetime | None]:
    """When the car stopped drawing power (None while it draws), and when it counts as charged."""
    idle = session.metrics.get("idleSince")
    full_at = None
    for reading in readings:
        if reading.power_w is None:
            continue
        if reading.power_w > conf.ev_charged_max_power():
            idle = None
            continue
        idle = idle or utc_timestamp(reading.timestamp)
        since = _moment(idle)
        waited = timedelta(seconds=conf.ev_charged_after())
        if since is not None and reading.timestamp - since >= waited and full_at is None:
            full_at = since
    return idle, full_at


def _priced(session: Session, *, until: datetime, energy_wh: int, ev_charged_at: datetime | None) -> None:
    start = _moment(session.metrics.get("chargingStart")) or until
    usage = costs.usage_measure(
        started_at=start, until=until, energy_wh=energy_wh, ev_charged_at=ev_charged_at
    )
    components = session.rate.price_components.all() if session.rate is not None else []
    session.cost_amount = costs.cost_compute(rate=session.rate, components=components, usage=usage)
    session.metrics["energyConsumed"] = energy_wh
    session.metrics["energyPeriod"] = usage.charging_seconds + usage.parking_seconds


@transaction.atomic
def transaction_meter(
    *,
    chargestation_id: int,
    connector_number: int,
    transaction_id: str | None,
    readings: list[MeterReading],
) -> None:
    """MeterValues: the latest reading, running metrics and cost; then the car full, and each ceiling
    reached (the charger is then asked to stop), once."""
    session = _running(
        chargestation_id=chargestation_id, transaction_id=transaction_id, connector_number=connector_number
    )
    if session is None or not readings:
        return
    readings = sorted(readings, key=lambda r: r.timestamp)
    latest = readings[-1]
    registers = [r.energy_wh for r in readings if r.energy_wh is not None]
    meter_start = int(session.metrics.get("meterStart") or 0)
    energy = round(registers[-1] - meter_start) if registers else session.metrics.get("energyConsumed", 0)
    idle, full_at = _idle_since(session, readings)
    session.metrics = {k: v for k, v in session.metrics.items() if k != "idleSince"}
    if idle is not None:
        session.metrics["idleSince"] = idle
    session.energy_report = _energy_report(session.energy_report, latest)
    _priced(session, until=latest.timestamp, energy_wh=energy, ev_charged_at=session.ev_charged_at or full_at)
    session.save(update_fields=["energy_report", "metrics", "cost_amount", "updated_at"])
    if full_at is not None and session.ev_charged_at is None:
        session.ev_charged_at = full_at
        session.save(update_fields=["ev_charged_at", "updated_at"])
    ceilings.session_ceilings_check(session=session, at=latest.timestamp)


@transaction.atomic
def transaction_stop(
    *, chargestation_id: int, transaction_id: str, meter_stop: int, timestamp: datetime
) -> None:
    """StopTransaction: the session ends with its final metrics and cost. A repeat changes nothing."""
    session = _running(chargestation_id=chargestation_id, transaction_id=transaction_id, connector_number=0)
    if session is None:
        logger.info("ocpp.transaction.stop_unknown", extra={"transaction_id": transaction_id})
        return
    energy = meter_stop - int(session.metrics.get("meterStart") or 0)
    session.metrics = {**session.metrics, "chargingStop": utc_timestamp(timestamp), "meterStop": meter_stop}
    _priced(session, until=timestamp, energy_wh=energy, ev_charged_at=session.ev_charged_at)
    session.status = SessionStatus.ENDED
    session.save(update_fields=["status", "metrics", "cost_amount", "updated_at"])


@transaction.atomic
def session_ev_charged(*, chargestation_id: int, connector_number: int, at: datetime) -> None:
    """The charger says the car suspended charging (SuspendedEV): full, if not known already."""
    session = _running(
        chargestation_id=chargestation_id, transaction_id=None, connector_number=connector_number
    )
    if session is not None and session.ev_charged_at is None:
        session.ev_charged_at = at
        session.save(update_fields=["ev_charged_at", "updated_at"])
