"""Sending due deliveries: claim a batch, sign and POST concurrently, record the attempts.

Many workers on many hosts share the outbox with no coordinator but the database: a worker
claims deliveries by leasing them (`claimed_until`) in a short transaction that skips rows
another worker has locked, so each delivery is sent by one worker at a time. A lease that runs
out (the worker died) makes the delivery claimable again: delivery is at least once.
"""

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from edrv_project import __version__
from organizations.models import Plan
from webhooks import endpoints, http, payloads, queue, signing
from webhooks.models import Attempt, Delivery, DeliveryStatus
from webhooks.retries import next_delay

logger = logging.getLogger(__name__)

USER_AGENT = f"eDRV-Webhooks/{__version__}"
GONE = 410
# Retries this soon are scheduled on the broker; later ones are left to the sweeper.
SHORT_RETRY_SECONDS = 60.0

_executor: ThreadPoolExecutor | None = None


@dataclass
class Outcome:
    delivery: Delivery
    result: http.HttpResult
    attempted_at: float


def _pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(settings.WEBHOOKS_CONCURRENCY, thread_name_prefix="webhooks-send")
    return _executor


def _lease() -> timedelta:
    """Long enough for a whole batch to be sent and recorded, each send taking its full timeout."""
    rounds = -(-settings.WEBHOOKS_BATCH_SIZE // settings.WEBHOOKS_CONCURRENCY)
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
    in_flight = Delivery.objects.filter(
        endpoint_id=OuterRef("endpoint_id"), status=DeliveryStatus.PENDING, claimed_until__gte=now
    )
    return (
        Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .exclude(~Q(ordering_key="") & Exists(earlier_pending))
        # A failing endpoint gets one delivery at a time, so that it cannot tie up every sender.
        .exclude(Q(endpoint__consecutive_failures__gt=0) & Exists(in_flight))
    )


def deliveries_claim(*, ids: list[int] | None = None, limit: int | None = None) -> list[Delivery]:
    """Lease up to `limit` claimable deliveries (of `ids`, if given) to this worker."""
    now = timezone.now()
    limit = limit or settings.WEBHOOKS_BATCH_SIZE
    with transaction.atomic():
        candidates = claimable(now)
        if ids is not None:
            candidates = candidates.filter(id__in=ids)
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True)
        picked = list(candidates.order_by("next_attempt_at", "id").values_list("id", flat=True)[:limit])
        if picked:
            Delivery.objects.filter(id__in=picked).update(claimed_until=now + _lease())
    return list(
        Delivery.objects.filter(id__in=picked)
        .select_related("event", "endpoint", "endpoint__organization")
        .order_by("id")
    )


def deliveries_send(*, delivery_ids: list[int] | None = None) -> int:
    """Send the given (or any) claimable deliveries, then whatever they were holding back."""
    sent = 0
    claimed = deliveries_claim(ids=delivery_ids)
    while claimed:
        outcomes = _send_all(claimed)
        _record(outcomes, skipped=[d for d in claimed if d not in {o.delivery for o in outcomes}])
        sent += len(outcomes)
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
    endpoint = delivery.endpoint
    return endpoint.active and endpoint.organization.plan != Plan.FREE


def _send_all(claimed: list[Delivery]) -> list[Outcome]:
    bodies: dict[int, bytes] = {}
    jobs = []
    for delivery in claimed:
        if not _sendable(delivery):
            continue
        if delivery.event_id not in bodies:
            bodies[delivery.event_id] = payloads.body(delivery.event)
        jobs.append((delivery, bodies[delivery.event_id]))
    return list(_pool().map(lambda job: _send_one(*job), jobs))


def _send_one(delivery: Delivery, body: bytes) -> Outcome:
    started = time.time()
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        **signing.signature_headers(
            msg_id=delivery.event.public_id,
            timestamp=int(started),
            body=body,
            secrets=endpoints.live_secrets(delivery.endpoint),
        ),
    }
    if delivery.event.is_test:
        headers["edrv-test"] = "true"
    result = http.post(delivery.endpoint.url, body=body, headers=headers)
    return Outcome(delivery=delivery, result=result, attempted_at=started)


def _record(outcomes: list[Outcome], *, skipped: list[Delivery]) -> None:
    """Write every attempt and the deliveries' new states in a few statements."""
    now = timezone.now()
    retry_soon: list[tuple[int, float]] = []
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
        for delivery in skipped:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.SKIPPED, None
        for o in outcomes:
            delay = _apply(o, now)
            if delay is not None and delay <= SHORT_RETRY_SECONDS:
                retry_soon.append((o.delivery.pk, delay))
        changed = [o.delivery for o in outcomes] + skipped
        for delivery in changed:
            delivery.claimed_until = None
        Delivery.objects.bulk_update(
            changed,
            [
                "status",
                "attempt_count",
                "next_attempt_at",
                "claimed_until",
                "last_attempt_at",
                "last_status_code",
            ],
        )
        endpoints.outcomes_record(
            [(o.delivery.endpoint, o.result.ok, o.result.status_code == GONE, o.result) for o in outcomes]
        )
    for delivery_id, delay in retry_soon:
        queue.deliveries_enqueue([delivery_id], countdown=delay)
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


def _apply(outcome: Outcome, now: datetime) -> float | None:
    """Move one delivery to its next state; return the delay before a retry, if any."""
    delivery, result = outcome.delivery, outcome.result
    delivery.attempt_count += 1
    delivery.last_attempt_at = now
    delivery.last_status_code = result.status_code
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
