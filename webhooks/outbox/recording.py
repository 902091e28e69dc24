"""Recording events: the outbox rows, written in the same transaction as the change.

A change raises its events here; each becomes one Event row and one Delivery row per endpoint
of the organization subscribed to it (skipped when the endpoint is disabled or the organization's
plan has no webhooks), unless the endpoint's content filter or network scopes keep the event out:
then it gets no Delivery at all (webhooks.routing.matching). Workers are told on commit, with ids only: a
rolled-back change leaves nothing, and a broker that is down at commit time only delays delivery
(the sweeper picks it up).
"""

import logging
import threading
from collections.abc import Iterable
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Model
from django.utils import timezone

from edrv_project.db import new_object_id
from organizations.models import Organization, Plan
from webhooks import metrics
from webhooks.catalog.payloads import event_data
from webhooks.catalog.triggers import events_raised, source_for, subject_of
from webhooks.catalog.types import EVENT_TYPES, Envelope
from webhooks.delivery import queue
from webhooks.models import Delivery, DeliveryStatus, Endpoint, Event
from webhooks.routing.matching import endpoints_matching, matchers_for
from webhooks.routing.scopes import Place, place_of

logger = logging.getLogger(__name__)


def _ordering_key(subject: Any) -> str:
    """Events about one chargestation (its sessions included) share a key: they stay in order."""
    if subject._meta.label == "chargestations.Chargestation":
        return str(subject.public_id)
    station = getattr(subject, "chargestation", None)
    return str(station.public_id) if station is not None else ""


def change_record(*, instance: Model, created: bool = False, deleted: bool = False) -> list[Event]:
    """Record the events a save (or delete) of `instance` raises, per the catalog."""
    source = source_for(type(instance))
    if source is None:
        return []
    names = events_raised(source, instance, created=created, deleted=deleted)
    if not names:
        return []
    subject = subject_of(source, instance)
    snapshots: dict[str, Any] = {}
    items = [
        (name, event_data(type_name=name, subject=subject, changed=instance, snapshots=snapshots))
        for name in names
    ]
    if source.subject and _open_event_refresh(subject, items):
        return []
    events = events_record(
        organization_id=subject.organization_id,  # type: ignore[attr-defined]
        items=items,
        ordering_key=_ordering_key(subject),
        place=place_of(subject),
    )
    _open_event_remember(subject, events)
    return events


# Writing a rate with its price components (a driver with its tokens) in one atomic block is one
# change: the parts' saves refresh the `created`/`updated` event the whole raised in that same
# block, instead of adding an `updated` event per part.
_open_events = threading.local()
_Opened = tuple[tuple[str, ...], int, str]  # atomic block (savepoint ids), event pk, event public id


def _open_registry() -> dict[tuple[str, Any], _Opened]:
    if not hasattr(_open_events, "registry"):
        _open_events.registry = {}
    return _open_events.registry


def _open_event_remember(subject: Model, events: list[Event]) -> None:
    if not connection.in_atomic_block:
        return
    for event in events:
        kind = event.type.rsplit(".", 1)[-1]
        if kind in ("created", "updated") and EVENT_TYPES[event.type].envelope is Envelope.EDRV:
            block = tuple(connection.savepoint_ids)
            _open_registry()[(subject._meta.label, subject.pk)] = (block, event.pk, event.public_id)
            transaction.on_commit(_open_registry().clear)


def _open_event_refresh(subject: Model, items: list[tuple[str, Any]]) -> bool:
    """True when a part's one `updated` event went into the event its whole raised in this block."""
    opened = _open_registry().get((subject._meta.label, subject.pk))
    if opened is None or len(items) != 1 or not items[0][0].endswith(".updated"):
        return False
    block, pk, public_id = opened
    if not connection.in_atomic_block or block != tuple(connection.savepoint_ids):
        return False
    # The public id guards against a rolled-back event whose row id was reused since.
    if Event.objects.filter(pk=pk, public_id=public_id).update(data=items[0][1]) != 1:
        return False
    organization_id: int = subject.organization_id  # type: ignore[attr-defined]
    _deliveries_refilter(event_pk=pk, organization_id=organization_id, place=place_of(subject))
    return True


