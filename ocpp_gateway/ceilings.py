"""A session's ceilings against its metering: each one reached is marked once, then a stop is asked.

Metering (`transactions.transaction_meter`) checks every ceiling after each reading, in the
reading's transaction and by the charger's clock: energy is `metrics.energyConsumed`, cost is
`cost_amount`, time runs from the charger's `chargingStart` to the reading. A charger that sends no
meter values still has its time ceiling kept: a beat task checks the started sessions that have one,
by our clock, every `OCPP_CEILINGS_CHECK_INTERVAL` seconds.

The ceilings one check finds reached are marked in one save (`<kind>_ceiling_exceeded_at`: each
raises its `session.stop_<kind>_ceiling_exceeded`, once, and nothing else), and once that is
committed the charger is asked to stop, once for the check however many it marked. The session
then ends as any other, with the charger's StopTransaction; a stop that fails is a
`session.stop_failure`, and the session keeps running.
"""

import logging
from datetime import datetime
from functools import partial

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ocpp_gateway import remote
from sessions_app.ceilings import ceilings_reached, exceeded_field
from sessions_app.models import Session, SessionStatus

logger = logging.getLogger(__name__)


def _seconds_since_start(charging_start: object, until: datetime) -> float | None:
    started = parse_datetime(charging_start) if isinstance(charging_start, str) else None
    return None if started is None else (until - started).total_seconds()


def session_ceilings_check(*, session: Session, at: datetime) -> list[str]:
    """Mark the ceilings the session's metering reaches as of `at`; on commit, ask for its stop.

    Call it with the session's row locked, in the transaction that wrote its metering. Returns the
    kinds it marked (none already marked).
    """
    if not session.ceilings:
        return []
    reached = ceilings_reached(
        session.ceilings,
        energy_wh=session.metrics.get("energyConsumed"),
        seconds=_seconds_since_start(session.metrics.get("chargingStart"), at),
        cost=session.cost_amount,
    )
    return _mark(session=session, kinds=reached, at=at)


def _mark(*, session: Session, kinds: list[str], at: datetime) -> list[str]:
    fields = [exceeded_field(kind) for kind in kinds if getattr(session, exceeded_field(kind)) is None]
    if not fields:
        return []
    for name in fields:
        setattr(session, name, at)
    session.save(update_fields=[*fields, "updated_at"])
    marked = [kind for kind in kinds if exceeded_field(kind) in fields]
    logger.info("ocpp.ceiling.exceeded", extra={"session_id": session.pk, "ceilings": marked})
    # Robust: the reading is committed whatever happens to the command; a stop that cannot be sent
    # is recorded as a stop failure by the request itself.
    transaction.on_commit(partial(_stop_request, session.pk), robust=True)
    return marked


def _stop_request(session_id: int) -> None:
    session = (
        Session.objects.select_related("chargestation")
        .filter(pk=session_id, status=SessionStatus.STARTED)
        .first()
    )
    if session is not None:
        remote.session_stop_request(session)


@transaction.atomic
def session_time_ceiling_check(*, session_id: int, at: datetime) -> list[str]:
    """Mark the session's time ceiling if it is reached at `at` by our clock; on commit, ask for its stop."""
    session = (
        Session.objects.select_for_update()
        .filter(pk=session_id, status=SessionStatus.STARTED, time_ceiling_exceeded_at__isnull=True)
        .first()
    )
    if session is None:
        return []
    seconds = _seconds_since_start(session.metrics.get("chargingStart"), at)
    reached = ceilings_reached(session.ceilings, energy_wh=None, seconds=seconds, cost=None)
    return _mark(session=session, kinds=reached, at=at)


def sessions_time_ceiling_check() -> int:
    """The beat's check: started sessions past their time ceiling by our clock, not yet marked; how many.

    Reads only the started sessions with an unmarked time ceiling, and of each only its start and
    ceiling; each one due is then locked and checked again on its own.
    """
    now = timezone.now()
    candidates = Session.objects.filter(
        status=SessionStatus.STARTED, ceilings__has_key="time", time_ceiling_exceeded_at__isnull=True
    ).values_list("pk", "metrics__chargingStart", "ceilings__time")
    due = [
        pk
        for pk, charging_start, limit in candidates
        if ceilings_reached(
            {"time": limit}, energy_wh=None, seconds=_seconds_since_start(charging_start, now), cost=None
        )
    ]
    return sum(bool(session_time_ceiling_check(session_id=pk, at=now)) for pk in due)
