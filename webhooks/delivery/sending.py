"""Sending due deliveries: claim a batch, sign and POST concurrently, record the attempts.

Claiming (webhooks/delivery/claims.py) leases deliveries to this worker, so that each is sent by one
worker at a time; what is claimed here is signed, sent and recorded.

Within a process no endpoint may hold more than half the sender threads, and one that has not
answered its last request (new to this process, or silent since) gets a single probe. A hanging
endpoint therefore ties up one thread, not the batch: the other sends go on and their attempts
are recorded as they complete. Deliveries held back that way are released unattempted (lease
cleared, schedule unchanged) and queued again for when the probe has had its full timeout.
"""

import logging
import threading
import time
from collections import defaultdict, deque
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from edrv_project import __version__
from organizations.models import Plan
from webhooks import metrics, signing
from webhooks.catalog import payloads
from webhooks.delivery import health, http, queue
from webhooks.delivery.claims import claimable, deliveries_claim
from webhooks.delivery.retries import next_delay
from webhooks.models import Attempt, Delivery, DeliveryStatus

logger = logging.getLogger(__name__)

USER_AGENT = f"eDRV-Webhooks/{__version__}"
GONE = 410
# Retries this soon are scheduled on the broker; later ones are left to the sweeper.
SHORT_RETRY_SECONDS = 60.0
# Finished attempts wait at most this long to be written together with the batch's others.
RECORD_EVERY = 0.5
SLOT_POLL = 0.005
# How long a batch waits for another batch's probe of an endpoint before leaving it for later.
PROBE_PATIENCE = 0.5

_executor: ThreadPoolExecutor | None = None


@dataclass
class Outcome:
    delivery: Delivery
    result: http.HttpResult
    attempted_at: float


@dataclass
class _Health:
    """This process's view of one endpoint."""

    in_flight: int = 0
    answered: bool = False  # its last finished request got an HTTP answer (any status)
    probe_at: float = 0.0  # when the single request to an endpoint that has not answered started


_health: defaultdict[int, _Health] = defaultdict(_Health)
_health_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _health_lock:  # tasks of a threads-pool worker start at once: one executor for them all
        if _executor is None:
            _executor = ThreadPoolExecutor(settings.WEBHOOKS_CONCURRENCY, thread_name_prefix="webhooks-send")
        return _executor


def deliveries_send(*, delivery_ids: list[int] | None = None) -> int:
    """Send the given (or any) claimable deliveries, then whatever they were holding back."""
    sent = 0
    claimed = deliveries_claim(ids=delivery_ids)
    while claimed:
        sent += _send_batch(claimed)
        # A chain whose head is settled may move on now; one whose head will be retried waits.
        chains = {
            (d.endpoint_id, d.ordering_key)
            for d in claimed
            if d.ordering_key and d.status != DeliveryStatus.PENDING
        }
        claimed = _successors(chains) if chains else []
    return sent


def _successors(chains: set[tuple[int, str]]) -> list[Delivery]:
    condition = Q()
    for endpoint_id, key in chains:
        condition |= Q(endpoint_id=endpoint_id, ordering_key=key)
    ids = list(claimable().filter(condition).values_list("id", flat=True)[: settings.WEBHOOKS_BATCH_SIZE])
    return deliveries_claim(ids=ids) if ids else []


def _sendable(delivery: Delivery) -> bool:
    return delivery.endpoint.active and getattr(delivery.endpoint, "organization_plan") != Plan.FREE  # noqa: B009


