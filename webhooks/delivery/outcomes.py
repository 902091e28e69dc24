"""Recording what sending did: attempts, the deliveries' next states, the endpoints' health.

Fenced: every claim carries a token, and an outcome is recorded only where the delivery still
holds the token it was claimed with. A worker that outlived its lease (frozen, partitioned,
slow) and whose deliveries another worker claimed since records nothing: no attempt counted
twice, no state moved back, no chain of a chargestation released out of turn.
"""

import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from webhooks import metrics, rows
from webhooks.delivery import health, http, operational, queue
from webhooks.delivery.retries import next_delay
from webhooks.models import Attempt, Delivery, DeliveryStatus

logger = logging.getLogger(__name__)

GONE = 410
# Retries this soon are scheduled on the broker; later ones are left to the sweeper.
SHORT_RETRY_SECONDS = 60.0


# Deliveries recorded together: (claim token, status, next attempt, last status code).
_Group = tuple[uuid.UUID | None, str, datetime | None, int | None]


RECORDED = ("status", "next_attempt_at", "last_status_code", "last_attempt_at")
ATTEMPT_COLUMNS = (
    "delivery",
    "created_at",
    "duration_ms",
    "status_code",
    "response_excerpt",
    "error",
    "succeeded",
    "headers",
)


@dataclass
class Outcome:
    delivery: Delivery
    result: http.HttpResult
    attempted_at: float
    own_headers: dict[str, str] = field(default_factory=dict)  # sent after the endpoint's custom ones


def exchange_headers(outcome: Outcome) -> dict[str, Any]:
    """An attempt's `headers`: the request's as sent, the values of the endpoint's custom headers
    left out (often the customer's own API keys, encrypted at rest: an attempt keeps only their
    names), and the response's as webhooks.delivery.http kept them."""
    recorded: dict[str, Any] = {
        "request": [
            *([name, None] for name in outcome.delivery.endpoint.headers),
            *outcome.own_headers.items(),
        ],
        "response": outcome.result.headers,
    }
    if outcome.result.headers_truncated:
        recorded["response_truncated"] = True
    return recorded


def _attempt(outcome: Outcome) -> Attempt:
    """The attempt recorded for an outcome, in memory (what `delivery.exhausted` reports)."""
    return Attempt(
        created_at=datetime.fromtimestamp(outcome.attempted_at, tz=UTC),
        duration_ms=outcome.result.duration_ms,
        status_code=outcome.result.status_code,
        response_excerpt=outcome.result.body_excerpt,
        error=outcome.result.error[:500],
        succeeded=outcome.result.ok,
    )


