"""Sending: fan an event out and send what it leased, or claim due deliveries and send them.

The fan-out (webhooks.delivery.fanout) leases the deliveries it writes to this worker; claims
(webhooks.delivery.claims) lease due ones otherwise (retries, resends, chains moving on, the
sweeper's). What is leased is signed, sent concurrently and recorded (webhooks.delivery.outcomes).

Within a process no endpoint may hold more than half the sender threads, and one that has not
answered its last request (new to this process, or silent since) gets a single probe. A hanging
endpoint therefore ties up one thread, not the batch: the other sends go on and their attempts
are recorded as they complete, and the batch that probes it takes on other due deliveries while
it waits. Other batches do not wait for that probe: they leave their deliveries to the endpoint
with the batch whose request is out (parked, still leased), and go on. Once the probe answers,
that batch sends them; if it gets no answer, they are released unattempted with its own (lease
cleared), due again once the probe has had its full timeout, when a drain hands them out
(webhooks.delivery.outcomes).

A delivery whose lease has run out by the time its turn comes is not sent: another worker may
hold it now (the worker was frozen or starved), and its outcome could not be recorded anyway.
"""

import logging
import threading
import time
from collections import defaultdict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from queue import Empty, SimpleQueue

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Q

from edrv_project import __version__
from webhooks import metrics, signing
from webhooks.catalog import payloads
from webhooks.delivery import amqp, brokers, fanout, http, queue
from webhooks.delivery.claims import claimable, deliveries_claim, endpoint_slots
from webhooks.delivery.outcomes import Outcome, outcomes_record
from webhooks.models import Delivery, DeliveryStatus

logger = logging.getLogger(__name__)

USER_AGENT = f"eDRV-Webhooks/{__version__}"
# Finished attempts wait at most this long to be written together with the batch's others.
RECORD_EVERY = 0.5
SLOT_POLL = 0.005
# How long a batch waits for the answer to its probe of an endpoint before it takes on other work
# meanwhile (a quick answer needs none).
PROBE_PATIENCE = 0.5
# A drain (a task with no ids: the sweeper's) claims batch after batch for this long at most.
DRAIN_SECONDS = 10.0
# A delivery is not sent when less than this is left of its lease: the send could outlive it.
LEASE_MARGIN = 1.0

_executor: ThreadPoolExecutor | None = None


@dataclass
class _Health:
    """This process's view of one endpoint."""

    in_flight: int = 0
    answered: bool = False  # its last finished request got an HTTP answer (any status)
    probe_at: float = 0.0  # when the single request to an endpoint that has not answered started


# By the endpoint's public id, which no other endpoint ever has (a row id can come back, in SQLite).
_health: defaultdict[str, _Health] = defaultdict(_Health)
# Deliveries (with their bodies) that batches left to the endpoint's request under way, whose batch
# takes them once it ends: by endpoint. Both under _health_lock.
_parked: defaultdict[str, list[tuple[Delivery, bytes]]] = defaultdict(list)
_health_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _health_lock:  # tasks of a threads-pool worker start at once: one executor for them all
        if _executor is None:
            _executor = ThreadPoolExecutor(settings.WEBHOOKS_CONCURRENCY, thread_name_prefix="webhooks-send")
        return _executor


def events_deliver(*, event_ids: list[int] | None = None) -> int:
    """Fan out these events (None: one batch of any waiting), send what the fan-out leased, then
    whatever of theirs the claim path allows now. Returns how many sends were attempted."""
    sent, batch = 0, settings.WEBHOOKS_BATCH_SIZE
    # Given ids beyond one batch are done batch after batch.
    for start in range(0, len(event_ids), batch) if event_ids is not None else [0]:
        sent += _fan_out_and_send(event_ids[start : start + batch] if event_ids is not None else None) or 0
    return sent


def deliveries_send(*, delivery_ids: list[int] | None = None) -> int:
    """Send the given deliveries if the claim rules let them go now (None: one batch of any due)."""
    return _send_and_follow(deliveries_claim(ids=delivery_ids))


def events_drain(*, seconds: float = DRAIN_SECONDS) -> int:
    """The sweeper's fan-out task: fan out and send whatever waits, batch after batch, for a while."""
    started, sent = time.monotonic(), 0
    while time.monotonic() - started < seconds and (step := _fan_out_and_send(None)) is not None:
        sent += step
    return sent


def deliveries_drain(*, seconds: float = DRAIN_SECONDS) -> int:
    """The sweeper's send task: claim and send due deliveries, batch after batch, for a while."""
    started, sent = time.monotonic(), 0
    while time.monotonic() - started < seconds and (claimed := deliveries_claim()):
        sent += _send_and_follow(claimed)
    return sent


