"""OCPP 2.0.1 TransactionEvents: their order, and what each one means for a session.

A 2.0.1 charger tells a transaction as numbered events (seqNo): Started, Updated..., Ended. They
make the calls 1.6J's StartTransaction, MeterValues and StopTransaction make (`transactions`), so
that a session raises the same events whatever its charger speaks:
- the session starts with the first event that says who charges (an idToken, or the remoteStartId
  of a session we asked for): the Started, or the Updated (Authorized) of a charger whose
  transactions begin at the plug. Its meter start is that event's energy register, else the last
  one the transaction reported before it, else 0; that event's meter values say nothing more (as
  1.6J's meterStart). A transaction that never says who charges is no session.
- an Updated's meter values are the session's meter values; chargingState SuspendedEV is the car
  full (1.6J's StatusNotification SuspendedEV).
- the Ended stops the session: its meter stop is the Ended's energy register, else the last one.

Order. A transaction's `ChargerTransaction` knows the next seq_no it expects (from its Started). An
event that continues the sequence is applied at once, with those that were waiting for it. An event
the charger queued while offline (`offline`) that comes before an earlier one waits for it. Gaps do
not hold for ever: a live event (the charger has sent its queue) or the Ended applies all that
waits, in seq_no order, a missing seq_no counting as lost. An event already seen, one older than
what was applied, and any after the Ended change nothing (as 1.6J's messages after a stop).

Times are the charger's. A late Started starts its session when the charger says it started (if it
answers a remote start cancelled meanwhile, it opens a session of its own: `session.created`); a late
Ended ends it when the charger says it ended, priced up to then. Only live events move the status
of the EVSE's connector (`evse`): a queued one tells the past.
"""

import logging
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from chargestations.models import Chargestation
from ocpp_gateway import evse, transactions
from ocpp_gateway.meter import charger_time, energy_register, readings_parse
from ocpp_gateway.models import ChargerTransaction
from sessions_app.models import Session, SessionStatus

logger = logging.getLogger(__name__)

STARTED, UPDATED, ENDED = "Started", "Updated", "Ended"


def _token(event: dict[str, Any]) -> str | None:
    id_token = event.get("id_token")
    return str(id_token["id_token"]) if isinstance(id_token, dict) else None


@transaction.atomic
def transaction_event_receive(*, chargestation_id: int, event: dict[str, Any]) -> str | None:
    """A TransactionEvent (its payload as the ocpp package hands it); the status of its idToken, if any."""
    station = Chargestation.objects.get(pk=chargestation_id)
    token = _token(event)
    status = (
        None
        if token is None
        else transactions.id_tag_status(
            organization_id=station.organization_id, chargestation_id=station.pk, token=token
        )
    )
    record, _ = ChargerTransaction.objects.select_for_update().get_or_create(
        chargestation=station, transaction_id=event["transaction_info"]["transaction_id"]
    )
    seq_no = int(event["seq_no"])
    seen = record.next_seq_no is not None and seq_no < record.next_seq_no
    if record.ended or seen or any(held["seq_no"] == seq_no for held in record.held):
        logger.info(
            "ocpp.transaction_event.ignored",
            extra={"transaction_id": record.transaction_id, "seq_no": seq_no, "ended": record.ended},
        )
        return status
    if record.evse_id is None and isinstance(event.get("evse"), dict):
        record.evse_id = int(event["evse"]["id"])
    record.held = sorted([*record.held, event], key=lambda held: int(held["seq_no"]))
    settle = not event.get("offline") or event["event_type"] == ENDED
    for ready in _ready(record, settle=settle):
        _apply(record=record, station=station, event=ready)
    if record.held:
        logger.info(
            "ocpp.transaction_event.held",
            extra={"transaction_id": record.transaction_id, "waiting_for": record.next_seq_no},
        )
    record.save()
    if not event.get("offline"):
        evse.evse_status_record(
            chargestation_id=station.pk,
            evse_id=_evse_id(record),
            charging_state=event["transaction_info"].get("charging_state"),
            transaction_ended=event["event_type"] == ENDED,
        )
    return status


def _evse_id(record: ChargerTransaction) -> int:
    # 2.0.1 names the EVSE in a transaction's first event; one that never does is a one-EVSE station.
    return record.evse_id or 1


def _ready(record: ChargerTransaction, *, settle: bool) -> list[dict[str, Any]]:
    """The held events that may be applied now, in order (all of them when `settle`)."""
    ready = []
    for event in record.held:
        seq_no = int(event["seq_no"])
        if record.next_seq_no is None:
            continues = event["event_type"] == STARTED
        else:
            continues = seq_no == record.next_seq_no
        if not (continues or settle):
            break
        ready.append(event)
        record.next_seq_no = seq_no + 1
    record.held = record.held[len(ready) :]
    return ready


def _apply(*, record: ChargerTransaction, station: Chargestation, event: dict[str, Any]) -> None:
    info = event["transaction_info"]
    at = charger_time(event["timestamp"])
    readings = readings_parse(event.get("meter_value") or [])
    register = energy_register(readings)
    session = Session.objects.filter(chargestation=station, transaction_id=record.transaction_id).first()
    if session is None:
        session = _session_start(record=record, station=station, event=event, register=register)
    elif event["event_type"] == UPDATED and readings:
        transactions.transaction_meter(
            chargestation_id=station.pk,
            connector_number=_evse_id(record),
            transaction_id=record.transaction_id,
            readings=readings,
        )
    if session is not None and info.get("charging_state") == "SuspendedEV" and event["event_type"] != ENDED:
        transactions.session_ev_charged(chargestation_id=station.pk, connector_number=_evse_id(record), at=at)
    if event["event_type"] == ENDED:
        record.ended = True
        if session is not None:
            last = register if register is not None else record.last_register_wh
            transactions.transaction_stop(
                chargestation_id=station.pk,
                transaction_id=record.transaction_id,
                meter_stop=round(last) if last is not None else int(session.metrics.get("meterStart") or 0),
                timestamp=at,
            )
    if register is not None:
        record.last_register_wh = register


def _session_start(
    *, record: ChargerTransaction, station: Chargestation, event: dict[str, Any], register: float | None
) -> Session | None:
    """The event that says who charges starts the session; None until one does."""
    token = _token(event)
    requested_id = event["transaction_info"].get("remote_start_id")
    if token is None and requested_id is not None:
        token = (
            Session.objects.filter(pk=requested_id, chargestation=station, status=SessionStatus.CREATED)
            .values_list("id_tag", flat=True)
            .first()
        )
    if token is None:
        return None
    meter_start = register if register is not None else record.last_register_wh
    transactions.transaction_start(
        chargestation_id=station.pk,
        connector_number=_evse_id(record),
        id_tag=token,
        meter_start=round(meter_start or 0),
        timestamp=charger_time(event["timestamp"]),
        transaction_id=record.transaction_id,
        requested_session_id=requested_id,
    )
    return Session.objects.get(chargestation=station, transaction_id=record.transaction_id)


# An ended transaction's bookkeeping outlives it a day (a charger may repeat its last events); one
# that never ended is given up after a month (its charger lost it; its session times out alone).
ENDED_KEPT = timedelta(days=1)
OPEN_KEPT = timedelta(days=30)


def charger_transactions_purge() -> int:
    """Delete the bookkeeping of transactions that are over; how many rows went."""
    now = timezone.now()
    ended = ChargerTransaction.objects.filter(ended=True, updated_at__lt=now - ENDED_KEPT)
    abandoned = ChargerTransaction.objects.filter(updated_at__lt=now - OPEN_KEPT)
    return ended.delete()[0] + abandoned.delete()[0]
