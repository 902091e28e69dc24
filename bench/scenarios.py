"""The measurements. Each returns plain numbers; `bench.__main__` runs them in order and reports.

Events for the throughput runs are written with the outbox service itself
(`webhooks.outbox.recording.events_record`, 100 events per call) in one transaction, as an import or a
backlog would be: the clock starts when it commits and stops when the last successful Attempt row
is in the database. Writing the events is the producer's work, not the pipeline's, and is kept out
of the clock: on a 2-core machine it would otherwise take its CPU from the workers. The save()
cost and the latency runs go through `Location.save()`, the path every API and dashboard change
takes.
"""

import http.client
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Count

from bench.stack import Receiver
from chargestations.models import Location
from chargestations.serializers import LocationSerializer
from organizations.models import Organization, Plan
from webhooks import signing
from webhooks.catalog import payloads
from webhooks.endpoints import services as endpoints
from webhooks.models import Attempt, Endpoint, Event
from webhooks.outbox import recording as events

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
    receiver: Receiver, organization: Organization, paths: list[str], types: list[str]
) -> list[Endpoint]:
    created = []
    for path in paths:
        endpoint = endpoints.endpoint_create(organization=organization, url=receiver.url(path), events=types)
        receiver.secret_set(path, endpoint.secret)
        created.append(endpoint)
    return created


def sample_body() -> tuple[bytes, dict[str, str]]:
    """A real `location.created` body and its headers: the raw loop sends the very same sizes."""
    organization = organization_new("raw")
    location = Location.objects.create(organization=organization, name="Raw ceiling sample")
    event = Event.objects.filter(organization=organization).latest("id")
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


def raw_ceiling(receiver: Receiver, body: bytes, headers: dict[str, str], seconds: float = 3.0) -> float:
    """(a) requests/s of one keep-alive http.client POST loop: what the receiver can take."""
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
    # Created before the organization has endpoints: its own event goes nowhere.
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
    _wait(lambda: receiver.count(f"/{name}/") >= expected, timeout, f"{name}: receipts", interval=0.05)
    attempts = Attempt.objects.filter(delivery__endpoint_id__in=good, succeeded=True)
    _wait(lambda: attempts.count() >= expected, timeout, f"{name}: attempts")
    seconds = time.time() - started
    received = sum(s["count"] for p, s in receiver.stats()["paths"].items() if p.startswith(f"/{name}/"))
    for endpoint in targets[healthy:]:
        endpoints.endpoint_disable(endpoint_id=endpoint.pk, reason="benchmark over")
    return Throughput(deliveries=expected, seconds=seconds, duplicates=received - expected)


def save_cost(receiver: Receiver, saves: int = 2000, rounds: int = 20) -> tuple[float, float, float]:
    """(d) Mean µs of one autocommit Location.save(): without endpoints, with 3 subscribed, and with
    3 subscribed whose content filters and network scopes all admit the change.

    The kinds alternate in short rounds, so that a change in the machine's load hits them alike.
    """
    alone = organization_new("save-none")
    subscribed = organization_new("save-three")
    filtered = organization_new("save-filtered")
    endpoints_new(receiver, subscribed, ["/d/1", "/d/2", "/d/3"], ["location.updated"])
    locations = {
        org.pk: Location.objects.create(organization=org, name="Saved over and over")
        for org in (alone, subscribed, filtered)
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
    totals = dict.fromkeys(locations, 0.0)
    for round_number in range(rounds + 1):  # the first round warms up and is not counted
        for org in (alone, subscribed, filtered):
            location = locations[org.pk]
            started = time.perf_counter()
            for n in range(saves // rounds):
                location.name = f"Saved {round_number}.{n}"
                location.save()
            if round_number:
                totals[org.pk] += time.perf_counter() - started
    deliveries = Event.objects.filter(organization=filtered).aggregate(n=Count("deliveries"))["n"]
    assert deliveries == 3 * (saves + saves // rounds), f"filters must admit every save ({deliveries})"
    Event.objects.filter(organization__in=[alone, subscribed, filtered]).delete()
    none, three, three_filtered = (totals[org.pk] / saves * 1e6 for org in (alone, subscribed, filtered))
    return none, three, three_filtered


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
    subject = {
        public_id: data["_id"]
        for public_id, data in Event.objects.filter(organization=organization).values_list(
            "public_id", "data"
        )
    }
    delays = sorted((at - committed[subject[event_id]]) * 1000 for event_id, at in receipts.items())
    p99 = delays[min(len(delays) - 1, round(len(delays) * 0.99))]
    return statistics.median(delays), p99, delays[-1], achieved


def _wait(condition: Callable[[], bool], timeout: float, what: str, interval: float = POLL) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not done within {timeout:.0f} s")
        time.sleep(interval)
