"""Operational events: the platform's own news about webhooks and their deliveries.

`webhook.created`, `.updated`, `.deleted`, `.disabled`, `.failing`, `.recovered` and
`delivery.exhausted` (the catalog's "Webhook operations") are events like any other: one Event row
each, written in the transaction of the change it reports (a change rolled back reports nothing),
handed to the workers (and announced to the feed's waiting clients) once it commits, then fanned
out, filtered, signed, retried and counted as every event is. They are written here rather than
in webhooks.outbox because most are raised on the delivery side (an outcome disables a webhook,
ends its failure streak, gives up on a delivery), which the outbox sits above; the row, the hint
and the announcement are the outbox's own.

- `data` is the webhook or the delivery (webhooks.catalog.operational_serializers), never a secret.
- Their ordering key is the webhook's id: the news about one webhook reaches each endpoint in the
  order it happened (failing, deliveries given up on, disabled), as a chargestation's events do.
- They are about no place: network scopes do not hold them back (as organization, user and rate
  events).
- News of a webhook's health never goes to that webhook (catalog.types.NOT_TO_ITS_SUBJECT).
- No `delivery.exhausted` about a delivery of an operational event, nor of a test event: two failing
  webhooks subscribed to each other's news would otherwise report each other's reports forever.
- Recording never breaks what it reports (a disable, a worker's outcomes): it runs in a savepoint,
  and a failure is logged, not raised.
"""

import logging
from collections.abc import Callable, Sequence

from django.db import transaction
from django.utils import timezone

from edrv_project.db import new_object_id
from webhooks import metrics, rows
from webhooks.catalog.operational_serializers import with_last_error
from webhooks.catalog.payloads import snapshot
from webhooks.catalog.types import EVENT_TYPES, OPERATIONAL
from webhooks.delivery import queue
from webhooks.feed.announcing import events_announce_on_commit
from webhooks.models import EVENT_COLUMNS, Attempt, Delivery, Endpoint, Event

logger = logging.getLogger(__name__)

# The news whose `lastError` is the webhook's last attempt, when that failed.
_WITH_LAST_ERROR = frozenset({"webhook.disabled", "webhook.failing"})


def webhook_event_record(*, type_name: str, endpoint: Endpoint | int) -> None:
    """Record a `webhook.*` event about `endpoint`, as it stands now, in the caller's transaction.

    `endpoint` may be its primary key: it is loaded here, where a failure cannot reach the caller.
    """

    def build() -> list[Event]:
        about = endpoint if isinstance(endpoint, Endpoint) else Endpoint.objects.get(pk=endpoint)
        last_error = _last_attempt_failed(about) if type_name in _WITH_LAST_ERROR else None
        data = snapshot(object_name="webhook", subject=with_last_error(about, last_error))
        return [_event(type_name, organization_id=about.organization_id, data=data, about=about)]

    _record(build, type_name=type_name, endpoint_pk=endpoint if isinstance(endpoint, int) else endpoint.pk)


def deliveries_exhausted_record(failed: Sequence[tuple[Delivery, Attempt]]) -> None:
    """Record `delivery.exhausted` for deliveries whose last attempt (given) has just failed.

    Each delivery needs its event and endpoint loaded. Deliveries of operational or test events
    report nothing.
    """
    reported = [(d, a) for d, a in failed if not d.event.is_test and d.event.type not in OPERATIONAL]
    if not reported:
        return

    def build() -> list[Event]:
        return [
            _event(
                "delivery.exhausted",
                organization_id=delivery.endpoint.organization_id,
                data=snapshot(object_name="delivery", subject=with_last_error(delivery, attempt)),
                about=delivery.endpoint,
            )
            for delivery, attempt in reported
        ]

    _record(build, type_name="delivery.exhausted", endpoint_pk=reported[0][0].endpoint_id)


def _event(type_name: str, *, organization_id: int, data: object, about: Endpoint) -> Event:
    return Event(
        public_id=new_object_id(),
        organization_id=organization_id,
        type=type_name,
        object=EVENT_TYPES[type_name].object,
        data=data,
        ordering_key=about.public_id,
        created_at=timezone.now(),
    )


def _last_attempt_failed(endpoint: Endpoint) -> Attempt | None:
    """The endpoint's last attempt if it failed (the one that disabled it, or the latest of a streak)."""
    last = Attempt.objects.filter(delivery__endpoint_id=endpoint.pk).order_by("-created_at", "-id").first()
    return last if last is not None and not last.succeeded else None


def _record(build: Callable[[], list[Event]], *, type_name: str, endpoint_pk: int) -> None:
    try:
        # A savepoint: whatever fails here is undone alone, and the change it reports goes on.
        with transaction.atomic():
            events = build()
            for event, pk in zip(events, rows.insert(Event, EVENT_COLUMNS, events), strict=True):
                event.pk = pk
    except Exception:
        # Deliberately broad: news about a change must never undo the change (a disable, a batch of
        # outcomes). The news is lost, and the log says so.
        logger.exception(
            "webhooks.operational_event.failed",
            extra={"type": type_name, "endpoint_pk": endpoint_pk},
        )
        return
    ids, types = [e.pk for e in events], [e.type for e in events]
    transaction.on_commit(lambda: _hint(ids, types), robust=True)
    for organization_id in {e.organization_id for e in events}:  # the long-poll feed's clients
        events_announce_on_commit(organization_id=organization_id, types=set(types))
    for event in events:
        logger.info("webhooks.event.recorded", extra={"event_id": event.public_id, "type": event.type})


def _hint(event_ids: list[int], types: list[str]) -> None:
    """After commit: count them, and have them fanned out (the sweeper does if the broker is down)."""
    metrics.events_counted(types)
    queue.events_fan_out_enqueue(event_ids)
