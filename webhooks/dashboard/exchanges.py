"""What a delivery sent and got back, as its page shows it: the body, and each attempt's headers.

The body is not stored with the attempts: it is the event's envelope, the same bytes on every
attempt, which webhooks.catalog.payloads.body builds from the event's row for the sender and here
alike. Each attempt's `webhook-signature` (an HMAC, or under v1a an ed25519 signature, of
`{id}.{timestamp}.{body}`) proves it: it is checked against the rebuilt bytes with the endpoint's
keys, whichever scheme signed, server-side; no secret is shown.
"""

import json
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from django.conf import settings

from webhooks import signing
from webhooks.catalog import payloads
from webhooks.catalog.types import EVENT_TYPES
from webhooks.models import Attempt, Delivery, Endpoint

# A body longer than this is shown folded: open it to read it, in a box of its own that scrolls.
FOLD_LINES = 30


class SignatureCheck(StrEnum):
    MATCHES = "matches"  # the signature sent verifies the rebuilt body: byte for byte what was signed
    DIFFERS = "differs"  # no secret of the endpoint verifies it, and none was rotated out since
    ROTATED_OUT = "rotated_out"  # signed before the last rotation, with a secret no longer kept
    UNRECORDED = "unrecorded"  # an attempt made before headers were recorded, or no body to check


@dataclass(frozen=True)
class Header:
    name: str
    value: str | None  # None: a custom header, whose value is never kept (it is often a credential)


@dataclass(frozen=True)
class AttemptExchange:
    attempt: Attempt
    request_headers: list[Header]
    response_headers: list[Header]
    response_truncated: bool
    signature: SignatureCheck

    @property
    def recorded(self) -> bool:
        return bool(self.request_headers)


@dataclass(frozen=True)
class DeliveryExchange:
    body: str | None  # the exact text sent, UTF-8; None when the event's type left the catalog
    body_pretty: str
    attempts: list[AttemptExchange]

    @property
    def body_size(self) -> int:
        return len(self.body.encode()) if self.body is not None else 0

    @property
    def body_folded(self) -> bool:
        return self.body_pretty.count("\n") >= FOLD_LINES

    @property
    def signed_as_shown(self) -> bool:
        return any(a.signature is SignatureCheck.MATCHES for a in self.attempts)

    @property
    def differs(self) -> bool:
        return any(a.signature is SignatureCheck.DIFFERS for a in self.attempts)


def delivery_exchange(*, delivery: Delivery) -> DeliveryExchange:
    """The body of `delivery` (its event loaded whole) and each of its attempts, newest first."""
    event = delivery.event
    body = payloads.body(event) if event.type in EVENT_TYPES else None
    pretty = json.dumps(
        payloads.envelope(event) if body is not None else event.data, indent=2, ensure_ascii=False
    )
    attempts = [_attempt_exchange(attempt, delivery.endpoint, body) for attempt in delivery.attempts.all()]
    return DeliveryExchange(
        body=body.decode() if body is not None else None, body_pretty=pretty, attempts=attempts
    )


def _pairs(recorded: Any) -> list[Header]:
    return [Header(str(name), None if value is None else str(value)) for name, value in recorded or []]


def _attempt_exchange(attempt: Attempt, endpoint: Endpoint, body: bytes | None) -> AttemptExchange:
    request = _pairs(attempt.headers.get("request"))
    return AttemptExchange(
        attempt=attempt,
        request_headers=request,
        response_headers=_pairs(attempt.headers.get("response")),
        response_truncated=bool(attempt.headers.get("response_truncated")),
        signature=_signature_check(attempt, endpoint, request, body),
    )


def _signature_check(
    attempt: Attempt, endpoint: Endpoint, request: list[Header], body: bytes | None
) -> SignatureCheck:
    sent = {header.name: header.value for header in request if header.value is not None}
    if body is None or "webhook-signature" not in sent or not sent.get("webhook-timestamp", "").isdigit():
        return SignatureCheck.UNRECORDED
    signed_at = int(sent["webhook-timestamp"])
    # The previous secret too, past its grace period: it no longer signs, but it still checks.
    for secret in filter(None, [endpoint.secret, endpoint.previous_secret]):
        if signing.verify_signed_with(secret=secret, body=body, headers=sent, now=signed_at):
            return SignatureCheck.MATCHES
    expires = endpoint.previous_secret_expires_at
    rotated_at = expires - timedelta(seconds=settings.WEBHOOKS_SECRET_ROTATION_GRACE) if expires else None
    if rotated_at is not None and attempt.created_at < rotated_at:
        return SignatureCheck.ROTATED_OUT
    return SignatureCheck.DIFFERS
