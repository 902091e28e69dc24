"""Webhook secrets and signatures: Standard Webhooks (`webhook-signature`) and eDRV (`edrv-signature`).

Pure Python on purpose (no Django): the delivery service signs with it, and receivers' docs and
our tests verify with it.

Keys (DESIGN section 5):
- Standard Webhooks: a `whsec_` secret keys with the base64-decoded bytes after the prefix; any
  other secret keys with its UTF-8 bytes.
- eDRV: always the whole secret string's UTF-8 bytes, prefix included.

Schemes (Standard Webhooks' signature identifiers): `v1` signs with HMAC-SHA256 and a shared
secret, and also sends `edrv-signature`; `v1a` signs with ed25519 and only `webhook-signature`. A
v1a endpoint's "secret" is its private key, `whsk_` + base64 of the 32-byte ed25519 seed (the form
the specification's reference libraries read); receivers get `whpk_` + base64 of the 32-byte public
key. Either way each live key adds one signature to `webhook-signature`, space-separated.

Receivers using the `standardwebhooks` package: `Webhook(secret)` base64-decodes *any* string
(prefix or not), so for a secret that does not start with `whsec_` they must pass the key as
bytes, `Webhook(secret.encode())`, which the package uses as the key unchanged.
"""

import base64
import binascii
import contextlib
import hmac
import secrets as secrets_module
import time
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

V1, V1A = "v1", "v1a"
WHSEC_PREFIX = "whsec_"
PRIVATE_KEY_PREFIX, PUBLIC_KEY_PREFIX = "whsk_", "whpk_"
ED25519_KEY_BYTES = 32
SECRET_KEY_BYTES = 24
# The Standard Webhooks libraries' window: older or newer messages are replays or clock trouble.
TOLERANCE_SECONDS = 300

_PLAIN_SECRET_MIN, _PLAIN_SECRET_MAX = 16, 128
_KEY_MIN, _KEY_MAX = 24, 64


def secret_generate() -> str:
    return WHSEC_PREFIX + base64.b64encode(secrets_module.token_bytes(SECRET_KEY_BYTES)).decode("ascii")


def private_key_generate() -> str:
    """A new v1a signing key: `whsk_` + base64 of an ed25519 seed."""
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    return PRIVATE_KEY_PREFIX + base64.b64encode(seed).decode("ascii")


def key_generate(scheme: str) -> str:
    """A new key for `scheme`: a `whsec_` secret for v1, a `whsk_` private key for v1a."""
    if scheme == V1A:
        return private_key_generate()
    if scheme == V1:
        return secret_generate()
    raise ValueError(f"unknown signature scheme {scheme!r}")


def _raw_key(key: str, prefix: str) -> bytes:
    """The 32 bytes of a `whsk_` or `whpk_` key; ValueError when it is not one."""
    raw = b""
    if key.startswith(prefix):
        with contextlib.suppress(binascii.Error):
            raw = base64.b64decode(key[len(prefix) :], validate=True)
    if len(raw) != ED25519_KEY_BYTES:
        raise ValueError(f"not an ed25519 key: expected {prefix} and base64 of {ED25519_KEY_BYTES} bytes")
    return raw


def _private_key(private_key: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_raw_key(private_key, PRIVATE_KEY_PREFIX))


def is_private_key(key: str) -> bool:
    """Whether `key` reads as a v1a private key (`whsk_` + base64 of 32 bytes)."""
    try:
        _raw_key(key, PRIVATE_KEY_PREFIX)
    except ValueError:
        return False
    return True


def public_key(private_key: str) -> str:
    """The `whpk_` public key of a `whsk_` private key: what receivers verify v1a signatures with."""
    raw = _private_key(private_key).public_key().public_bytes_raw()
    return PUBLIC_KEY_PREFIX + base64.b64encode(raw).decode("ascii")


def secret_validate(secret: str) -> None:
    """Raise ValueError with a message fit for an API 400 when `secret` cannot be used."""
    if secret.startswith((PRIVATE_KEY_PREFIX, PUBLIC_KEY_PREFIX)):
        raise ValueError(
            "A 'whsk_' or 'whpk_' value is an ed25519 key, not a secret: for ed25519 signatures choose "
            "the v1a signature scheme, whose key pair is generated."
        )
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


def _signed_content(msg_id: str, timestamp: int, body: bytes) -> bytes:
    return f"{msg_id}.{timestamp}.".encode() + body


