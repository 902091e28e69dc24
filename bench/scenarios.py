"""The measurements. Each returns plain numbers; `bench.__main__` runs them in order and reports.

Events for the throughput runs are written with the outbox service itself
(`webhooks.outbox.recording.events_record`, 100 events per call) in one transaction, as an import or a
backlog would be: the clock starts when it commits and stops when the last successful Attempt row
is in the database. Writing the events is the producer's work, not the pipeline's, and is kept out
of the clock: on a 2-core machine it would otherwise take its CPU from the workers. The save()
cost, the per-change loop, the latency and the fairness runs go through `Location.save()`, the
path every API and dashboard change takes; their baselines run the same saves with the webhooks
receivers disconnected (`webhooks.outbox.signals.disconnect()`), i.e. the product without webhooks.
"""

import http.client
import statistics
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Count

from bench.stack import Node, Receiver
from chargestations.models import Location
from chargestations.serializers import LocationSerializer
from organizations.models import Organization, Plan
from webhooks import signing
from webhooks.catalog import payloads
from webhooks.delivery import fanout
from webhooks.endpoints import services as endpoints
from webhooks.models import Attempt, Endpoint, Event
from webhooks.outbox import recording as events
from webhooks.outbox import signals

CHUNK = 100  # events per events_record call in the throughput runs
POLL = 0.01
PRODUCERS = 4  # threads saving at the steady rate of the latency run


@dataclass
class Throughput:
    deliveries: int
    seconds: float
    duplicates: int

    @property
    def per_second(self) -> float:
        return self.deliveries / self.seconds


def organization_new(name: str) -> Organization:
    return Organization.objects.create(name=name, email=f"{name}@bench.invalid", plan=Plan.PRO)


def endpoints_new(
    receiver: Receiver,
    organization: Organization,
    paths: list[str],
    types: list[str],
    verify_every: int | None = None,
) -> list[Endpoint]:
    created = []
    for path in paths:
        endpoint = endpoints.endpoint_create(organization=organization, url=receiver.url(path), events=types)
        receiver.secret_set(path, endpoint.secret, verify_every)
        created.append(endpoint)
    return created


@contextmanager
def webhooks_disconnected() -> Iterator[None]:
    """The product without webhooks: no receiver listens to the models' saves."""
    signals.disconnect()
    try:
        yield
    finally:
        signals.connect()


def sample_body() -> tuple[bytes, dict[str, str]]:
    """A real `location.created` body and its headers: the raw loop sends the very same sizes."""
    organization = organization_new("raw")
    location = Location.objects.create(organization=organization, name="Raw ceiling sample")
    event = Event.objects.filter(organization=organization, type="location.created").latest("id")
    body = payloads.body(event)
    secret = signing.secret_generate()
    headers = {
        "content-type": "application/json",
        "user-agent": "eDRV-Webhooks/bench",
        **signing.signature_headers(
            msg_id=event.public_id, timestamp=int(time.time()), body=body, secrets=[secret]
        ),
    }
    location.delete()
    return body, headers


def raw_ceiling(
    receiver: Receiver, body: bytes, headers: dict[str, str], rounds: int = 3, seconds: float = 1.5
) -> float:
    """(a) requests/s of one keep-alive http.client POST loop: what the receiver can take. The best
    of a few rounds: the machine's speed moves from one second to the next, and the highest ceiling
    is the hardest one to compare (b) against."""
    return max(_raw_round(receiver, body, headers, seconds) for _ in range(rounds))


