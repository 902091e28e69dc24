"""The seven faults of issue 8, each against a fresh organization and endpoint on a running Stack.

Every scenario: set up its target (targets.py), start bounded load, inject the fault, wait for
the outbox to drain, count (ledger.py). `scale` shrinks the loads (and the outage of scenario 1)
for a quick run.
"""

import threading
import time
from collections.abc import Callable

from bench.faults import ledger
from bench.faults.ledger import Row
from bench.faults.load import ApiCall, ApiLoad, ServiceLoad, Window
from bench.faults.stack import KNOBS, Stack
from bench.faults.targets import Target, changes_rolled_back, rolled_back_traces, target_new
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


SCENARIOS: list[Callable[[Stack, float], Row]] = [
    broker_down,
    redis_restarts_empty,
    worker_killed,
    postgres_restarts,
    receiver_flaky,
    rollback,
    two_beats,
]
