"""Who a connecting charger is: OCPP security profiles 1 and 2, and what a refusal costs.

A charger sends `Authorization: Basic base64(<endpoint>:<authorization key>)` with its WebSocket
handshake; profile 2 is the same over TLS (`wss://`, ended at a proxy or by the ASGI server). The
user must be the endpoint the URL names, and the password the station's key (compared by hash, in
constant time). A station without a key connects only while `OCPP_ALLOW_UNSECURED` is on
(development); a station with one always needs it.

Refusals are slowed down, never a correct key: failures are counted in the cache per endpoint and
per client address over a window of `FAILURE_WINDOW` seconds, and from the third one on (of either
count) the refusal waits before it is answered, `OCPP_REFUSAL_DELAY` seconds doubling each time up
to `MAX_DELAY_FACTOR` times that. A key is 20 random characters, which no guessing finds; the delay
keeps a guesser, or a charger left with an old key, from costing the gateway a database read and a
log line as fast as it can reconnect. Limits on how many connections one address may open belong to
the proxy in front.
"""

import base64
import binascii
import hashlib
from collections.abc import Iterable

from django.core.cache import cache

from chargestations.authorization_keys import authorization_key_matches
from chargestations.models import Chargestation
from ocpp_gateway import conf

FAILURE_WINDOW = 300  # seconds
FREE_FAILURES = 2  # answered at once
MAX_DELAY_FACTOR = 30  # the longest wait, in OCPP_REFUSAL_DELAY units


class MalformedAuthorization(ValueError):
    """An Authorization header that is not one readable HTTP Basic `user:password`."""


def basic_user_password(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The decoded `user:password` of the handshake's `Authorization: Basic` header; None without one."""
    values = [value for name, value in headers if name.lower() == b"authorization"]
    if not values:
        return None
    if len(values) > 1:
        raise MalformedAuthorization("more than one Authorization header")
    scheme, _, token = values[0].strip().partition(b" ")
    if scheme.lower() != b"basic":
        raise MalformedAuthorization("not Basic")
    try:
        user_password = base64.b64decode(token.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise MalformedAuthorization("not base64 of UTF-8") from exc
    if ":" not in user_password:
        raise MalformedAuthorization("no colon between user and password")
    return user_password


def handshake_refusal(
    *, station: Chargestation | None, endpoint: str, headers: Iterable[tuple[bytes, bytes]]
) -> str | None:
    """Why the charger connecting as `endpoint` is refused (for the log, never for the charger), or None.

    The endpoint may hold a colon (Basic's separator): the user is matched as the endpoint and its colon,
    rather than split at the first colon.
    """
    if station is None:
        return "unknown or inactive endpoint"
    try:
        user_password = basic_user_password(headers)
    except MalformedAuthorization as exc:
        return f"malformed authorization header ({exc})"
    if user_password is None:
        if station.has_authorization_key or not conf.allow_unsecured():
            return "no credentials"
        return None
    if not user_password.startswith(f"{endpoint}:"):
        return "user is not the endpoint"
    if not station.has_authorization_key:
        return None if conf.allow_unsecured() else "the station has no authorization key"
    key = user_password[len(endpoint) + 1 :]
    if not authorization_key_matches(key=key, key_hash=station.authorization_key_hash):
        return "wrong authorization key"
    return None


async def refusal_delay(*, endpoint: str, address: str) -> float:
    """Count one more failure for the endpoint and the client address; the seconds the refusal waits."""
    failures = await _failure_count(f"endpoint:{endpoint}")
    if address:
        failures = max(failures, await _failure_count(f"address:{address}"))
    if failures <= FREE_FAILURES:
        return 0.0
    base = conf.refusal_delay()
    return float(min(base * 2 ** (failures - FREE_FAILURES - 1), base * MAX_DELAY_FACTOR))


async def _failure_count(subject: str) -> int:
    # Hashed: an endpoint is any URL segment, and a cache key must be short and plain.
    key = "ocpp:refusals:" + hashlib.sha256(subject.encode()).hexdigest()
    # The window starts at the first failure: add() sets the expiry, incr() keeps it.
    await cache.aadd(key, 0, timeout=FAILURE_WINDOW)
    try:
        return int(await cache.aincr(key))
    except ValueError:  # expired between the two calls: a new window
        await cache.aset(key, 1, timeout=FAILURE_WINDOW)
        return 1
