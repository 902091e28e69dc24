"""The seven faults of issue 8 and the frozen worker of issue 13, each against a fresh
organization and endpoint on a running Stack.

Every scenario: set up its target (targets.py), start bounded load, inject the fault, wait for
the outbox to drain, count (ledger.py). `scale` shrinks the loads (and the outage of scenario 1)
for a quick run.
"""

import threading
import time
from collections.abc import Callable
from pathlib import Path

from bench.faults import ledger
from bench.faults.ledger import Row
from bench.faults.load import ApiCall, ApiLoad, ServiceLoad, Window
from bench.faults.stack import KNOBS, Stack
from bench.faults.targets import Target, changes_rolled_back, rolled_back_traces, target_new
from tests.e2e.processes import CeleryProcess
from tests.e2e.receiver import Plan, RecordedRequest, Reply, ok, status

DRAIN_TIMEOUT = 120.0
SEND_TIMEOUT = float(KNOBS["WEBHOOKS_TIMEOUT"])


def _target(stack: Stack, number: int, *, plan: Plan | None = None) -> Target:
    return target_new(receiver=stack.receiver, tally=stack.tally, name=f"s{number}", plan=plan or ok())


def _count(
    stack: Stack,
    target: Target,
    title: str,
    fault: Window,
    *,
    calls: list[ApiCall] | None = None,
    expect_duplicates: bool = False,
) -> Row:
    drained = ledger.drain_wait(
        endpoint_id=target.endpoint_id, tally=stack.tally, path=target.path, timeout=DRAIN_TIMEOUT
    )
    row = ledger.row_count(
        scenario=title,
        endpoint_id=target.endpoint_id,
        organization_id=target.organization_id,
        tally=stack.tally,
        path=target.path,
        fault=fault,
        calls=calls,
        expect_duplicates=expect_duplicates,
    )
    if not drained:
        row.notes.append(f"not drained within {DRAIN_TIMEOUT:.0f} s")
    return row


def _loads(
    stack: Stack, target: Target, *, events: int, seconds: float, api_rate: float = 0
) -> tuple[ServiceLoad, ApiLoad | None]:
    service = ServiceLoad(
        organization_id=target.organization_id,
        rate=events / seconds,
        count=events,
        prefix=target.name,
        station_ids=target.station_ids,
    ).start()
    api = None
    if api_rate:
        api = ApiLoad(
            base_url=stack.web.url,
            api_key=target.api_key,
            rate=api_rate,
            count=int(api_rate * seconds),
            prefix=target.name,
        ).start()
    return service, api


def _join(*loads: ServiceLoad | ApiLoad | None) -> None:
    for load in loads:
        if load is not None:
            load.join(timeout=DRAIN_TIMEOUT)


def broker_down(stack: Stack, scale: float) -> Row:
    """1. The broker is down for 60 s while 1,000 events commit (Redis keeps its data)."""
    target = _target(stack, 1)
    seconds, events = max(60 * scale, 10), max(int(1000 * scale), 100)
    fault = Window()
    fault.open()
    stack.redis.stop(save=True)
    service, api = _loads(stack, target, events=events, seconds=seconds, api_rate=2)
    time.sleep(max(fault.start + seconds - time.time(), 0))
    _join(service, api)
    stack.redis.start()
    fault.close()
    row = _count(
        stack,
        target,
        f"1. broker down {seconds:.0f} s, {events} events",
        fault,
        calls=api.calls if api else [],
    )
    row.notes.append(f"service load: {service.book.committed} committed, {len(service.book.errors)} errors")
    return row