def outcomes_record(
    outcomes: list[Outcome], *, skipped: Sequence[Delivery] = (), released: Sequence[Delivery] = ()
) -> None:
    """Write every attempt and the deliveries' new states: in the common case one UPDATE per
    state reached and one INSERT, in one transaction."""
    now = timezone.now()
    retry_soon: dict[int, float] = {}
    # Deliveries moving to the same state are updated together: one statement per group.
    groups: defaultdict[_Group, list[int]] = defaultdict(list)
    for o in outcomes:
        delay = _apply(o, now)
        if delay is not None and delay <= SHORT_RETRY_SECONDS:
            retry_soon[o.delivery.pk] = delay
        d = o.delivery
        groups[(d.claim_token, d.status, d.next_attempt_at, d.last_status_code)].append(d.pk)
    with transaction.atomic():
        # The endpoints' rows before the deliveries', as disabling an endpoint locks them.
        health.streaks_lock(
            (o.delivery.endpoint, o.result.ok, o.result.status_code == GONE) for o in outcomes
        )
        _lock_in_id_order([*(o.delivery.pk for o in outcomes), *(d.pk for d in (*skipped, *released))])
        held = _attempted_record(groups, now, expected=len(outcomes))
        recorded = [o for o in outcomes if o.delivery.pk in held]
        rows.insert_values(
            Attempt,
            ATTEMPT_COLUMNS,
            [
                (
                    o.delivery.pk,
                    datetime.fromtimestamp(o.attempted_at, tz=UTC),
                    o.result.duration_ms,
                    o.result.status_code,
                    o.result.body_excerpt,
                    o.result.error[:500],
                    o.result.ok,
                    exchange_headers(o),
                )
                for o in recorded
            ],
        )
        skipped_ids = _unattempted_update(
            skipped, status=DeliveryStatus.SKIPPED, next_attempt_at=None, claimed_until=None
        )
        # Due again once the endpoint's probe has had its full time to answer: no claim picks them
        # up before, only to release them again.
        probe_over = now + timedelta(seconds=settings.WEBHOOKS_TIMEOUT)
        _unattempted_update(released, claimed_until=None, next_attempt_at=probe_over)
        # Before the health's news, so that a webhook's subscribers hear of it in that order.
        operational.deliveries_exhausted_record(
            [(o.delivery, _attempt(o)) for o in recorded if o.delivery.status == DeliveryStatus.FAILED]
        )
        health.outcomes_record(
            [(o.delivery.endpoint, o.result.ok, o.result.status_code == GONE, o.result) for o in recorded]
        )
    # Counted once committed: a batch whose records rolled back is sent, and counted, again.
    metrics.attempts_settled(o.delivery.status for o in recorded)
    metrics.deliveries_counted(metrics.SKIPPED, len(skipped_ids))
    for o in recorded:
        if o.delivery.pk in retry_soon:
            queue.deliveries_enqueue([o.delivery.pk], countdown=retry_soon[o.delivery.pk])
    if released:
        released_hand_off()
    succeeded = 0
    for o in outcomes:
        if o.delivery.pk not in held:
            logger.warning("webhooks.delivery.lease_lost", extra={"delivery_id": o.delivery.pk})
            continue
        succeeded += o.result.ok
        # A failure is a line of its own; successes are one line per batch (each is in its Attempt
        # row and in /metrics), unless DEBUG asks for every one: a line costs a worker about as
        # much CPU as recording the attempt does.
        if not o.result.ok or logger.isEnabledFor(logging.DEBUG):
            logger.log(
                logging.DEBUG if o.result.ok else logging.INFO,
                "webhooks.delivery.succeeded" if o.result.ok else "webhooks.delivery.failed",
                extra={
                    "delivery_id": o.delivery.pk,
                    "endpoint_id": o.delivery.endpoint.public_id,
                    "status_code": o.result.status_code,
                    "duration_ms": o.result.duration_ms,
                    "error": o.result.error,
                },
            )
    if succeeded:
        logger.info("webhooks.deliveries.succeeded", extra={"deliveries": succeeded})
    if released:
        logger.info("webhooks.delivery.released", extra={"deliveries": len(released)})


# Deliveries released behind a probe come due together, a timeout after their release: one drain per
# process and second hands them all out then. A task of ids per batch, each held by a worker until
# its time, cost the workers more than sending to the healthy endpoints did.
RELEASED_HAND_OFF_EVERY = 1.0
_released_hand_off_next = 0.0
_released_hand_off_lock = threading.Lock()


def released_hand_off() -> bool:
    """Have what was released lately claimed once the probes have had their full time (a drain,
    at most one per process every RELEASED_HAND_OFF_EVERY); False if one is already on its way."""
    global _released_hand_off_next
    now = time.monotonic()
    with _released_hand_off_lock:
        if now < _released_hand_off_next:
            return False
        _released_hand_off_next = now + RELEASED_HAND_OFF_EVERY
    # Released up to a second from now, due at most a timeout after that: the drain comes then.
    return queue.drains_enqueue(queue.SEND, 1, countdown=settings.WEBHOOKS_TIMEOUT + RELEASED_HAND_OFF_EVERY)


def _lock_in_id_order(ids: list[int]) -> None:
    """Lock these deliveries' rows in id order before a batch's statements update them.

    Disabling an endpoint locks its pending deliveries in id order. A batch's statements would lock
    theirs in the order of their groups (outcome, skipped, released) and of each statement's scan:
    two such transactions could each hold a row the other waits for, and PostgreSQL would abort
    one (a deadlock). Taken in one order first, they only wait for each other in turn.
    """
    if len(ids) < 2 or not connection.features.has_select_for_update:
        return  # one row cannot close a circle; SQLite writes one transaction at a time
    condition, params = rows.in_ids("id", sorted(set(ids)))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {rows.table(Delivery)} WHERE {condition} ORDER BY id FOR UPDATE", params
        )


