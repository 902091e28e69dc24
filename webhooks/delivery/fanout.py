"""Fan-out: an committed Event becomes one Delivery per endpoint that wants it, in the worker.

The change's own transaction wrote only the Event (webhooks.outbox); here a worker matches it
against the organization's endpoints (type, content filter, network scopes, all against the data
and place recorded at commit) and writes the deliveries, in one short transaction that also marks
the event fanned out. Rows are taken with SKIP LOCKED and the flag is set in the same transaction,
so an event is fanned out once even when its hint and the sweeper race (and the unique
(event, endpoint) constraint says so again).

Deliveries that can go at once are leased to this worker as they are written: the worker that
fans an event out sends it, with no second claim. The others are written unleased for the
ordinary claim path (webhooks.delivery.claims): a rate-limited or failing endpoint's, and those
queued behind an earlier pending delivery of the same chargestation.

Events of one chargestation reach an endpoint in event order: before fanning out an event with
an ordering key, the earlier events with that key that are not fanned out yet are fanned out
with it (waiting for a worker that holds one of them), and chains are ordered by event id.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from webhooks import metrics, rows
from webhooks.delivery.claims import endpoints_with_plan, lease
from webhooks.models import Delivery, DeliveryStatus, Endpoint, Event
from webhooks.routing.matching import endpoints_matching, matchers_for
from webhooks.routing.scopes import Place


@dataclass
class FanOut:
    """What one fan-out wrote: deliveries leased to this worker, and pending ones left to claims."""

    events: int = 0
    claimed: list[Delivery] = field(default_factory=list)
    waiting: list[int] = field(default_factory=list)


def place_of_event(event: Event) -> Place | None:
    if event.location_pk is None and event.chargestation_pk is None:
        return None
    return Place(location_id=event.location_pk, chargestation_id=event.chargestation_pk)


def _skip_locked() -> str:
    return " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""


def _events_take(event_ids: list[int] | None, limit: int) -> list[Event]:
    """Lock up to `limit` events not fanned out yet (of `event_ids`, if given), oldest first."""
    params: list[Any] = [False]
    only = ""
    if event_ids is not None:
        condition, ids = rows.in_ids("id", event_ids)
        only = f" AND {condition}"
        params += ids
    sql = (
        f"SELECT * FROM {rows.table(Event)} WHERE fanned_out = %s{only} ORDER BY id LIMIT %s{_skip_locked()}"
    )
    return list(Event.objects.raw(sql, [*params, limit]))


DELIVERY_COLUMNS = (
    "event",
    "endpoint",
    "status",
    "ordering_key",
    "attempt_count",
    "next_attempt_at",
    "claimed_until",
    "claim_token",
    "created_at",
)


def events_fan_out(*, event_ids: list[int] | None = None, limit: int) -> FanOut:
    """Write the deliveries of up to `limit` events not fanned out yet (of `event_ids`, if given)."""
    now = timezone.now()
    with transaction.atomic():
        events = _events_take(event_ids, limit)
        if not events:
            return FanOut()
        events = _with_earlier_of_their_chains(events)
        endpoints = endpoints_with_plan("organization_id", {e.organization_id for e in events})
        planned = _deliveries_plan(events, endpoints, now)
        ids = rows.insert_values(Delivery, DELIVERY_COLUMNS, [p.values(now) for p in planned])
        condition, params = rows.in_ids("id", [e.pk for e in events])
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {rows.table(Event)} SET fanned_out = %s WHERE {condition}", [True, *params]
            )
        skipped = sum(1 for p in planned if p.status == DeliveryStatus.SKIPPED)
        metrics.deliveries_counted_on_commit(metrics.SKIPPED, skipped)
    result = FanOut(events=len(events))
    for plan, pk in zip(planned, ids, strict=True):
        if plan.claim_token is not None:
            result.claimed.append(plan.delivery(pk, now))
        elif plan.status == DeliveryStatus.PENDING:
            result.waiting.append(pk)
    return result


def _with_earlier_of_their_chains(events: list[Event]) -> list[Event]:
    """Add the earlier unfanned events of the same chains, so that a chain is written in order.

    Not SKIP LOCKED: a worker fanning one of them out now is waited for (its deliveries then
    exist, and ours queue behind them); rows it fanned out meanwhile no longer match.
    """
    keys = {(e.organization_id, e.ordering_key) for e in events if e.ordering_key}
    if not keys:
        return events
    newest = max(e.pk for e in events)
    have = {e.pk for e in events}
    earlier = Event.objects.filter(
        fanned_out=False,
        id__lt=newest,
        organization_id__in={org for org, _ in keys},
        ordering_key__in={key for _, key in keys},
    ).exclude(id__in=have)
    if connection.features.has_select_for_update:
        earlier = earlier.select_for_update()
    earlier = earlier.order_by("id")
    added = [e for e in earlier if (e.organization_id, e.ordering_key) in keys]
    return sorted(events + added, key=lambda e: e.pk) if added else events


@dataclass(slots=True)
class _Planned:
    """A delivery to write: a Delivery instance is built only for those this worker sends now (a
    fan-out to many endpoints writes up to ten times more, which other workers claim by id)."""

    event: Event
    endpoint: Endpoint
    status: str
    next_attempt_at: datetime | None
    claimed_until: datetime | None = None
    claim_token: uuid.UUID | None = None

    def values(self, now: datetime) -> tuple[Any, ...]:
        """The row, in DELIVERY_COLUMNS' order."""
        return (
            self.event.pk,
            self.endpoint.pk,
            self.status,
            self.event.ordering_key,
            0,
            self.next_attempt_at,
            self.claimed_until,
            self.claim_token,
            now,
        )

    def delivery(self, pk: int, now: datetime) -> Delivery:
        """The written row as a loaded instance, its event and endpoint in hand: built the way a
        query builds one (a value per column, in order), a third of the cost of keyword arguments."""
        row = dict(zip(_WRITTEN_ATTNAMES, self.values(now), strict=True), id=pk)
        delivery = Delivery.from_db(None, _LOADED_ATTNAMES, [row.get(name) for name in _LOADED_ATTNAMES])
        _EVENT_CACHE.set_cached_value(delivery, self.event)
        _ENDPOINT_CACHE.set_cached_value(delivery, self.endpoint)
        return delivery