def _fan_out_and_send(event_ids: list[int] | None) -> int | None:
    """One batch: sends attempted, or None when no event was waiting."""
    try:
        fanned = fanout.events_fan_out(event_ids=event_ids, limit=settings.WEBHOOKS_BATCH_SIZE)
    except DatabaseError as exc:
        # Two fan-outs of one chain can deadlock, and the database aborts one of them: its events
        # stay waiting in the outbox, and the sweeper hands them out again.
        logger.warning("webhooks.fan_out.failed", extra={"error": type(exc).__name__})
        return None
    if not fanned.events:
        return None
    batch = settings.WEBHOOKS_BATCH_SIZE
    here, elsewhere = fanned.waiting[:batch], fanned.waiting[batch:]
    if elsewhere:  # more than this worker's batch (many endpoints): other workers take them now
        queue.deliveries_enqueue(elsewhere, backlog=True)
    # The next batch's worth goes out with the leased one, not after it: a batch can take as long as
    # an endpoint's timeout (a probe that hangs), and nothing else would send these meanwhile. (What
    # the claim holds back, a chain's next delivery, follows once its chain's head is settled.)
    return _send_and_follow(fanned.claimed + (deliveries_claim(ids=here) if here else []))


def _send_and_follow(claimed: list[Delivery]) -> int:
    """Send a claimed batch, then the deliveries its settled chain heads were holding back."""
    sent = 0
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
    return delivery.endpoint.deliverable(getattr(delivery.endpoint, "organization_plan"))  # noqa: B009


def _slots_take(
    endpoint: str, jobs: deque[tuple[Delivery, bytes]], *, own: int, probed: set[str]
) -> int | None:
    """How many of `jobs` this batch may send to `endpoint` now; None: give up on them for this batch.

    When another batch's request to an endpoint that has not answered is out (its probe), the jobs
    are parked with it (`jobs` is emptied): waiting for that answer would hold this batch's task.
    """
    with _health_lock:
        health = _health[endpoint]
        if health.answered:
            free = endpoint_slots() - health.in_flight
        elif health.in_flight:
            if not own:  # another batch's probe: leave these with it
                _parked[endpoint].extend(jobs)
                jobs.clear()
            return 0  # (our own: wait for its answer)
        elif endpoint in probed:
            return None  # our probe came back without an answer
        else:
            probed.add(endpoint)
            health.probe_at = time.monotonic()
            free = 1
        taken = max(min(free, len(jobs)), 0)
        health.in_flight += taken
        return taken


def _parked_take(endpoint: str) -> list[tuple[Delivery, bytes]]:
    """What other batches left to `endpoint`'s requests under way (call once one of ours ended).

    Jobs are parked only while a request to the endpoint is out, and each batch whose request
    ends takes what is parked then: the last one to end finds whatever is left.
    """
    with _health_lock:
        return _parked.pop(endpoint, [])


def _probes_slow_in(endpoints: set[str]) -> float:
    """Seconds until the newest probe of these endpoints has been out PROBE_PATIENCE (0: it has)."""
    with _health_lock:
        newest = max(_health[endpoint].probe_at for endpoint in endpoints)
    return max(newest + PROBE_PATIENCE - time.monotonic(), 0.0)