def _slots_take(endpoint_id: int, wanted: int, *, own: int, probed: set[int]) -> int | None:
    """How many sends to `endpoint_id` this batch may start now; None: give up on it for this batch."""
    with _health_lock:
        health = _health[endpoint_id]
        if health.answered:
            free = max(settings.WEBHOOKS_CONCURRENCY // 2, 1) - health.in_flight
        elif health.in_flight:
            # A probe is out: wait for its answer, unless it is another batch's and already slow.
            patient = own or time.monotonic() - health.probe_at < PROBE_PATIENCE
            return 0 if patient else None
        elif endpoint_id in probed:
            return None  # our probe came back without an answer
        else:
            probed.add(endpoint_id)
            health.probe_at = time.monotonic()
            free = 1
        taken = max(min(free, wanted), 0)
        health.in_flight += taken
        return taken


def _send_batch(claimed: list[Delivery]) -> int:
    """Send a claimed batch, recording attempts as they complete; return how many were attempted."""
    ready: dict[int, deque[tuple[Delivery, bytes]]] = defaultdict(deque)
    bodies: dict[int, bytes] = {}
    skipped: list[Delivery] = []
    released: list[Delivery] = []
    finished: list[Outcome] = []
    for delivery in claimed:
        if not _sendable(delivery):
            skipped.append(delivery)
            continue
        if delivery.event_id not in bodies:
            bodies[delivery.event_id] = payloads.body(delivery.event)
        ready[delivery.endpoint_id].append((delivery, bodies[delivery.event_id]))
    running: dict[Future[Outcome], int] = {}
    probed: set[int] = set()
    attempted = 0
    oldest = 0.0  # when the oldest unrecorded outcome finished
    while ready or running:
        for endpoint_id, jobs in list(ready.items()):
            own = sum(1 for e in running.values() if e == endpoint_id)
            taken = _slots_take(endpoint_id, len(jobs), own=own, probed=probed)
            if taken is None:
                released += [delivery for delivery, _ in jobs]
                jobs.clear()
            for _ in range(taken or 0):
                running[_pool().submit(_send_one, *jobs.popleft())] = endpoint_id
            if not jobs:
                del ready[endpoint_id]
        if not running:
            time.sleep(SLOT_POLL)  # waiting for another batch's sends to this endpoint
            continue
        wait_for = (
            SLOT_POLL if ready else (max(oldest + RECORD_EVERY - time.monotonic(), 0) if finished else None)
        )
        done, _ = wait(running, timeout=wait_for, return_when=FIRST_COMPLETED)
        if done and not finished:
            oldest = time.monotonic()
        for future in done:
            del running[future]
            finished.append(future.result())
        if finished and (running or ready) and time.monotonic() - oldest >= RECORD_EVERY:
            _record(finished)
            attempted, finished = attempted + len(finished), []
    _record(finished, skipped=skipped, released=released)
    return attempted + len(finished)


def _send_one(delivery: Delivery, body: bytes) -> Outcome:
    started = time.time()
    result: http.HttpResult | None = None
    try:
        headers = {
            **delivery.endpoint.headers,
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            **signing.signature_headers(
                msg_id=delivery.event.public_id,
                timestamp=int(started),
                body=body,
                secrets=delivery.endpoint.live_secrets(),
            ),
        }
        if delivery.event.is_test:
            headers["edrv-test"] = "true"
        with metrics.attempt_in_flight():
            result = http.post(delivery.endpoint.url, body=body, headers=headers)
        metrics.attempt_observed(result.duration_ms / 1000)
        return Outcome(delivery=delivery, result=result, attempted_at=started)
    finally:
        with _health_lock:
            health = _health[delivery.endpoint_id]
            health.in_flight -= 1
            if result is not None:
                health.answered = result.status_code is not None


def _record(
    outcomes: list[Outcome], *, skipped: Sequence[Delivery] = (), released: Sequence[Delivery] = ()
) -> None:
    """Write every attempt and the deliveries' new states in a few statements."""
    now = timezone.now()
    retry_soon: list[tuple[int, float]] = []
    # Deliveries moving to the same state are updated together: one statement per group.
    groups: defaultdict[tuple[str, datetime | None, int | None], list[int]] = defaultdict(list)
    for o in outcomes:
        delay = _apply(o, now)
        if delay is not None and delay <= SHORT_RETRY_SECONDS:
            retry_soon.append((o.delivery.pk, delay))
        groups[(o.delivery.status, o.delivery.next_attempt_at, o.delivery.last_status_code)].append(
            o.delivery.pk
        )
    with transaction.atomic():
        Attempt.objects.bulk_create(
            Attempt(
                delivery=o.delivery,
                created_at=datetime.fromtimestamp(o.attempted_at, tz=UTC),
                duration_ms=o.result.duration_ms,
                status_code=o.result.status_code,
                response_excerpt=o.result.body_excerpt,
                error=o.result.error[:500],
                succeeded=o.result.ok,
            )
            for o in outcomes
        )
        for (status, next_attempt_at, status_code), ids in groups.items():
            Delivery.objects.filter(id__in=ids).update(
                status=status,
                next_attempt_at=next_attempt_at,
                last_status_code=status_code,
                last_attempt_at=now,
                attempt_count=F("attempt_count") + 1,
                claimed_until=None,
            )
        for delivery in skipped:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.SKIPPED, None
        if skipped:
            Delivery.objects.filter(id__in=[d.pk for d in skipped]).update(
                status=DeliveryStatus.SKIPPED, next_attempt_at=None, claimed_until=None
            )
        if released:
            Delivery.objects.filter(id__in=[d.pk for d in released]).update(claimed_until=None)
        health.outcomes_record(
            [(o.delivery.endpoint, o.result.ok, o.result.status_code == GONE, o.result) for o in outcomes]
        )
    # Counted once committed: a batch whose records rolled back is sent, and counted, again.
    metrics.attempts_settled(o.delivery.status for o in outcomes)
    metrics.deliveries_counted(metrics.SKIPPED, len(skipped))
    for delivery_id, delay in retry_soon:
        queue.deliveries_enqueue([delivery_id], countdown=delay)
    if released:  # once the endpoint's probe has had its full time to answer
        queue.deliveries_enqueue([d.pk for d in released], countdown=settings.WEBHOOKS_TIMEOUT)
    for o in outcomes:
        logger.info(
            "webhooks.delivery.succeeded" if o.result.ok else "webhooks.delivery.failed",
            extra={
                "delivery_id": o.delivery.pk,
                "endpoint_id": o.delivery.endpoint.public_id,
                "status_code": o.result.status_code,
                "duration_ms": o.result.duration_ms,
                "error": o.result.error,
            },
        )
    if released:
        logger.info("webhooks.delivery.released", extra={"deliveries": len(released)})


def _apply(outcome: Outcome, now: datetime) -> float | None:
    """Move one delivery to its next state; return the delay before a retry, if any."""
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
