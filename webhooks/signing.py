"""Webhook secrets and signatures: Standard Webhooks (`webhook-signature`) and eDRV (`edrv-signature`).

Pure Python on purpose (no Django): the delivery service signs with it, and receivers' docs and
our tests verify with it.

Keys (DESIGN section 5):
- Standard Webhooks: a `whsec_` secret keys with the base64-decoded bytes after the prefix; any
  other secret keys with its UTF-8 bytes.
- eDRV: always the whole secret string's UTF-8 bytes, prefix included.

Receivers using the `standardwebhooks` package: `Webhook(secret)` base64-decodes *any* string
(prefix or not), so for a secret that does not start with `whsec_` they must pass the key as
bytes, `Webhook(secret.encode())`, which the package uses as the key unchanged.
"""

import base64
import binascii
import hashlib
import hmac
import secrets as secrets_module
import time
from collections.abc import Mapping, Sequence

WHSEC_PREFIX = "whsec_"
SECRET_KEY_BYTES = 24
# The Standard Webhooks libraries' window: older or newer messages are replays or clock trouble.
TOLERANCE_SECONDS = 300

_PLAIN_SECRET_MIN, _PLAIN_SECRET_MAX = 16, 128
_KEY_MIN, _KEY_MAX = 24, 64


def secret_generate() -> str:
    return WHSEC_PREFIX + base64.b64encode(secrets_module.token_bytes(SECRET_KEY_BYTES)).decode("ascii")


def secret_validate(secret: str) -> None:
    """Raise ValueError with a message fit for an API 400 when `secret` cannot be used."""
    if secret.startswith(WHSEC_PREFIX):
        try:
            key = base64.b64decode(secret[len(WHSEC_PREFIX) :], validate=True)
        except binascii.Error:
            raise ValueError("A secret starting with 'whsec_' must continue with valid base64.") from None
        if not _KEY_MIN <= len(key) <= _KEY_MAX:
            raise ValueError(
                f"A 'whsec_' secret must encode {_KEY_MIN} to {_KEY_MAX} bytes; this one encodes {len(key)}."
            )
        return
    if not _PLAIN_SECRET_MIN <= len(secret) <= _PLAIN_SECRET_MAX:
        raise ValueError(f"A secret must be {_PLAIN_SECRET_MIN} to {_PLAIN_SECRET_MAX} characters long.")
    if not all("!" <= char <= "~" for char in secret):
        raise ValueError("A secret may contain only printable ASCII characters, without spaces.")


def standard_key(secret: str) -> bytes:
    if secret.startswith(WHSEC_PREFIX):
        return base64.b64decode(secret[len(WHSEC_PREFIX) :], validate=True)
    return secret.encode("utf-8")


def _standard_digest(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    return hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()


def _edrv_digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def _require(secrets: Sequence[str]) -> None:
    # A str is a Sequence[str] too; signing with each of its characters would be a silent disaster.
    if isinstance(secrets, str) or not secrets:
        raise ValueError("secrets must be a non-empty sequence of secret strings")


def sign_standard(*, msg_id: str, timestamp: int, body: bytes, secrets: Sequence[str]) -> str:
    """`v1,<base64>` per secret, space-separated, in the order given (newest first by convention)."""
    _require(secrets)
    return " ".join(
        "v1," + base64.b64encode(_standard_digest(standard_key(s), msg_id, timestamp, body)).decode("ascii")
        for s in secrets
    )


def sign_edrv(*, timestamp: int, body: bytes, secrets: Sequence[str]) -> str:
    """`t=<unix>,v1=<hex>[,v1=<hex>...]`, one `v1=` per secret."""
    _require(secrets)
    return ",".join([f"t={timestamp}", *(f"v1={_edrv_digest(s, timestamp, body)}" for s in secrets)])


def signature_headers(*, msg_id: str, timestamp: int, body: bytes, secrets: Sequence[str]) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_standard(msg_id=msg_id, timestamp=timestamp, body=body, secrets=secrets),
        "edrv-signature": sign_edrv(timestamp=timestamp, body=body, secrets=secrets),
    }


def _fresh(timestamp: int, now: int | None, tolerance: int) -> bool:
    current = int(time.time()) if now is None else now
    return abs(current - timestamp) <= tolerance


def verify_standard(
    *,
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    tolerance: int = TOLERANCE_SECONDS,
    now: int | None = None,
) -> bool:
    """True when one `v1` entry of `webhook-signature` matches `secret` and the timestamp is fresh."""
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = lowered.get("webhook-id", "")
    try:
        timestamp = int(lowered.get("webhook-timestamp", ""))
    except ValueError:
        return False
    if not msg_id or not _fresh(timestamp, now, tolerance):
        return False
    expected = _standard_digest(standard_key(secret), msg_id, timestamp, body)
    for entry in lowered.get("webhook-signature", "").split():
        version, _, encoded = entry.partition(",")
        if version != "v1":
            continue
        try:
            candidate = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            continue
        if hmac.compare_digest(expected, candidate):
            return True
    return False


def verify_edrv(
    *, secret: str, body: bytes, header: str, tolerance: int = TOLERANCE_SECONDS, now: int | None = None
) -> bool:
    """True when one `v1=` of an `edrv-signature` header matches `secret` and `t=` is fresh."""
    fields = [part.strip().partition("=") for part in header.split(",")]
    stamps = [value for name, _, value in fields if name == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit():
        return False
    timestamp = int(stamps[0])
    if not _fresh(timestamp, now, tolerance):
        return False
    expected = _edrv_digest(secret, timestamp, body).encode("ascii")
    # Bytes, not str: compare_digest refuses non-ASCII str, and a header is attacker-controlled.
    return any(hmac.compare_digest(expected, value.encode()) for name, _, value in fields if name == "v1")
