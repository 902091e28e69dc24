"""Remote start and stop: what is asked of a charger, what it answers, and what it never does.

A remote start commits its session first (`session.created`), then sends the command; the
charger's answer comes back through its connection's consumer. A refusal, no answer, or no
connection at all is a `session.start_failure`; an accepted start that never begins charging is
cancelled after `OCPP_CANCEL_AFTER` seconds. A stop that fails leaves the session running and
records a `session.stop_failure`.
"""

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from ocpp_gateway import commands, conf
from sessions_app.models import Session, SessionStatus

logger = logging.getLogger(__name__)


def session_start_request(session_id: int) -> None:
    """Once the session is committed: ask its charger to start it, or record why that cannot be.

    The charger's consumer records a refusal or a missing answer; a session that is accepted but
    never starts is cancelled by a task after `OCPP_CANCEL_AFTER` seconds.
    """
    from ocpp_gateway.tasks import session_cancel_overdue as cancel_task  # tasks import this module

    session = Session.objects.select_related("chargestation", "connector").filter(pk=session_id).first()
    if session is None or session.status != SessionStatus.CREATED:
        return
    station = session.chargestation
    # Whatever the protocol: 2.0.1 also sends `remote_start_id`, which its transaction quotes back.
    payload: dict[str, object] = {"id_tag": session.id_tag, "remote_start_id": session.pk}
    if session.connector is not None:
        payload["connector_id"] = session.connector.connector_number
    if not station.active or not station.online:
        session_start_fail(
            session_id=session_id,
            reason=f"The chargestation is {'offline' if station.active else 'inactive'}.",
        )
        return
    if not commands.command_send(
        chargestation_public_id=station.public_id,
        action=commands.REMOTE_START,
        payload=payload,
        session_id=session_id,
    ):
        session_start_fail(session_id=session_id, reason="The charger gateway could not be reached.")
        return
    try:
        cancel_task.apply_async(args=(session_id,), countdown=conf.cancel_after())
    except (BrokerError, OSError) as exc:  # the beat sweep cancels it later instead
        logger.warning(
            "ocpp.cancel.unscheduled", extra={"session_id": session_id, "error": type(exc).__name__}
        )


@transaction.atomic
def session_start_fail(*, session_id: int, reason: str) -> None:
    session = Session.objects.select_for_update().filter(pk=session_id, status=SessionStatus.CREATED).first()
    if session is not None:
        session.status, session.failure_reason = SessionStatus.START_FAILED, reason[:200]
        session.save(update_fields=["status", "failure_reason", "updated_at"])


def session_stop_request(session: Session) -> Session:
    """Ask the charger to stop a started session; an offline charger is a stop failure at once."""
    station = session.chargestation
    if not station.online:
        return session_stop_fail(session_id=session.pk, reason="The chargestation is offline.") or session
    payload = {"transaction_id": session.transaction_id}
    if not commands.command_send(
        chargestation_public_id=station.public_id,
        action=commands.REMOTE_STOP,
        payload=payload,
        session_id=session.pk,
    ):
        return (
            session_stop_fail(session_id=session.pk, reason="The charger gateway could not be reached.")
            or session
        )
    return session


@transaction.atomic
def session_stop_fail(*, session_id: int, reason: str) -> Session | None:
    session = Session.objects.select_for_update().filter(pk=session_id, status=SessionStatus.STARTED).first()
    if session is not None:
        session.stop_failed_at, session.stop_failure_reason = timezone.now(), reason[:200]
        session.save(update_fields=["stop_failed_at", "stop_failure_reason", "updated_at"])
    return session


def session_command_answered(*, session_id: int, action: str, accepted: bool, reason: str) -> None:
    """What a charger answered to a command (or that it did not): only a refusal changes anything."""
    logger.info(
        "ocpp.command.answered",
        extra={"session_id": session_id, "action": action, "accepted": accepted, "reason": reason},
    )
    if accepted:
        return
    if action == commands.REMOTE_START:
        session_start_fail(session_id=session_id, reason=reason)
    elif action == commands.REMOTE_STOP:
        session_stop_fail(session_id=session_id, reason=reason)


@transaction.atomic
def session_cancel_overdue(*, session_id: int) -> None:
    """No StartTransaction came in time: the requested session is cancelled."""
    session = Session.objects.select_for_update().filter(pk=session_id, status=SessionStatus.CREATED).first()
    if session is not None:
        session.status = SessionStatus.CANCELLED
        session.failure_reason = "Charging did not start in time after the remote start."
        session.save(update_fields=["status", "failure_reason", "updated_at"])


def sessions_cancel_overdue() -> int:
    """The safety net of the per-session task (lost when the broker was down): cancel the overdue."""
    cutoff = timezone.now() - timedelta(seconds=conf.cancel_after())
    overdue = list(
        Session.objects.filter(status=SessionStatus.CREATED, created_at__lt=cutoff).values_list(
            "pk", flat=True
        )
    )
    for session_id in overdue:
        session_cancel_overdue(session_id=session_id)
    return len(overdue)
