"""What the feed reads: an organization's events after one, oldest first, as the bytes webhooks send.

A position is an event's primary key (its public id is what clients see and pass back as `after`).
Reads stop at the settled id (webhooks.feed.horizon), established before each read: one known for
up to SETTLED_MAX_AGE, and a fresh one, with a second read, when it holds back events found. Test
events are left out: each was written for one endpoint, as a sample of a type, not as news of the
network.

Every request of every waiting client runs `feed_position` and `feed_read`: their statements are
written out (as webhooks/rows.py says why), which spares each the ORM's query compiler, several
times the database's own work on them.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import QuerySet

from webhooks import rows
from webhooks.catalog.payloads import body
from webhooks.feed.horizon import settled_event_id
from webhooks.models import Event

SETTLED_MAX_AGE = 1.0  # seconds


@dataclass(frozen=True)
class Position:
    """After which event to read: its primary key and public id (0 and "": before the first one)."""

    pk: int
    public_id: str


START = Position(0, "")


@dataclass(frozen=True)
class Page:
    bodies: tuple[bytes, ...]  # each event's envelope, byte for byte as its webhooks carry it
    next_id: str  # the `after` of the next read: the last event's id, or the position read after
    # Later events were visible but not yet settled: they are answered once they are, shortly.
    pending: bool = False

    def json(self) -> bytes:
        """`{"events": [...], "next": "..."}`, the envelopes embedded as they are."""
        return (
            b'{"events":[' + b",".join(self.bodies) + b'],"next":' + json.dumps(self.next_id).encode() + b"}"
        )


def _events(organization_id: int) -> "QuerySet[Event]":
    return Event.objects.filter(organization_id=organization_id, is_test=False)


def _columns(*names: str) -> str:
    return ", ".join(rows.column(Event, name) for name in names)


def feed_position(*, organization_id: int, after: str | None) -> Position | None:
    """Where a read starts: after the event `after`; from the oldest event kept when `after` is "";
    from the newest settled one when it is None. None when `after` is no event of the organization."""
    if after == "":
        return START
    if after is not None:
        found = list(
            Event.objects.raw(
                f"SELECT {_columns('id')} FROM {rows.table(Event)}"
                f" WHERE {rows.column(Event, 'public_id')} = %s AND {rows.column(Event, 'organization')} = %s"
                f" AND {rows.column(Event, 'is_test')} = %s",
                [after, organization_id, False],
            )
        )
        return Position(found[0].pk, after) if found else None
    settled = settled_event_id()  # fresh: an older one would start the client before the newest
    events = _events(organization_id) if settled is None else _events(organization_id).filter(pk__lte=settled)
    # Newest by time, on the organization's index of it (newest by id would walk every organization's
    # events since this one's last): should a later id have an earlier time, the client is answered
    # that one more event. Nothing is skipped: every id up to this one is settled.
    newest = events.order_by("-created_at", "-id").values_list("pk", "public_id").first()
    return START if newest is None else Position(*newest)


def feed_read(*, organization_id: int, position: Position, types: Sequence[str], limit: int) -> Page:
    """Up to `limit` events after `position`, oldest first, of `types` (all when empty), all settled."""
    settled = settled_event_id(max_age=SETTLED_MAX_AGE)
    page = _read(organization_id, position, types, limit, settled)
    if page.pending and settled is not None:
        fresher = settled_event_id()  # established after that read: it needs a read of its own
        if fresher is not None and fresher > settled:
            page = _read(organization_id, position, types, limit, fresher)
    return page


def _read(
    organization_id: int, position: Position, types: Sequence[str], limit: int, settled: int | None
) -> Page:
    of_types = f" AND {rows.column(Event, 'type')} IN ({rows.marks(len(types))})" if types else ""
    found = list(
        Event.objects.raw(
            f"SELECT {_columns('id', 'public_id', 'type', 'object', 'data', 'created_at')}"
            f" FROM {rows.table(Event)} WHERE {rows.column(Event, 'organization')} = %s"
            f" AND {rows.column(Event, 'is_test')} = %s AND {rows.column(Event, 'id')} > %s{of_types}"
            f" ORDER BY {rows.column(Event, 'id')} LIMIT %s",
            [organization_id, False, position.pk, *types, limit],
        )
    )
    answered = [event for event in found if settled is None or event.pk <= settled]
    return Page(
        bodies=tuple(body(event) for event in answered),
        next_id=answered[-1].public_id if answered else position.public_id,
        pending=len(answered) < len(found),
    )
