"""Recording events: the outbox rows, written in the same transaction as the change.

A change raises its events here (which ones: webhooks.catalog.triggers); each becomes one Event
row carrying its data snapshot (the API serializer's output, taken now) and the place it is
about, and nothing else: matching it against the endpoints and writing its deliveries happen in a
worker (webhooks.delivery.fanout), told on commit with ids only. A rolled-back change leaves
nothing; a broker that is down at commit time only delays delivery (the sweeper finds events that
were not fanned out).
"""

import logging
import threading
from collections.abc import Iterable
from functools import cache
from typing import Any

from django.apps import apps
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from edrv_project.db import new_object_id
from webhooks import metrics, rows
from webhooks.catalog.payloads import event_data
from webhooks.catalog.triggers import events_raised, source_for, subject_of
from webhooks.catalog.types import EVENT_TYPES, SOURCES, Envelope
from webhooks.delivery import queue
from webhooks.feed.announcing import events_announce
from webhooks.models import EVENT_COLUMNS, Delivery, DeliveryStatus, Endpoint, Event
from webhooks.outbox.publishing import events_hint
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
# block, instead of adding an `updated` event per part. Nothing was fanned out yet (that waits for
# the commit), so the refreshed data is what every endpoint is matched against and receives.
_open_events = threading.local()
_Opened = tuple[tuple[str, ...], str]  # atomic block (savepoint ids), event public id


def _open_registry() -> dict[tuple[str, Any], _Opened]:
    if not hasattr(_open_events, "registry"):
        _open_events.registry = {}
    return _open_events.registry


@cache
def _wholes() -> frozenset[str]:
    """The models that have parts (whose saves refresh their event): a rate, a driver, a station."""
    labels = set()
    for source in SOURCES:
        model: Any = apps.get_model(source.model)
        for attribute in filter(None, source.subject.split(".")):
            model = model._meta.get_field(attribute).related_model
        if model is not apps.get_model(source.model):
            labels.add(model._meta.label)
    return frozenset(labels)


def _open_event_remember(subject: Model, events: list[Event]) -> None:
    # Forgotten when the transaction commits (events_record's callback) or rolls back (the row is
    # gone, and with it what a refresh could find).
    if not connection.in_atomic_block or subject._meta.label not in _wholes():
        return
    for event in events:
        kind = event.type.rsplit(".", 1)[-1]
        if kind in ("created", "updated") and EVENT_TYPES[event.type].envelope is Envelope.EDRV:
            block = tuple(connection.savepoint_ids)
            _open_registry()[(subject._meta.label, subject.pk)] = (block, event.public_id)


def _open_event_refresh(subject: Model, items: list[tuple[str, Any]]) -> bool:
    """True when a part's one `updated` event went into the event its whole raised in this block."""
    opened = _open_registry().get((subject._meta.label, subject.pk))
    if opened is None or len(items) != 1 or not items[0][0].endswith(".updated"):
        return False
    block, public_id = opened
    if not connection.in_atomic_block or block != tuple(connection.savepoint_ids):
        return False
    # By its public id: the row may still wait to be written (it is, before this UPDATE runs).
    return Event.objects.filter(public_id=public_id).update(data=items[0][1]) == 1


def events_record(
    *,
    organization_id: int,
    items: Iterable[tuple[str, Any]],
    ordering_key: str = "",
    place: Place | None = None,
) -> list[Event]:
    """Write Events (type, data) in the caller's transaction; hint the workers once it commits.

    `place` is what the events are about (None: no place): network scopes are matched against it.
    One INSERT (written out: webhooks.rows), sent with the COMMIT (or before the transaction's next
    statement, if it has one), no savepoint, no endpoint lookup: the worker does the rest. The
    events' ids are known once their row is written.
    """
    now = timezone.now()
    events = [
        Event(
            public_id=new_object_id(),
            organization_id=organization_id,
            type=name,
            object=EVENT_TYPES[name].object,
            data=data,
            ordering_key=ordering_key,
            location_pk=place.location_id if place else None,
            chargestation_pk=place.chargestation_id if place else None,
            created_at=now,
        )
        for name, data in items
    ]
    rows.insert_deferred(Event, EVENT_COLUMNS, events)

    def hint_workers_and_feed() -> None:  # one callback per change, once it commits
        if _open_registry():  # first: a committed event is never refreshed by a later transaction
            _open_registry().clear()
        events_hint(events)
        events_announce(organization_id=organization_id, types={event.type for event in events})

    transaction.on_commit(hint_workers_and_feed, robust=True)
    if logger.isEnabledFor(logging.INFO):
        for event in events:
            logger.info("webhooks.event.recorded", extra={"event_id": event.public_id, "type": event.type})
    return events


def test_event_record(*, endpoint: Endpoint, type_name: str, data: Any) -> Delivery:
    """A test event for one endpoint alone (no filter or scope applies), with its delivery.

    Written whole here, already fanned out: the request that asked for it answers with it.
    """
    now = timezone.now()
    deliverable = endpoint.deliverable(endpoint.organization.plan)
    with transaction.atomic():
        event = Event.objects.create(
            public_id=f"test_{new_object_id()}",
            organization_id=endpoint.organization_id,
            type=type_name,
            object=EVENT_TYPES[type_name].object,
            data=data,
            is_test=True,
            fanned_out=True,
            created_at=now,
        )
        delivery = Delivery.objects.create(
            event=event,
            endpoint=endpoint,
            status=DeliveryStatus.PENDING if deliverable else DeliveryStatus.SKIPPED,
            next_attempt_at=now if deliverable else None,
            created_at=now,
        )
        metrics.events_counted_on_commit([type_name])
        if deliverable:
            transaction.on_commit(lambda: queue.deliveries_enqueue([delivery.pk]), robust=True)
        else:
            metrics.deliveries_counted_on_commit(metrics.SKIPPED, 1)
    logger.info("webhooks.event.recorded", extra={"event_id": event.public_id, "type": type_name})
    return delivery