def _raw_round(receiver: Receiver, body: bytes, headers: dict[str, str], seconds: float) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", receiver.port)
    sent = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        headers["webhook-id"] = f"raw_{sent}"
        conn.request("POST", "/raw", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        assert response.status == 200
        sent += 1
    conn.close()
    return sent / elapsed


def _location_data(organization: Organization) -> dict[str, Any]:
    """A real location's payload. Its own save raises no event: where the fan-out happens in the
    worker, an event raised now would still reach the endpoints created next."""
    with webhooks_disconnected():
        location = Location.objects.create(organization=organization, name="Bench location")
    return dict(LocationSerializer(location).data)


def throughput(
    receiver: Receiver, name: str, *, events_count: int, healthy: int, dead: int = 0, timeout: float = 120
) -> Throughput:
    """(b)/(f) Commit `events_count` events for `healthy` (+ `dead`) endpoints; time every healthy attempt."""
    organization = organization_new(name)
    data = _location_data(organization)
    paths = [f"/{name}/ok{n}" for n in range(healthy)] + [f"/hang/{name}/{n}" for n in range(dead)]
    targets = endpoints_new(receiver, organization, paths, ["location.created"])
    good = [e.pk for e in targets[:healthy]]
    expected = events_count * healthy
    committed: list[float] = []
    with transaction.atomic():
        transaction.on_commit(lambda: committed.append(time.time()))  # runs first, right after COMMIT
        for _ in range(0, events_count, CHUNK):
            events.events_record(organization_id=organization.pk, items=[("location.created", data)] * CHUNK)
    started = committed[0]
    # Polled every POLL (10 ms): a run lasts about a second, and a coarser poll would add to its time.
    _wait(lambda: receiver.count(f"/{name}/") >= expected, timeout, f"{name}: receipts")
    attempts = Attempt.objects.filter(delivery__endpoint_id__in=good, succeeded=True)
    _wait(lambda: attempts.count() >= expected, timeout, f"{name}: attempts")
    seconds = time.time() - started
    received = sum(s["count"] for p, s in receiver.stats()["paths"].items() if p.startswith(f"/{name}/"))
    for endpoint in targets[healthy:]:
        endpoints.endpoint_disable(endpoint_id=endpoint.pk, reason="benchmark over")
    return Throughput(deliveries=expected, seconds=seconds, duplicates=received - expected)


def throughput_median(receiver: Receiver, name: str, *, runs: int = 3, **shape: Any) -> Throughput:
    """(b)/(f) The median of `runs` runs of one shape (each with its own organization and endpoints):
    a run lasts a few seconds, and the machine's speed moves by a fifth from one to the next. Its
    duplicates are every run's."""
    results = sorted(
        (throughput(receiver, f"{name}{n}", **shape) for n in range(runs)), key=lambda r: r.per_second
    )
    middle = results[len(results) // 2]
    return Throughput(middle.deliveries, middle.seconds, sum(r.duplicates for r in results))


@dataclass
class SaveCost:
    disconnected: float  # µs, webhooks receivers disconnected
    three: float  # µs, 3 subscribed endpoints
    filtered: float  # µs, 3 subscribed endpoints with content filters and network scopes
    filtered_deliveries: int  # Delivery rows the fan-out wrote for the filtered saves' events
    filtered_events: int


def save_cost(receiver: Receiver, saves: int = 2000, rounds: int = 20) -> SaveCost:
    """(d) Mean µs of one autocommit Location.save() of a location whose organization has 3
    endpoints subscribed: with the webhooks receivers disconnected (the baseline), connected, and
    connected to 3 subscribed endpoints whose content filters and network scopes all admit it.

    The kinds alternate in short rounds, so that a change in the machine's load hits them alike.
    """
    subscribed = organization_new("save-three")
    filtered = organization_new("save-filtered")
    endpoints_new(receiver, subscribed, ["/d/1", "/d/2", "/d/3"], ["location.updated"])
    locations = {
        org.pk: Location.objects.create(organization=org, name="Saved over and over")
        for org in (subscribed, filtered)
    }
    for n, endpoint in enumerate(
        endpoints_new(receiver, filtered, ["/df/1", "/df/2", "/df/3"], ["location.updated"])
    ):
        endpoints.endpoint_update(
            endpoint=endpoint,
            filter={
                "type": "location.updated",
                "data": {"name": {"$startsWith": "Saved"}},
                "object": {"$neq": f"x{n}"},
            },
            locations=[locations[filtered.pk].public_id],
        )
    kinds = {"disconnected": subscribed, "three": subscribed, "filtered": filtered}
    totals = dict.fromkeys(kinds, 0.0)
    for round_number in range(rounds + 1):  # the first round warms up and is not counted
        for kind, org in kinds.items():
            location = locations[org.pk]
            with webhooks_disconnected() if kind == "disconnected" else nullcontext():
                started = time.perf_counter()
                for n in range(saves // rounds):
                    location.name = f"Saved {round_number}.{n}"
                    location.save()
                elapsed = time.perf_counter() - started
            if round_number:
                totals[kind] += elapsed
    raised = Event.objects.filter(organization=filtered, type="location.updated")
    filtered_events = raised.count()
    assert filtered_events == saves + saves // rounds, f"every save raises its event ({filtered_events})"
    # The save writes the event alone; the worker's fan-out matches it (outside the clock): the
    # filters and scopes must admit every save, 3 deliveries each.
    ids = list(raised.values_list("id", flat=True))
    for start in range(0, len(ids), 1000):
        fanout.events_fan_out(event_ids=ids[start : start + 1000], limit=1000)
    deliveries = raised.aggregate(n=Count("deliveries"))["n"]
    assert deliveries == 3 * filtered_events, f"filters must admit every save ({deliveries})"
    connected = Event.objects.filter(organization=subscribed, type="location.updated").count()
    assert connected == saves + saves // rounds, f"only the connected saves raise events ({connected})"
    Event.objects.filter(organization__in=[subscribed, filtered]).delete()
    return SaveCost(
        disconnected=totals["disconnected"] / saves * 1e6,
        three=totals["three"] / saves * 1e6,
        filtered=totals["filtered"] / saves * 1e6,
        filtered_deliveries=deliveries,
        filtered_events=filtered_events,
    )


def creates(organization: Organization, count: int, name: str) -> float:
    """`count` Location.objects.create(), each in its own transaction (as the services do): seconds."""
    started = time.perf_counter()
    for n in range(count):
        with transaction.atomic():
            Location.objects.create(organization=organization, name=f"{name} {n}")
    return time.perf_counter() - started


@dataclass
class PerChange:
    saves: int
    loop_per_second: float  # the same loop's saves/s with webhooks and the workers running
    seconds: float  # first save to the last receipt
    worker_cpu: float  # worker CPU seconds, from just before the loop to the last receipt
    duplicates: int

    @property
    def delivered_per_second(self) -> float:
        return self.saves / self.seconds

    @property
    def cpu_per_event_ms(self) -> float:
        return self.worker_cpu / self.saves * 1000


def per_change_setup(receiver: Receiver) -> Organization:
    """(h) The organization of the loop: one endpoint subscribed on the receiver, every
    request to it verified."""
    organization = organization_new("perchange")
    endpoints_new(receiver, organization, ["/h/changes"], ["location.created"], verify_every=1)
    return organization


def per_change_baseline(organization: Organization, saves: int) -> float:
    """(h) Saves/s of the loop with the webhooks receivers disconnected (run it with no workers)."""
    with webhooks_disconnected():
        creates(organization, max(saves // 10, 10), "Warm-up")
        return saves / creates(organization, saves, "Without webhooks")


def per_change(receiver: Receiver, organization: Organization, node: Node, *, saves: int) -> PerChange:
    """(h)/(i) The loop with webhooks on and `node` running: first save to last receipt, and the
    worker processes' CPU over that span."""
    warmup = organization_new("perchange-warmup")
    endpoints_new(receiver, warmup, ["/hw/changes"], ["location.created"])
    creates(warmup, 20, "Warm-up")
    _wait(lambda: receiver.count("/hw/") >= 20, 60, "per change: warm-up receipts", interval=0.05)
    cpu_before = node.worker_cpu()
    started = time.time()
    loop = creates(organization, saves, "Per change")
    _wait(lambda: receiver.count("/h/") >= saves, 120 + saves / 10, "per change: receipts", interval=0.02)
    cpu = node.worker_cpu() - cpu_before
    last = max(receiver.receipts("/h/changes").values())
    stats = receiver.stats()["paths"]["/h/changes"]
    assert stats["verify_failed"] == 0 and stats["verified"] >= saves, f"per change: signatures {stats}"
    return PerChange(
        saves=saves,
        loop_per_second=saves / loop,
        seconds=last - started,
        worker_cpu=cpu,
        duplicates=stats["count"] - stats["unique"],
    )


def idle(node: Node, seconds: float = 60, settle: float = 5) -> float:
    """CPU seconds of an idle node (worker processes, their children, beat) over `seconds`."""
    time.sleep(settle)  # past the start-up: beat's and the workers' first polls
    before = node.cpu()
    time.sleep(seconds)
    return node.cpu() - before


@dataclass
class Fairness:
    backlog: int
    write_seconds: float  # writing A's backlog (before the workers start)
    b_seconds: float  # B's commit to its receipt
    a_received: int  # A's events received when B's arrived
    a_rate: float  # A's delivered/s from its first receipt to B's

    @property
    def a_draining(self) -> bool:
        return self.a_received < self.backlog


def fairness_backlog(
    receiver: Receiver, backlog: int, chunk: int = 1000
) -> tuple[Organization, Organization, float]:
    """Organization A's backlog of `backlog` events (written with `events_record` in transactions of
    `chunk`, one subscribed endpoint), organization B with one subscribed endpoint, and the
    seconds the backlog took to write. Run with no workers: the backlog is all there when they start.
    """
    a = organization_new("fair-a")
    data = _location_data(a)
    endpoints_new(receiver, a, ["/fair/a"], ["location.created"])
    b = organization_new("fair-b")
    endpoints_new(receiver, b, ["/fair/b"], ["location.created"], verify_every=1)
    started = time.perf_counter()
    for start in range(0, backlog, chunk):
        with transaction.atomic():
            events.events_record(
                organization_id=a.pk, items=[("location.created", data)] * min(chunk, backlog - start)
            )
    return a, b, time.perf_counter() - started


def fairness(receiver: Receiver, b: Organization, *, backlog: int, write_seconds: float) -> Fairness:
    """Once A's backlog is draining (the workers just started), B saves one Location: B's
    commit-to-receipt, and how far A had got by then."""
    _wait(
        lambda: receiver.count("/fair/a") >= min(backlog // 20, 1000),
        120,
        "fairness: A's backlog does not drain",
        interval=0.05,
    )
    committed: list[float] = []
    with transaction.atomic():
        transaction.on_commit(lambda: committed.append(time.time()))  # runs first, right after COMMIT
        Location.objects.create(organization=b, name="Fairness")
    _wait(lambda: receiver.count("/fair/b") >= 1, 120 + backlog / 100, "fairness: B's receipt", interval=0.02)
    b_at = min(receiver.receipts("/fair/b").values())
    a_times = sorted(receiver.receipts("/fair/a").values())
    a_received = sum(1 for at in a_times if at <= b_at)
    return Fairness(
        backlog=backlog,
        write_seconds=write_seconds,
        b_seconds=b_at - committed[0],
        a_received=a_received,
        a_rate=a_received / (b_at - a_times[0]) if b_at > a_times[0] else 0.0,
    )


def latency(receiver: Receiver, rate: float = 100, seconds: float = 20) -> tuple[float, float, float, float]:
    """(e) Commit-to-receipt at a steady `rate` of saves: (p50 ms, p99 ms, max ms, achieved rate).

    Saves start on schedule from a few threads, as concurrent requests would, so that one slow
    save does not hold back the next ones.
    """
    organization = organization_new("latency")
    endpoints_new(receiver, organization, ["/e"], ["location.created"])
    committed: dict[str, float] = {}
    total = int(rate * seconds)

    def save(n: int) -> None:
        location = Location(organization=organization, name=f"Steady {n}")
        with transaction.atomic():
            # Registered first, so it runs first once the transaction has committed.
            transaction.on_commit(lambda: committed.setdefault(location.public_id, time.time()))
            location.save()

    started = time.time()
    with ThreadPoolExecutor(PRODUCERS) as producers:
        for n in range(total):
            pause = started + n / rate - time.time()
            if pause > 0:
                time.sleep(pause)
            producers.submit(save, n)
    achieved = total / (time.time() - started)
    _wait(lambda: receiver.count("/e") >= total, 60, "latency: receipts", interval=0.1)
    receipts = receiver.receipts("/e")
    # The locations' events only: registering the endpoint raised a `webhook.created` of its own.
    saved = Event.objects.filter(organization=organization, type="location.created")
    subject = {public_id: data["_id"] for public_id, data in saved.values_list("public_id", "data")}
    delays = sorted((at - committed[subject[event_id]]) * 1000 for event_id, at in receipts.items())
    p99 = delays[min(len(delays) - 1, round(len(delays) * 0.99))]
    return statistics.median(delays), p99, delays[-1], achieved


def _wait(condition: Callable[[], bool], timeout: float, what: str, interval: float = POLL) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not done within {timeout:.0f} s")
        time.sleep(interval)
