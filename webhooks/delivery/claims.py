"""Claiming due deliveries: leases, so that many workers share one outbox with no coordinator.

A worker claims deliveries by leasing them (`claimed_until`, with a fresh `claim_token` that
fences the outcome: webhooks.delivery.outcomes) in a short transaction that skips rows another
worker has locked (`SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL), so each delivery is sent
by one worker at a time. A lease that runs out (the worker died) makes the
delivery claimable again: delivery is at least once. What may be claimed keeps each
chargestation's events in order, gives a failing endpoint one delivery at a time, and keeps an
endpoint's `rate_limit`.
"""

import uuid
from collections import Counter
from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import BooleanField, Count, Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from organizations.models import Organization
from webhooks import rows
from webhooks.delivery import queue
from webhooks.models import Delivery, DeliveryStatus, Endpoint, Event


def endpoint_slots() -> int:
    """How many sends to one endpoint a worker process may have under way: half its sender threads,
    so that a slow endpoint cannot hold them all (webhooks.delivery.sending)."""
    return max(settings.WEBHOOKS_CONCURRENCY // 2, 1)


def lease() -> timedelta:
    """Long enough for a whole batch to be sent and recorded, each send taking its full timeout: a
    batch to one endpoint goes out `endpoint_slots()` at a time."""
    rounds = -(-settings.WEBHOOKS_BATCH_SIZE // endpoint_slots())
    return timedelta(seconds=settings.WEBHOOKS_TIMEOUT * rounds + 10)


def claimable(now: datetime | None = None) -> QuerySet[Delivery]:
    """Due, unleased deliveries that no earlier delivery of the same chain holds back."""
    now = now or timezone.now()
    earlier_pending = Delivery.objects.filter(
        endpoint_id=OuterRef("endpoint_id"),
        ordering_key=OuterRef("ordering_key"),
        status=DeliveryStatus.PENDING,
        id__lt=OuterRef("id"),
    )
    # Computed once per query, not once per candidate: a failing endpoint's backlog can be long.
    failing_in_flight = Delivery.objects.filter(
        status=DeliveryStatus.PENDING, claimed_until__gte=now, endpoint__consecutive_failures__gt=0
    ).values("endpoint_id")
    return (
        Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .exclude(~Q(ordering_key="") & Exists(earlier_pending))
        # A failing endpoint gets one delivery at a time, so that it cannot tie up every sender.
        .exclude(endpoint_id__in=failing_in_flight)
    )


def deliveries_claim(
    *, ids: list[int] | None = None, limit: int | None = None, not_to: Collection[int] = ()
) -> list[Delivery]:
    """Lease up to `limit` claimable deliveries (of `ids`, if given; to no endpoint of `not_to`)."""
    now = timezone.now()
    limit = limit or settings.WEBHOOKS_BATCH_SIZE
    with transaction.atomic():
        if connection.vendor == "postgresql":
            picked = _picked_on_postgresql(now, limit, ids, not_to)
        else:
            picked = list(
                _claim_query(
                    now,
                    limit,
                    ids=None if ids is None else Q(id__in=ids),
                    not_to=Q(endpoint_id__in=list(not_to)) if not_to else None,
                )
            )
        # Each event and endpoint is loaded once, not once per delivery: a batch shares a few of them.
        targets = {e.pk: e for e in endpoints_with_plan("id", {d.endpoint_id for d in picked})}
        picked = _within_rate_limits(picked, targets, now)
        if picked:
            # A new token per claim: only this claim may record these deliveries' outcomes.
            token, until = uuid.uuid4(), now + lease()
            _lease(picked, until, token)
    events = _events_by_id({d.event_id for d in picked})
    for delivery in picked:
        delivery.event, delivery.endpoint = events[delivery.event_id], targets[delivery.endpoint_id]
        delivery.claimed_until, delivery.claim_token = until, token
    return sorted(picked, key=lambda d: d.pk)


def _claim_query(now: datetime, limit: int, *, ids: Any = None, not_to: Any = None) -> QuerySet[Delivery]:
    """The claim's SELECT: the first `limit` claimable deliveries (those `ids` select, none `not_to`
    selects; each a condition), locked, skipping those another claim has locked."""
    candidates = claimable(now)
    if ids is not None:
        candidates = candidates.filter(ids)
    if not_to is not None:
        candidates = candidates.exclude(not_to)
    if connection.features.has_select_for_update_skip_locked:
        # Only the delivery rows: locking the endpoint row too would make concurrent claims
        # for one endpoint skip each other's whole batch.
        candidates = candidates.select_for_update(skip_locked=True, of=("self",))
    # Only what sending and recording read: parsing unused timestamps is a cost per delivery.
    return candidates.only(*_CLAIMED_FIELDS).order_by("next_attempt_at", "id")[:limit]


_CLAIMED_FIELDS = ("id", "event_id", "endpoint_id", "status", "ordering_key", "attempt_count")

# On PostgreSQL the claim's SELECT is the ORM's, compiled once per shape with stand-ins for its
# values, which every claim then replaces with its own: compiling it cost about a millisecond, a
# tenth of a claim. Its ids are one array parameter there, whatever their number.
_NOW = datetime(2000, 1, 1, 0, 0, 0, 1, tzinfo=UTC)
_IDS, _NOT_TO = "{-1}", "{-2}"  # no delivery or endpoint has a negative id


def _any_of(column: str, array: str) -> RawSQL:
    # The table and column names are the model's; the ids are a parameter.
    return RawSQL(  # noqa: S611
        rows.any_id(f"{rows.table(Delivery)}.{rows.column(Delivery, column)}"),
        [array],
        output_field=BooleanField(),
    )


@lru_cache(maxsize=16)
def _claim_statement(limit: int, with_ids: bool, with_not_to: bool) -> tuple[str, tuple[Any, ...]]:
    query = _claim_query(
        _NOW,
        limit,
        ids=_any_of("id", _IDS) if with_ids else None,
        not_to=_any_of("endpoint", _NOT_TO) if with_not_to else None,
    )
    sql, params = query.query.get_compiler(using=query.db).as_sql()
    return sql, tuple(params)


def _picked_on_postgresql(
    now: datetime, limit: int, ids: list[int] | None, not_to: Collection[int]
) -> list[Delivery]:
    sql, stand_ins = _claim_statement(limit, ids is not None, bool(not_to))
    values: dict[Any, Any] = {_NOW: now, _IDS: rows.id_array(ids or ()), _NOT_TO: rows.id_array(not_to)}
    params = [values.get(p, p) if isinstance(p, (str, datetime)) else p for p in stand_ins]
    return list(Delivery.objects.raw(sql, params))


# The statements around the claim's SELECT are written out (webhooks.rows): a worker claims a batch
# every few milliseconds, and the ORM's compiler cost more CPU than the statements themselves.


def endpoints_with_plan(column: str, values: set[int]) -> list[Endpoint]:
    """The endpoints whose `column` ("id", "organization_id") is one of `values`, each with its
    organization's plan (`organization_plan`), which says whether it may be sent to."""
    if not values:
        return []
    condition, params = rows.in_ids(f"e.{column}", sorted(values))
    sql = (
        f"SELECT e.*, o.plan AS organization_plan FROM {rows.table(Endpoint)} e"
        f" JOIN {rows.table(Organization)} o ON o.id = e.organization_id WHERE {condition}"
    )
    return list(Endpoint.objects.raw(sql, params))


def _events_by_id(ids: set[int]) -> dict[int, Event]:
    if not ids:
        return {}
    condition, params = rows.in_ids("id", sorted(ids))
    return {
        event.pk: event
        for event in Event.objects.raw(f"SELECT * FROM {rows.table(Event)} WHERE {condition}", params)
    }


def _lease(picked: list[Delivery], until: datetime, token: uuid.UUID) -> None:
    condition, params = rows.in_ids("id", [d.pk for d in picked])
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {rows.table(Delivery)} SET {rows.column(Delivery, 'claimed_until')} = %s,"
            f" {rows.column(Delivery, 'claim_token')} = %s WHERE {condition}",
            [
                rows.prepared(Delivery, "claimed_until", until),
                rows.prepared(Delivery, "claim_token", token),
                *params,
            ],
        )


def _within_rate_limits(
    picked: list[Delivery], targets: Mapping[int, Endpoint], now: datetime
) -> list[Delivery]:
    """Keep an endpoint's `rate_limit` (deliveries per second): the excess waits a second.

    The budget counts what was attempted in the last second and what is in flight, across every
    worker. Claims for one rate-limited endpoint take turns (a transaction-scoped advisory lock on
    PostgreSQL; SQLite runs one write transaction at a time), so that each counts what the one
    before it leased.
    """
    limits = {pk: e.rate_limit for pk, e in targets.items() if e.rate_limit}
    if not limits:
        return picked
    _claims_take_turns(sorted(limits))
    busy = Counter(
        dict(
            Delivery.objects.filter(endpoint_id__in=limits)
            .filter(Q(last_attempt_at__gt=now - timedelta(seconds=1)) | Q(claimed_until__gt=now))
            .values("endpoint_id")
            .annotate(n=Count("id"))
            .values_list("endpoint_id", "n")
        )
    )
    kept, deferred = [], []
    for delivery in picked:
        limit = limits.get(delivery.endpoint_id)
        if limit is None or busy[delivery.endpoint_id] < limit:
            busy[delivery.endpoint_id] += 1
            kept.append(delivery)
        else:
            deferred.append(delivery.pk)
    if deferred:
        Delivery.objects.filter(id__in=deferred).update(next_attempt_at=now + timedelta(seconds=1))
        transaction.on_commit(lambda: queue.deliveries_enqueue(deferred, countdown=1), robust=True)
    return kept


# The advisory lock key space of rate-limited claims: (this, endpoint id).
_RATE_LIMIT_LOCKS = 0x65647276


def _claims_take_turns(endpoint_ids: list[int]) -> None:
    """Wait for other claims of these endpoints to commit; held until this transaction ends.

    Not a row lock on the endpoint: disabling an endpoint locks its row, then its pending
    deliveries, which a claim may hold; an advisory lock cannot deadlock with that. Taken in id
    order, so that two claims cannot wait on each other.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for endpoint_id in endpoint_ids:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_RATE_LIMIT_LOCKS, endpoint_id])
