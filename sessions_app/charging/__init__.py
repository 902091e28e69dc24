"""Charging: sessions as chargers report them (`transactions`), and remote start and stop (`remote`)."""

from sessions_app.charging.remote import (
    SessionNotRunning,
    remote_id_tag,
    session_cancel_overdue,
    session_command_answered,
    session_start_fail,
    session_start_request,
    session_stop_fail,
    session_stop_request,
    sessions_cancel_overdue,
)
from sessions_app.charging.transactions import (
    ACCEPTED,
    BLOCKED,
    INVALID,
    MeterReading,
    id_tag_status,
    session_ev_charged,
    transaction_meter,
    transaction_start,
    transaction_stop,
)

__all__ = [
    "ACCEPTED",
    "BLOCKED",
    "INVALID",
    "MeterReading",
    "SessionNotRunning",
    "id_tag_status",
    "remote_id_tag",
    "session_cancel_overdue",
    "session_command_answered",
    "session_ev_charged",
    "session_start_fail",
    "session_start_request",
    "session_stop_fail",
    "session_stop_request",
    "sessions_cancel_overdue",
    "transaction_meter",
    "transaction_start",
    "transaction_stop",
]