def redis_restarts_empty(stack: Stack, scale: float) -> Row:
    """2. Redis restarts empty (every queued task gone) under load."""
    # The endpoint takes 0.5 s an answer: the workers fall behind the load, tasks queue up on
    # Redis, and the restart has something to lose.
    target = _target(stack, 2, plan=Reply(200, delay=0.5))
    seconds, events = max(15 * scale, 6), max(int(300 * scale), 60)
    service, api = _loads(stack, target, events=events, seconds=seconds, api_rate=5)
    time.sleep(seconds / 2)
    fault = Window()
    fault.open()
    queued = stack.redis.client().llen("celery")
    stack.redis.restart(empty=True)
    fault.close()
    _join(service, api)
    row = _count(stack, target, "2. Redis restarts empty", fault, calls=api.calls if api else [])
    down = (fault.end or fault.start) - fault.start
    row.notes.append(f"{queued} task(s) queued when Redis went down, for {down:.1f} s")
    return row


def worker_killed(stack: Stack, scale: float) -> Row:
    """3. A worker is SIGKILLed 5 times under load (and restarted each time)."""
    target = _target(stack, 3)
    seconds, events = max(20 * scale, 10), max(int(400 * scale), 80)
    service, api = _loads(stack, target, events=events, seconds=seconds, api_rate=3)
    fault = Window()
    time.sleep(1)
    fault.open()
    for kill in range(5):
        worker = stack.workers[kill % len(stack.workers)]
        with stack.supervisor.hold():
            worker.kill()
            time.sleep(0.5)
            worker.start()
        time.sleep(max(seconds / 6 - 0.5, 0.5))
    fault.close()
    _join(service, api)
    return _count(
        stack, target, "3. worker SIGKILLed x5", fault, calls=api.calls if api else [], expect_duplicates=True
    )


def postgres_restarts(stack: Stack, scale: float) -> Row:
    """4. PostgreSQL restarts under load: 503 in JSON meanwhile, then everything flows, no restarts."""
    target = _target(stack, 4)
    seconds, events = max(20 * scale, 10), max(int(300 * scale), 60)
    service, api = _loads(stack, target, events=events, seconds=seconds, api_rate=10)
    time.sleep(seconds / 4)
    fault = Window()
    fault.open()
    stack.postgres.stop()
    time.sleep(5)
    stack.postgres.start()
    fault.close()
    _join(service, api)
    # A POST that succeeded while the database went away before its Attempt was written is sent
    # again: stopping PostgreSQL kills its sessions, so duplicates are allowed as for a kill.
    title = "4. PostgreSQL restarts (down 5 s)"
    row = _count(stack, target, title, fault, calls=api.calls if api else [], expect_duplicates=True)
    row.notes.append(f"service load: {len(service.book.errors)} change(s) refused while it was down")
    after = [c for c in (api.calls if api else []) if fault.end is not None and c.started > fault.end + 1]
    if after and any(c.status != 201 for c in after):
        row.notes.append(f"API: {sum(c.status != 201 for c in after)} failure(s) after the restart")
    return row


def receiver_flaky(stack: Stack, scale: float) -> Row:
    """5. Half the requests get a 5xx, a quarter of the rest hang: all delivered within the schedule."""
    from bench.faults.tally import flaky

    target = _target(stack, 5, plan=flaky(SEND_TIMEOUT))
    seconds, events = max(10 * scale, 5), max(int(200 * scale), 40)
    fault = Window()
    fault.open()
    service, _ = _loads(stack, target, events=events, seconds=seconds)
    _join(service)
    fault.close()  # the receiver stays flaky: "drained" counts from the last commit
    row = _count(stack, target, "5. receiver 5xx 1/2, hangs 1/4 of rest", fault)
    answers = stack.tally.answers(target.path)
    row.notes.append(
        f"{len(answers)} requests for {row.committed} events; schedule {KNOBS['WEBHOOKS_RETRY_SCHEDULE']}"
    )
    return row


def rollback(stack: Stack, scale: float) -> Row:
    """6. A transaction that changed 100 objects is rolled back: zero events (and a savepoint too)."""
    target = _target(stack, 6)
    # Committed changes flow meanwhile, from other threads: they must all arrive, and only they.
    control = ServiceLoad(
        organization_id=target.organization_id, rate=10, count=max(int(50 * scale), 20), prefix=target.name
    ).start()
    fault = Window()
    fault.open()
    changes_rolled_back(target)
    fault.close()
    _join(control)
    row = _count(stack, target, "6. rollback of 100 changes (+ a savepoint)", fault)
    recorded, mentioned = rolled_back_traces(target, stack.receiver)
    row.invented += recorded + mentioned
    row.notes.append(
        f"rolled back: 100 changes, then 100 more in a savepoint; events recorded for them: "
        f"{recorded}, requests about them: {mentioned}"
    )
    return row


