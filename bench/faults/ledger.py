"""Counting a scenario: what was committed (the outbox rows), what the receiver got, what is off.

For one endpoint (one receiver path):

- committed: Events with a Delivery to the endpoint: the rows the product wrote, whatever any
  client was told;
- delivered: those of their webhook-ids the receiver answered 2xx in time at least once;
- lost: committed and never delivered, plus changes committed without their event (a location
  row with no `location.created` event, a location the API acknowledged that is not there);
- invented: webhook-ids that reached the receiver but match no committed Event of the endpoint;
- duplicates: deliveries beyond the first of one webhook-id (delivery is at least once);
- defects: what a scenario found beyond the columns that fails its row all the same (scenario 8:
  attempts recorded twice, a delivery recorded by two workers, a duplicate no freeze explains);
- API 5xx: answers >= 500 to requests sent while the fault was on;
- drained: seconds from the end of the fault until the backlog it left is delivered: the last
  first delivery of the events recorded before the fault ended.
"""

import itertools
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from django.db import DatabaseError, connection
from django.db.models import Count, Q

from bench.faults.load import ApiCall, Window
from bench.faults.tally import Tally

T = TypeVar("T")


@dataclass
class Row:
    scenario: str
    committed: int
    delivered: int
    lost: int
    invented: int
    duplicates: int
    api_5xx: int | None  # None: no API load in this scenario
    drained: float | None  # None: not drained
    notes: list[str] = field(default_factory=list)
    expect_duplicates: bool = False  # a process was killed: duplicates are allowed
    crashes: int = 0  # processes that died on their own during the scenario (and were restarted)
    defects: int = 0  # findings the columns do not show that fail the row (the notes say which)

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.invented == 0
            and self.drained is not None
            and (self.expect_duplicates or self.duplicates == 0)
            and self.defects == 0
        )


def _retrying(read: Callable[[], T]) -> T:
    """Read through a connection that a database restart may have broken."""
    for _ in range(50):
        try:
            return read()
        except DatabaseError:
            connection.close()
            time.sleep(0.2)
    return read()


def committed_ids(endpoint_id: int) -> dict[str, float]:
    """The public ids of the endpoint's committed events, with when each was recorded."""
    from webhooks.models import Event

    rows = _retrying(
        lambda: list(
            Event.objects.filter(deliveries__endpoint_id=endpoint_id, is_test=False).values_list(
                "public_id", "created_at"
            )
        )
    )
    return {public_id: created.timestamp() for public_id, created in rows}


def pending_count(endpoint_id: int) -> int:
    from webhooks.models import Delivery, DeliveryStatus

    return _retrying(
        lambda: Delivery.objects.filter(endpoint_id=endpoint_id, status=DeliveryStatus.PENDING).count()
    )


def unfanned_count(endpoint_id: int) -> int:
    """Events of the endpoint's organization that no worker has fanned out (written no deliveries
    for) yet: they have no Delivery, so `committed_ids` cannot see them."""
    from webhooks.models import Endpoint, Event

    return _retrying(
        lambda: Event.objects.filter(
            organization_id=Endpoint.objects.filter(pk=endpoint_id).values("organization_id")[:1],
            is_test=False,
            fanned_out=False,
        ).count()
    )


def drain_wait(*, endpoint_id: int, tally: Tally, path: str, timeout: float) -> bool:
    """Wait until every event is fanned out, every committed one delivered and nothing is pending;
    False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (
            set(committed_ids(endpoint_id)) <= set(tally.delivered(path))
            and pending_count(endpoint_id) == 0
            and unfanned_count(endpoint_id) == 0
        ):
            return True
        time.sleep(0.5)
    return False


def _changes_without_event(organization_id: int, acknowledged: set[str]) -> tuple[int, int]:
    """Locations with no `location.created` event; API-acknowledged locations that do not exist."""
    from chargestations.models import Location
    from webhooks.models import Event

    locations = _retrying(
        lambda: set(
            Location.objects.filter(organization_id=organization_id).values_list("public_id", flat=True)
        )
    )
    data = _retrying(
        lambda: list(
            Event.objects.filter(organization_id=organization_id, type="location.created").values_list(
                "data", flat=True
            )
        )
    )
    with_event = {str(item.get("_id")) for item in data if isinstance(item, dict)}
    return len(locations - with_event), len(acknowledged - locations)


def _out_of_order(endpoint_id: int, first: dict[str, float]) -> int:
    """Events of one FIFO chain whose first delivery came before an earlier event's."""
    from webhooks.models import Event

    rows = _retrying(
        lambda: list(
            Event.objects.filter(deliveries__endpoint_id=endpoint_id)
            .exclude(ordering_key="")
            .order_by("id")
            .values_list("ordering_key", "public_id")
        )
    )
    chains: dict[str, list[float]] = defaultdict(list)
    for key, public_id in rows:
        if public_id in first:
            chains[key].append(first[public_id])
    return sum(1 for times in chains.values() for a, b in itertools.pairwise(times) if b < a)