def _standard_digest(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    return hmac.digest(key, _signed_content(msg_id, timestamp, body), "sha256")  # OpenSSL's one-shot


def _edrv_digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.digest(secret.encode("utf-8"), f"{timestamp}.".encode() + body, "sha256").hex()


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


def sign_asymmetric(*, msg_id: str, timestamp: int, body: bytes, private_keys: Sequence[str]) -> str:
    """`v1a,<base64 ed25519 signature>` per `whsk_` private key, space-separated, in the order given."""
    _require(private_keys)
    content = _signed_content(msg_id, timestamp, body)
    return " ".join(
        "v1a," + base64.b64encode(_private_key(key).sign(content)).decode("ascii") for key in private_keys
    )


def sign_edrv(*, timestamp: int, body: bytes, secrets: Sequence[str]) -> str:
    """`t=<unix>,v1=<hex>[,v1=<hex>...]`, one `v1=` per secret."""
    _require(secrets)
    return ",".join([f"t={timestamp}", *(f"v1={_edrv_digest(s, timestamp, body)}" for s in secrets)])


def signature_headers(
    *, msg_id: str, timestamp: int, body: bytes, secrets: Sequence[str], scheme: str = V1
) -> dict[str, str]:
    """The signing headers of one attempt. `secrets`: the endpoint's live keys, newest first (under
    v1a its `whsk_` private keys). `edrv-signature` is an HMAC: v1 only."""
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(timestamp)}
    if scheme == V1A:
        headers["webhook-signature"] = sign_asymmetric(
            msg_id=msg_id, timestamp=timestamp, body=body, private_keys=secrets
        )
    elif scheme == V1:
        headers["webhook-signature"] = sign_standard(
            msg_id=msg_id, timestamp=timestamp, body=body, secrets=secrets
        )
        headers["edrv-signature"] = sign_edrv(timestamp=timestamp, body=body, secrets=secrets)
    else:
        raise ValueError(f"unknown signature scheme {scheme!r}")
    return headers


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
    signed = _signed_entries(headers, body, V1, tolerance, now)
    if signed is None:
        return False
    content, candidates = signed
    expected = hmac.digest(standard_key(secret), content, "sha256")
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


def verify_asymmetric(
    *,
    public_key: str,
    body: bytes,
    headers: Mapping[str, str],
    tolerance: int = TOLERANCE_SECONDS,
    now: int | None = None,
) -> bool:
    """True when one `v1a` entry of `webhook-signature` verifies with the `whpk_` `public_key` and
    the timestamp is fresh."""
    signed = _signed_entries(headers, body, V1A, tolerance, now)
    if signed is None:
        return False
    content, candidates = signed
    key = Ed25519PublicKey.from_public_bytes(_raw_key(public_key, PUBLIC_KEY_PREFIX))
    for candidate in candidates:
        try:
            key.verify(candidate, content)
        except InvalidSignature:
            continue
        return True
    return False


def verify_signed_with(
    *, secret: str, body: bytes, headers: Mapping[str, str], now: int | None = None
) -> bool:
    """True when `webhook-signature` carries a signature made with this stored key, whichever its
    scheme: a v1 HMAC with it, or for a `whsk_` private key a v1a signature. For checking what was
    sent (a key keeps its meaning after its endpoint switched schemes); receivers use the above."""
    if verify_standard(secret=secret, body=body, headers=headers, now=now):
        return True
    return is_private_key(secret) and verify_asymmetric(
        public_key=public_key(secret), body=body, headers=headers, now=now
    )


def _signed_entries(
    headers: Mapping[str, str], body: bytes, version: str, tolerance: int, now: int | None
) -> tuple[bytes, list[bytes]] | None:
    """What was signed and the decoded `version` signatures of `webhook-signature`; None when
    `webhook-id` is missing or `webhook-timestamp` malformed or stale."""
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = lowered.get("webhook-id", "")
    try:
        timestamp = int(lowered.get("webhook-timestamp", ""))
    except ValueError:
        return None
    if not msg_id or not _fresh(timestamp, now, tolerance):
        return None
    candidates = []
    for entry in lowered.get("webhook-signature", "").split():
        name, _, encoded = entry.partition(",")
        if name != version:
            continue
        try:
            candidates.append(base64.b64decode(encoded, validate=True))
        except binascii.Error:
            continue
    return _signed_content(msg_id, timestamp, body), candidates


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