def _first_attempt_fails(every: int) -> Plan:
    """The first request for every `every`th webhook-id gets a 500, so retries race the sweepers."""
    seen: set[str] = set()
    lock = threading.Lock()

    def plan(request: RecordedRequest, n: int) -> Reply:
        webhook_id = request.headers.get("webhook-id", "")
        with lock:
            first = webhook_id not in seen
            seen.add(webhook_id)
        return status(500) if first and int(webhook_id[-4:] or "0", 16) % every == 0 else ok()

    return plan


def two_beats(stack: Stack, scale: float) -> Row:
    """7. Two beat schedulers at once; every delivery is left to their sweeps: none sent twice."""
    from edrv_project.celery import app
    from tests.e2e.broker import free_port, publishing_to, redis_broker

    target = _target(stack, 7, plan=_first_attempt_fails(3))
    seconds, events = max(15 * scale, 6), max(int(300 * scale), 60)
    second = stack.celery("beat", "beat2").start()
    sweeps_before = _sweeps(stack)
    fault = Window()
    fault.open()
    # This process publishes nowhere: no commit tells a worker, only the two sweepers do.
    with publishing_to(app, redis_broker(f"redis://127.0.0.1:{free_port()}/0")):
        service, _ = _loads(stack, target, events=events, seconds=seconds)
        _join(service)
        row = _count(stack, target, "7. two beats, sweepers deliver all", fault)
    fault.close()
    sent, found = (after - before for after, before in zip(_sweeps(stack), sweeps_before, strict=True))
    with stack.supervisor.hold():
        stack.beats.remove(second)
        second.kill()
    row.notes.append(f"the two beats sent {sent} sweeps; {found} of them found deliveries to enqueue")
    return row


def _sweeps(stack: Stack) -> tuple[int, int]:
    """Sweeps sent by every beat so far, and sweeps that enqueued something (worker logs)."""
    sent = sum(b.log_text().count("Sending due task webhooks-sweep") for b in stack.beats)
    found = sum(w.log_text().count("webhooks.sweep.enqueued") for w in stack.workers)
    return sent, found


# Scenario 8. The lease is WEBHOOKS_TIMEOUT x ceil(WEBHOOKS_BATCH_SIZE / an endpoint's senders)
# + 10 s (webhooks/delivery/claims.py `lease()`): with these, 2 s x 4 + 10 s = 18 s, which a
# freeze of 25 s outlasts with time for the other worker to take the deliveries over. Four
# sender threads leave two per endpoint (half of them), so that four tasks of a worker leave
# some of its leased deliveries waiting for a thread: frozen unsent.
SHORT_LEASE = {"WEBHOOKS_BATCH_SIZE": "8", "WEBHOOKS_CONCURRENCY": "4"}
FREEZE = 25.0  # seconds at least; longer if the lease is (see _lease_seconds)
TAKEOVER = 8.0  # seconds the other worker gets between the end of the leases and the resume
ANSWER_DELAY = 0.3  # the endpoint's: every request stays in flight a while, to be frozen amid
QUIET = 3.0  # after the drain, the receiver must hear nothing for this long before the count


def _lease_seconds() -> float:
    """The lease the workers of scenario 8 take, by the product's own formula."""
    from django.test import override_settings

    from webhooks.delivery.claims import lease

    knobs = {name: int(value) for name, value in SHORT_LEASE.items()}
    with override_settings(**knobs, WEBHOOKS_TIMEOUT=float(KNOBS["WEBHOOKS_TIMEOUT"])):
        return lease().total_seconds()