def _attempted_record(groups: dict[_Group, list[int]], now: datetime, *, expected: int) -> set[int]:
    """Record the attempts' outcomes (`groups`: ids by the state they reach) on those deliveries this
    worker still holds; return their ids."""
    updated = 0
    sets = ", ".join(
        [
            *(f"{rows.column(Delivery, name)} = %s" for name in RECORDED),
            f"{rows.column(Delivery, 'attempt_count')} = {rows.column(Delivery, 'attempt_count')} + 1",
            f"{rows.column(Delivery, 'claimed_until')} = NULL",
        ]
    )
    every = sorted(pk for ids in groups.values() for pk in ids)
    with connection.cursor() as cursor:
        for (token, status, next_attempt_at, status_code), ids in groups.items():
            changes = dict(zip(RECORDED, (status, next_attempt_at, status_code, now), strict=True))
            condition, id_params = rows.in_ids("id", ids)
            cursor.execute(
                f"UPDATE {rows.table(Delivery)} SET {sets}"
                f" WHERE {rows.column(Delivery, 'claim_token')} = %s AND {condition}",
                [
                    *(rows.prepared(Delivery, name, value) for name, value in changes.items()),
                    rows.prepared(Delivery, "claim_token", token),
                    *id_params,
                ],
            )
            updated += cursor.rowcount
    if updated == expected:
        return set(every)
    # Some were claimed by another worker since: the rows updated are those still carrying our
    # token (a claim always writes a new one).
    held: set[int] = set()
    for (token, _, _, _), ids in groups.items():
        held.update(Delivery.objects.filter(id__in=ids, claim_token=token).values_list("id", flat=True))
    return held


def _unattempted_update(deliveries: Sequence[Delivery], **changes: object) -> list[int]:
    """Apply `changes` to those of `deliveries` (not attempted: skipped, released) still held by
    their claim; return their ids.

    Their rows are locked already (in id order, by `_lock_in_id_order`): one UPDATE per claim token,
    and a SELECT only when some of them had been claimed by another worker since.
    """
    by_token: defaultdict[uuid.UUID | None, list[int]] = defaultdict(list)
    for delivery in deliveries:
        by_token[delivery.claim_token].append(delivery.pk)
    sets = ", ".join(f"{rows.column(Delivery, name)} = %s" for name in changes)
    values = [rows.prepared(Delivery, name, value) for name, value in changes.items()]
    token_column = rows.column(Delivery, "claim_token")
    held: list[int] = []
    with connection.cursor() as cursor:
        for token, ids in by_token.items():
            condition, id_params = rows.in_ids("id", ids)
            mine = f"{token_column} IS NULL" if token is None else f"{token_column} = %s"
            cursor.execute(
                f"UPDATE {rows.table(Delivery)} SET {sets} WHERE {mine} AND {condition}",
                [
                    *values,
                    *([] if token is None else [rows.prepared(Delivery, "claim_token", token)]),
                    *id_params,
                ],
            )
            if cursor.rowcount == len(ids):
                held += ids
            else:  # the rows updated are those still carrying the token (a claim always writes a new one)
                held += Delivery.objects.filter(id__in=ids, claim_token=token).values_list("id", flat=True)
    if "status" in changes:
        for delivery in deliveries:
            if delivery.pk in held:
                delivery.status, delivery.next_attempt_at = str(changes["status"]), None
    return held


def _apply(outcome: Outcome, now: datetime) -> float | None:
    """Move one delivery to its next state in memory; return the delay before a retry, if any."""
    delivery, result = outcome.delivery, outcome.result
    delivery.attempt_count += 1
    delivery.last_attempt_at = now
    delivery.last_status_code = result.status_code
    delivery.claimed_until = None
    if result.ok:
        delivery.status, delivery.next_attempt_at = DeliveryStatus.SUCCEEDED, None
        return None
    delay = (
        None
        if result.status_code == GONE
        else next_delay(
            attempts_made=delivery.attempt_count,
            status_code=result.status_code,
            retry_after=result.retry_after,
        )
    )
    if delay is None:
        delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
        return None
    delivery.next_attempt_at = now + timedelta(seconds=delay)
    return delay