def _send_batch(claimed: list[Delivery]) -> int:
    """Send a claimed batch, recording attempts as they complete; return how many were attempted.

    When all it waits for is its probes of endpoints that have not answered, and they have been out
    PROBE_PATIENCE, the batch takes on other due deliveries, added to `claimed` (so that their
    chains move on too): a hanging endpoint does not idle the worker's task that probes it. So are
    the deliveries other batches parked with its requests (`_slots_take`), once one of them ends.
    """
    ready: dict[str, deque[tuple[Delivery, bytes]]] = defaultdict(deque)  # by endpoint (public id)
    endpoint_pks: dict[str, int] = {}
    bodies: dict[int, bytes] = {}
    skipped: list[Delivery] = []
    released: list[Delivery] = []
    finished: list[Outcome] = []

    def ready_add(deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            if not _sendable(delivery):
                skipped.append(delivery)
                continue
            if delivery.event_id not in bodies:
                bodies[delivery.event_id] = payloads.body(delivery.event)
            ready[delivery.endpoint.public_id].append((delivery, bodies[delivery.event_id]))
            endpoint_pks[delivery.endpoint.public_id] = delivery.endpoint_id

    def adopt(not_to: set[str]) -> bool:
        """Take on other due deliveries (to none of `not_to`); whether there were any."""
        adopted = deliveries_claim(not_to=[endpoint_pks[endpoint] for endpoint in not_to])
        claimed.extend(adopted)  # so that their chains move on too
        ready_add(adopted)
        return bool(adopted)

    def unpark(endpoint: str) -> None:
        """Take on what other batches parked with our requests to `endpoint` (one of them ended)."""
        for delivery, body in _parked_take(endpoint):
            claimed.append(delivery)
            ready[endpoint].append((delivery, body))

    ready_add(claimed)
    running: dict[Future[Outcome], str] = {}
    completed: SimpleQueue[Future[Outcome]] = SimpleQueue()  # each send puts itself here when done
    probed: set[str] = set()
    attempted = 0
    oldest = 0.0  # when the oldest unrecorded outcome finished
    adopting = True
    try:
        while ready or running:
            for endpoint, jobs in list(ready.items()):
                own = sum(1 for e in running.values() if e == endpoint)
                taken = _slots_take(endpoint, jobs, own=own, probed=probed)
                if taken is None:
                    released += [delivery for delivery, _ in jobs]
                    jobs.clear()
                for _ in range(taken or 0):
                    future = _pool().submit(_send_one, *jobs.popleft())
                    future.add_done_callback(completed.put)
                    running[future] = endpoint
                metrics.attempts_started(taken or 0)
                if not jobs:
                    del ready[endpoint]
            # Only its probes out, and slow: meanwhile take on other due work (a quick answer needs none).
            probes_slow_in = (
                _probes_slow_in(set(running.values()))
                if adopting and running and not ready and set(running.values()) <= probed
                else None
            )
            if probes_slow_in == 0:
                adopting = adopt(probed)  # nothing else is due: just wait for the probes
                continue
            if not running:
                time.sleep(SLOT_POLL)  # waiting for other batches' sends to these endpoints to end
                continue
            wait_for = (
                SLOT_POLL
                if ready
                else (max(oldest + RECORD_EVERY - time.monotonic(), 0) if finished else None)
            )
            if probes_slow_in is not None:
                wait_for = probes_slow_in if wait_for is None else min(wait_for, probes_slow_in)
            done = _finished(completed, wait_for)
            if done and not finished:
                oldest = time.monotonic()
            made = len(finished)
            for future in done:
                unpark(running.pop(future))
                try:
                    finished.append(future.result())
                except _LeaseLost as lost:
                    logger.warning("webhooks.delivery.lease_lost", extra={"delivery_id": lost.delivery.pk})
            metrics.attempts_ended([o.result.duration_ms / 1000 for o in finished[made:]], started=len(done))
            if finished and (running or ready) and time.monotonic() - oldest >= RECORD_EVERY:
                outcomes_record(finished)
                attempted, finished = attempted + len(finished), []
    finally:
        metrics.attempts_ended([], started=len(running))  # cut short by an error: no longer counted
    outcomes_record(finished, skipped=skipped, released=released)
    return attempted + len(finished)


def _finished(completed: SimpleQueue[Future[Outcome]], timeout: float | None) -> list[Future[Outcome]]:
    """The sends finished so far, once one is (waiting `timeout` seconds at most; None: as long as it
    takes). A queue the sends put themselves on costs the same whatever the number running, where
    `concurrent.futures.wait` installs a waiter on every running future at every call."""
    try:
        done = [completed.get(timeout=timeout)]
    except Empty:
        return []
    while True:
        try:
            done.append(completed.get_nowait())
        except Empty:
            return done


class _LeaseLost(Exception):
    """Its lease ran out before its turn came: another worker may hold it now."""

    def __init__(self, delivery: Delivery) -> None:
        super().__init__(delivery.pk)
        self.delivery = delivery


def _send_one(delivery: Delivery, body: bytes) -> Outcome:
    started = time.time()
    result: http.HttpResult | None = None
    try:
        if delivery.claimed_until is not None and started > delivery.claimed_until.timestamp() - LEASE_MARGIN:
            raise _LeaseLost(delivery)
        own = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            **signing.signature_headers(
                msg_id=delivery.event.public_id,
                timestamp=int(started),
                body=body,
                secrets=delivery.endpoint.live_secrets(),
                scheme=delivery.endpoint.signature_scheme,
            ),
        }
        if delivery.event.is_test:
            own["edrv-test"] = "true"
        result = _transmit(delivery, body, headers={**delivery.endpoint.headers, **own})
        return Outcome(delivery=delivery, result=result, attempted_at=started, own_headers=own)
    finally:
        with _health_lock:
            health = _health[delivery.endpoint.public_id]
            health.in_flight -= 1
            if result is not None:
                health.answered = result.status_code is not None


def _transmit(delivery: Delivery, body: bytes, *, headers: dict[str, str]) -> http.HttpResult:
    """POST to the endpoint, or publish to its exchange when it is a RabbitMQ broker (amqp, amqps)."""
    endpoint = delivery.endpoint
    if brokers.is_broker_url(endpoint.url):
        return amqp.publish(
            endpoint.url,
            password=endpoint.url_password,
            body=body,
            headers=headers,
            event_type=delivery.event.type,
        )
    return http.post(endpoint.url, body=body, headers=headers)