def _failed_count(endpoint_id: int) -> int:
    from webhooks.models import Delivery, DeliveryStatus

    return _retrying(
        lambda: Delivery.objects.filter(endpoint_id=endpoint_id, status=DeliveryStatus.FAILED).count()
    )


@dataclass(frozen=True)
class Recorded:
    """What the outbox recorded for one endpoint, against the requests the receiver got."""

    sends: int  # requests the receiver got
    attempts: int  # Attempt rows
    beyond_sends: int  # Attempt rows beyond the requests the receiver got for their webhook-id
    unrecorded: int  # requests the receiver got that no Attempt row stands for
    recorded_twice: int  # deliveries with more than one succeeded Attempt: recorded by two workers
    count_off: int  # deliveries whose `attempt_count` is not their number of Attempt rows


def attempts_against_sends(*, endpoint_id: int, tally: Tally, path: str) -> Recorded:
    """Every delivery's Attempt rows and counter against the requests the receiver got for it.

    On a receiver that answers every request it reads (no connection refused, none cut before it
    arrived), each Attempt stands for one request: more Attempt rows than requests means a send
    was recorded twice; two succeeded Attempts mean two workers each recorded the delivery.
    """
    from webhooks.models import Delivery

    rows = _retrying(
        lambda: list(
            Delivery.objects.filter(endpoint_id=endpoint_id)
            .annotate(rows=Count("attempts"), wins=Count("attempts", filter=Q(attempts__succeeded=True)))
            .values_list("event__public_id", "attempt_count", "rows", "wins")
        )
    )
    sends = Counter(a.webhook_id for a in tally.answers(path))
    beyond = unrecorded = twice = off = 0
    for webhook_id, counter, attempts, wins in rows:
        beyond += max(attempts - sends[webhook_id], 0)
        unrecorded += max(sends[webhook_id] - attempts, 0)
        twice += wins > 1
        off += counter != attempts
    return Recorded(
        sends=sum(sends.values()),
        attempts=sum(r[2] for r in rows),
        beyond_sends=beyond,
        unrecorded=unrecorded,
        recorded_twice=twice,
        count_off=off,
    )


def row_count(
    *,
    scenario: str,
    endpoint_id: int,
    organization_id: int,
    tally: Tally,
    path: str,
    fault: Window,
    calls: list[ApiCall] | None = None,
    expect_duplicates: bool = False,
) -> Row:
    committed = committed_ids(endpoint_id)
    delivered = tally.delivered(path)
    first = tally.first_delivered_at(path)
    acknowledged = {c.object_id for c in calls or [] if c.object_id}
    no_event, acked_missing = _changes_without_event(organization_id, acknowledged)
    never = set(committed) - set(delivered)
    unfanned = unfanned_count(endpoint_id)
    lost = len(never) + no_event + acked_missing + unfanned
    invented = len(tally.received(path) - set(committed))
    notes = []
    if unfanned:
        notes.append(f"{unfanned} event(s) never fanned out (no delivery written)")
    if no_event:
        notes.append(f"{no_event} committed location(s) without their event")
    if acked_missing:
        notes.append(f"{acked_missing} API-acknowledged location(s) not in the database")
    if failed := _failed_count(endpoint_id):
        notes.append(f"{failed} deliveries failed (retry schedule exhausted)")
    if disorder := _out_of_order(endpoint_id, first):
        notes.append(f"{disorder} FIFO chain event(s) delivered out of order")
    if unverified := tally.unverified(path):
        notes.append(f"{unverified} request(s) whose signature did not verify")
    api_5xx = None
    if calls is not None:
        during = [c for c in calls if fault.covers(c.started)]
        api_5xx = sum(1 for c in during if (c.status or 0) >= 500)
        statuses = [c.status for c in calls if c.status is not None]
        notes.append(f"API: {len(calls)} requests, {statuses.count(201)} created")
        if server_errors := statuses.count(500):
            notes.append(f"API: **{server_errors} x 500**")
        if outside := sum(1 for c in calls if (c.status or 0) >= 500 and not fault.covers(c.started)):
            notes.append(
                f"API: {outside} x 5xx to requests sent just outside the fault (in flight as it began)"
            )
        if not_json := sum(1 for c in calls if (c.status or 0) >= 500 and not c.json_body):
            notes.append(f"API: {not_json} x 5xx without a JSON body")
        if unanswered := len(calls) - len(statuses):
            notes.append(f"API: {unanswered} request(s) got no HTTP answer")
    drained = None
    if lost == 0:
        end = fault.end if fault.end is not None else time.time()
        backlog = [first[i] - end for i, recorded in committed.items() if recorded <= end and i in first]
        drained = max([*backlog, 0.0])
    return Row(
        scenario=scenario,
        committed=len(committed),
        delivered=len(set(delivered) & set(committed)),
        lost=lost,
        invented=invented,
        duplicates=sum(n - 1 for n in delivered.values() if n > 1),
        api_5xx=api_5xx,
        drained=drained,
        notes=notes,
        expect_duplicates=expect_duplicates,
    )
