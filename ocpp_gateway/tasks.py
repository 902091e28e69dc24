"""Celery tasks of the gateway: ids in, one service call, nothing returned."""

from celery import shared_task

from ocpp_gateway import ceilings, remote, stations, transaction_events


@shared_task(ignore_result=True)
def session_cancel_overdue(session_id: int) -> None:
    """Scheduled `OCPP_CANCEL_AFTER` seconds after a remote start: cancel it if it never started."""
    remote.session_cancel_overdue(session_id=session_id)


@shared_task(ignore_result=True)
def sessions_cancel_overdue() -> None:
    """Beat: the safety net of the task above, for remote starts whose task was never published."""
    remote.sessions_cancel_overdue()


@shared_task(ignore_result=True)
def chargestations_silent_offline() -> None:
    """Beat: offline the stations silent past twice their heartbeat (their gateway process died)."""
    stations.chargestations_silent_offline()


@shared_task(ignore_result=True)
def sessions_time_ceiling_check() -> None:
    """Beat: time ceilings reached without a meter value to tell (marked, and the charger asked to stop)."""
    ceilings.sessions_time_ceiling_check()


@shared_task(ignore_result=True)
def charger_transactions_purge() -> None:
    """Beat: forget the 2.0.1 transactions that are over (their sessions stay)."""
    transaction_events.charger_transactions_purge()