# What a delivery's row holds, in the model's order (the columns not written are null), and its
# relations' caches.
_ATTNAMES = {field.name: field.attname for field in Delivery._meta.concrete_fields}
_WRITTEN_ATTNAMES = [_ATTNAMES[name] for name in DELIVERY_COLUMNS]
_LOADED_ATTNAMES = list(_ATTNAMES.values())
_EVENT_CACHE = Delivery._meta.get_field("event")
_ENDPOINT_CACHE = Delivery._meta.get_field("endpoint")


def _deliveries_plan(events: list[Event], endpoints: Sequence[Endpoint], now: datetime) -> list[_Planned]:
    by_organization: dict[int, list[Endpoint]] = {}
    for endpoint in endpoints:
        by_organization.setdefault(endpoint.organization_id, []).append(endpoint)
    matchers = matchers_for(endpoints)
    busy_chains = _chains_pending(events, endpoints)
    token = uuid.uuid4()
    leased_until = now + lease()
    # The lease is sized for one batch of sends: an event with many endpoints writes more, and the
    # rest wait unleased for other workers (webhooks.delivery.sending hands them out at once).
    room = settings.WEBHOOKS_BATCH_SIZE
    planned = []
    for event in events:
        # An endpoint hears of what happened after it was registered, however late the fan-out.
        candidates = [
            e for e in by_organization.get(event.organization_id, []) if e.created_at <= event.created_at
        ]
        place = place_of_event(event)
        for endpoint in endpoints_matching(event=event, endpoints=candidates, matchers=matchers, place=place):
            deliverable = endpoint.deliverable(getattr(endpoint, "organization_plan"))  # noqa: B009
            plan = _Planned(
                event=event,
                endpoint=endpoint,
                status=DeliveryStatus.PENDING if deliverable else DeliveryStatus.SKIPPED,
                next_attempt_at=now if deliverable else None,
            )
            chain = (endpoint.pk, event.ordering_key)
            if deliverable and room and _sendable_now(endpoint) and chain not in busy_chains:
                plan.claimed_until, plan.claim_token = leased_until, token
                room -= 1
            if deliverable and event.ordering_key:
                busy_chains.add(chain)  # the next event of this chain waits for this one
            planned.append(plan)
    return planned


def _sendable_now(endpoint: Endpoint) -> bool:
    """Rate limits and a failing endpoint's one-at-a-time are kept by the claim path instead."""
    return not endpoint.rate_limit and not endpoint.consecutive_failures


def _chains_pending(events: list[Event], endpoints: Sequence[Endpoint]) -> set[tuple[int, str]]:
    """(endpoint, ordering key) chains that already hold a pending delivery."""
    keys = {e.ordering_key for e in events if e.ordering_key}
    if not keys or not endpoints:
        return set()
    return set(
        Delivery.objects.filter(
            status=DeliveryStatus.PENDING,
            endpoint_id__in=[e.pk for e in endpoints],
            ordering_key__in=keys,
        )
        .values_list("endpoint_id", "ordering_key")
        .distinct()
    )