def _deliveries_refilter(*, event_pk: int, organization_id: int, place: Place | None) -> None:
    """Match content filters again against a refreshed event: its envelope is what will be sent.

    Nothing was sent yet (the workers hear of it on commit): deliveries are added or removed.
    """
    endpoints = list(
        Endpoint.objects.filter(organization_id=organization_id, filter__isnull=False).annotate(
            organization_plan=F("organization__plan")
        )
    )
    matchers = {pk: m for pk, m in matchers_for(endpoints).items() if m.content is not None}
    if not matchers:
        return
    event = Event.objects.get(pk=event_pk)
    filtered = [endpoint for endpoint in endpoints if endpoint.pk in matchers]
    wanted = endpoints_matching(event=event, endpoints=filtered, matchers=matchers, place=place)
    wanted_ids = {endpoint.pk for endpoint in wanted}
    existing = Delivery.objects.filter(event_id=event_pk, endpoint_id__in=list(matchers))
    present = set(existing.values_list("endpoint_id", flat=True))
    existing.exclude(endpoint_id__in=wanted_ids).delete()
    due = _deliveries_add(
        [(event, endpoint) for endpoint in filtered if endpoint.pk in wanted_ids - present],
        deliverable=getattr(filtered[0], "organization_plan") != Plan.FREE,  # noqa: B009
        ordering_key=event.ordering_key,
        now=event.created_at,
    )
    if due:
        _publish_on_commit(due)


def events_record(
    *,
    organization_id: int,
    items: Iterable[tuple[str, Any]],
    ordering_key: str = "",
    endpoints: list[Endpoint] | None = None,
    is_test: bool = False,
    place: Place | None = None,
) -> list[Event]:
    """Write Events (type, data) and their Deliveries; tell the workers once committed.

    `endpoints` restricts delivery to those endpoints (a test event: no filter or scope applies);
    by default every endpoint of the organization subscribed to the type and whose filter and
    scopes admit the event gets one. `place` is what the events are about (None: no place).
    """
    now = timezone.now()
    with transaction.atomic():
        events = Event.objects.bulk_create(
            Event(
                public_id=f"test_{new_object_id()}" if is_test else new_object_id(),
                organization_id=organization_id,
                type=name,
                object=EVENT_TYPES[name].object,
                data=data,
                ordering_key=ordering_key,
                is_test=is_test,
                created_at=now,
            )
            for name, data in items
        )
        metrics.events_counted_on_commit(event.type for event in events)
        if endpoints is None:
            # The plan comes along with the endpoints: one query on every change, not two.
            endpoints = list(
                Endpoint.objects.filter(organization_id=organization_id).annotate(
                    organization_plan=F("organization__plan")
                )
            )
            deliverable = bool(endpoints) and getattr(endpoints[0], "organization_plan") != Plan.FREE  # noqa: B009
            matchers = matchers_for(endpoints)
        else:
            deliverable = _deliverable(organization_id) if endpoints else False
            matchers = {}
        pairs = [
            (event, endpoint)
            for event in events
            for endpoint in (
                endpoints
                if is_test
                else endpoints_matching(event=event, endpoints=endpoints, matchers=matchers, place=place)
            )
        ]
        due = _deliveries_add(pairs, deliverable=deliverable, ordering_key=ordering_key, now=now)
        if due:
            _publish_on_commit(due)
    for event in events:
        logger.info("webhooks.event.recorded", extra={"event_id": event.public_id, "type": event.type})
    return events


def _deliveries_add(
    pairs: list[tuple[Event, Endpoint]], *, deliverable: bool, ordering_key: str, now: Any
) -> list[int]:
    """Write a Delivery per (event, endpoint) pair; the ids of those due now."""
    deliveries = Delivery.objects.bulk_create(
        Delivery(
            event=event,
            endpoint=endpoint,
            ordering_key=ordering_key,
            status=DeliveryStatus.PENDING if deliverable and endpoint.active else DeliveryStatus.SKIPPED,
            next_attempt_at=now if deliverable and endpoint.active else None,
            created_at=now,
        )
        for event, endpoint in pairs
    )
    skipped = sum(1 for d in deliveries if d.status == DeliveryStatus.SKIPPED)
    metrics.deliveries_counted_on_commit(metrics.SKIPPED, skipped)
    return [d.pk for d in deliveries if d.status == DeliveryStatus.PENDING]


def _publish_on_commit(ids: list[int]) -> None:
    """Tell the workers once the transaction commits; never if it, or the savepoint, rolls back.

    A transaction that records many changes (an import, a whole written with its parts) registers
    a callback per change; the publisher thread (webhooks.delivery.queue) gathers their ids into tasks of
    a batch each, not one task per change.
    """
    transaction.on_commit(lambda: queue.deliveries_enqueue_soon(ids), robust=True)


def _deliverable(organization_id: int) -> bool:
    """Webhooks need the Starter plan or above; on Free, deliveries are kept as skipped."""
    plan = Organization.objects.filter(pk=organization_id).values_list("plan", flat=True).first()
    return plan is not None and plan != Plan.FREE
