"""The gateway's knobs, read from settings when used (so that a test can shorten them)."""

from django.conf import settings


def cancel_after() -> float:
    """Seconds a remotely started session may wait for its StartTransaction before it is cancelled."""
    return float(getattr(settings, "OCPP_CANCEL_AFTER", 120))


def command_timeout() -> float:
    """Seconds a charger has to answer a command (RemoteStartTransaction, RemoteStopTransaction)."""
    return float(getattr(settings, "OCPP_COMMAND_TIMEOUT", 30))


def ev_charged_after() -> float:
    """Seconds the car must draw (almost) no power, while plugged in, before it counts as charged."""
    return float(getattr(settings, "OCPP_EV_CHARGED_AFTER", 300))


def ev_charged_max_power() -> float:
    """Watts at or below which a car counts as no longer drawing power."""
    return float(getattr(settings, "OCPP_EV_CHARGED_MAX_POWER", 100))


def silence_factor() -> float:
    """A charger silent for this many heartbeat intervals is offline."""
    return float(getattr(settings, "OCPP_SILENCE_FACTOR", 2))


def allow_unsecured() -> bool:
    """Whether a station that has no authorization key may connect without one: development only.

    A station that has a key always needs it, whatever this says.
    """
    return bool(getattr(settings, "OCPP_ALLOW_UNSECURED", False))


def refusal_delay() -> float:
    """Seconds a refused handshake waits before its answer, from the third failure on (ocpp_gateway.auth)."""
    return float(getattr(settings, "OCPP_REFUSAL_DELAY", 1))