def _held(endpoint_id: int) -> dict[str, float]:
    """The endpoint's pending deliveries under a lease that has not run out: webhook-id -> its end."""
    from django.utils import timezone

    from webhooks.models import Delivery, DeliveryStatus

    leased = Delivery.objects.filter(
        endpoint_id=endpoint_id, status=DeliveryStatus.PENDING, claimed_until__gt=timezone.now()
    )
    return {
        webhook_id: until.timestamp()
        for webhook_id, until in leased.values_list("event__public_id", "claimed_until")
        if until is not None
    }


def _succeeded(endpoint_id: int, webhook_ids: set[str]) -> int:
    from webhooks.models import Delivery, DeliveryStatus

    return Delivery.objects.filter(
        endpoint_id=endpoint_id, status=DeliveryStatus.SUCCEEDED, event__public_id__in=webhook_ids
    ).count()


def _answering(stack: Stack, target: Target) -> set[str]:
    """Webhook-ids of the requests the receiver has read and not answered yet."""
    now = time.time()
    return {a.webhook_id for a in stack.tally.answers(target.path) if a.at > now - ANSWER_DELAY + 0.05}


def _freeze_when_busy(stack: Stack, target: Target, worker: CeleryProcess, timeout: float) -> None:
    """SIGSTOP `worker` once the database shows it holding leases and the receiver is answering
    some of them; better still when it also holds some it has not sent. Returns once stopped."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        held = _held(target.endpoint_id)
        on_wire = _answering(stack, target) & set(held)
        unsent = set(held) - stack.tally.received(target.path)
        if on_wire and (unsent or time.monotonic() - started > timeout / 2):
            break
        time.sleep(0.02)
    worker.pause()
    stat = Path(f"/proc/{worker.pid}/stat")
    for _ in range(200):  # SIGSTOP is asynchronous: wait until the kernel says it is stopped
        if not stat.exists() or stat.read_text().rpartition(")")[2].split()[0] == "T":
            return
        time.sleep(0.01)


def _quiet_wait(stack: Stack, target: Target, *, since: float, timeout: float) -> None:
    """Until `since` has passed and the receiver has heard nothing on the path for QUIET seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        last = max((a.at for a in stack.tally.answers(target.path)), default=0.0)
        if time.time() > since and time.time() - last > QUIET:
            return
        time.sleep(0.5)


def worker_frozen(stack: Stack, scale: float) -> Row:
    """8. A worker is frozen (SIGSTOP) holding leased deliveries, past its lease, then resumed."""
    lease = _lease_seconds()
    freeze = max(FREEZE, lease + TAKEOVER)
    target = _target(stack, 8, plan=Reply(200, delay=ANSWER_DELAY))
    frozen, other = stack.workers[0], stack.workers[1]
    short = {**stack.env, **SHORT_LEASE}
    seconds, events = freeze + 20, max(int(250 * scale), 80)
    fault = Window()
    # Until the freeze only `frozen` runs: every lease in the database is its own.
    with stack.supervisor.hold():
        stack.workers.remove(other)
        other.stop()
        frozen.env = short
        frozen.restart()
    try:
        service, _ = _loads(stack, target, events=events, seconds=seconds)
        time.sleep(2)
        # A burst: more tasks than the worker has sender threads for the endpoint, so that it
        # holds leases it has not used yet beside requests in flight.
        burst = ServiceLoad(
            organization_id=target.organization_id, rate=50, count=20, prefix=f"{target.name}-burst"
        ).start()
        try:
            _freeze_when_busy(stack, target, frozen, timeout=15)
            fault.open()
            held = _held(target.endpoint_id)
            with stack.supervisor.hold():
                other.env = short
                other.start()
                stack.workers.insert(1, other)
            # Until `other` was ready only the frozen worker could send: what the receiver got of
            # its leased deliveries by then was on the wire when it froze (or answered, unrecorded).
            on_wire = set(held) & stack.tally.received(target.path)
            time.sleep(max(fault.start + freeze - time.time(), 0))
            taken_over = _succeeded(target.endpoint_id, set(held))
            outlasting = sum(1 for until in held.values() if until > time.time())
        finally:
            frozen.resume()
            fault.close()
        _join(service, burst)
        ledger.drain_wait(
            endpoint_id=target.endpoint_id, tally=stack.tally, path=target.path, timeout=DRAIN_TIMEOUT
        )
        # What the resumed worker does with what it held comes within seconds: wait for silence.
        _quiet_wait(stack, target, since=fault.start + freeze + 5, timeout=DRAIN_TIMEOUT)
        row = _count(stack, target, f"8. worker frozen {freeze:.0f} s past its {lease:.0f} s lease", fault)
    finally:
        with stack.supervisor.hold():
            if other not in stack.workers:
                stack.workers.insert(1, other)
            for worker in (frozen, other):
                worker.env = stack.env
                worker.restart()
    _frozen_findings(
        stack, target, row, on_wire=on_wire, unsent=set(held) - on_wire, resumed=fault.end or time.time()
    )
    row.notes.insert(
        0,
        f"froze {frozen.name} holding {len(held)} leased deliveries ({len(on_wire)} on the wire or "
        f"answered unrecorded, {len(held) - len(on_wire)} not sent yet); {other.name} delivered "
        f"{taken_over} of them before the SIGCONT",
    )
    if not held or outlasting:
        row.defects += 1
        why = "the worker held no lease when frozen" if not held else f"{outlasting} lease(s) outlasted it"
        row.notes.append(f"**the freeze did not test the fault**: {why}")
    return row


