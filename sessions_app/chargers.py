"""How a session reaches its charger: through the gateway, which sits above this app.

Sessions know what a remote start or stop means (the session, its tag, whether it may stop);
only the gateway (`ocpp_gateway`) knows how to say it to a charger. It registers itself here
when Django starts (its AppConfig.ready), so that this app never imports it.
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

from sessions_app.models import Session, SessionStatus


class SessionNotRunning(Exception):
    """Only a started session can be stopped."""


@dataclass(frozen=True)
class _Gateway:
    start: Callable[[int], None]
    stop: Callable[[Session], Session]


_gateway: _Gateway | None = None


def gateway_register(*, start: Callable[[int], None], stop: Callable[[Session], Session]) -> None:
    """The gateway's two commands: ask a charger to start a committed session, or to stop one."""
    global _gateway
    _gateway = _Gateway(start=start, stop=stop)


def _registered() -> _Gateway:
    if _gateway is None:
        raise ImproperlyConfigured("No charger gateway is installed: add 'ocpp_gateway' to INSTALLED_APPS.")
    return _gateway


def remote_id_tag(*, id_tag: str, driver_tokens: list[str]) -> str:
    """The tag a remote start uses: the one given, the driver's first token, or a fresh virtual one."""
    return id_tag or next(iter(driver_tokens), "") or f"RS{secrets.token_hex(9).upper()}"


def start_request(session_id: int) -> None:
    """Once the session is committed: ask its charger to start it (the gateway records the outcome)."""
    _registered().start(session_id)


def stop_request(session: Session) -> Session:
    """Ask the session's charger to stop it; raises SessionNotRunning unless it is started."""
    if session.status != SessionStatus.STARTED or session.transaction_id is None:
        raise SessionNotRunning(f"Only a started session can be stopped; this one is {session.status}.")
    return _registered().stop(session)