def _frozen_findings(
    stack: Stack, target: Target, row: Row, *, on_wire: set[str], unsent: set[str], resumed: float
) -> None:
    """Duplicates the freeze explains, and the ones it does not; attempts against sends."""
    answers = stack.tally.answers(target.path)
    delivered = stack.tally.delivered(target.path)
    # A request on the wire when its worker froze is answered, but its worker cannot record that
    # before its lease runs out: the other worker sends it again. That one is at least once.
    explained = sum(min(n - 1, 1) for i, n in delivered.items() if n > 1 and i in on_wire)
    unexplained = row.duplicates - explained
    first: dict[str, float] = stack.tally.first_delivered_at(target.path)
    again = [a for a in answers if a.at > resumed and a.webhook_id in first and first[a.webhook_id] < a.at]
    resent_unsent = {a.webhook_id for a in again if a.webhook_id in unsent}
    recorded = ledger.attempts_against_sends(
        endpoint_id=target.endpoint_id, tally=stack.tally, path=target.path
    )
    row.expect_duplicates = True  # those of the requests frozen on the wire
    row.defects += unexplained + recorded.beyond_sends + recorded.recorded_twice + recorded.count_off
    row.notes.append(
        f"duplicates: {explained} of requests frozen on the wire (at least once)"
        + (f", **{unexplained} beyond them**" if unexplained else ", none beyond them")
    )
    if again:
        held = f", {len(resent_unsent)} of them held unsent by the frozen worker" if resent_unsent else ""
        row.notes.append(f"**{len(again)} request(s) after the SIGCONT for events delivered before**{held}")
    row.notes.append(
        f"{recorded.sends} requests, {recorded.attempts} attempts recorded"
        + (f" ({recorded.unrecorded} send(s) not recorded: fenced off)" if recorded.unrecorded else "")
    )
    if recorded.beyond_sends:
        row.notes.append(f"**{recorded.beyond_sends} attempt(s) recorded beyond the requests sent**")
    if recorded.recorded_twice:
        row.notes.append(
            f"**{recorded.recorded_twice} deliveries recorded as succeeded twice (by two workers)**"
        )
    if recorded.count_off:
        row.notes.append(f"**{recorded.count_off} deliveries whose attempt_count is not their attempts**")


SCENARIOS: list[Callable[[Stack, float], Row]] = [
    broker_down,
    redis_restarts_empty,
    worker_killed,
    postgres_restarts,
    receiver_flaky,
    rollback,
    two_beats,
    worker_frozen,
]
