"""DNS lookups of webhooks/delivery/destinations.py: one silent zone cannot starve the others.

The system resolver (socket.getaddrinfo) is replaced by a fake: names under blackhole.test never
answer until the test ends (a zone whose servers drop every query), names under nx.test do not
exist, other .test names are 127.0.0.1. Deliveries then go to real servers on 127.0.0.1.
"""

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pytest
from pytest_django.fixtures import Settings

from tests.e2e.receiver import Receiver
from webhooks.delivery import destinations, http
from webhooks.delivery.destinations import DestinationRefused, IpAddress, addresses_check, target_parse

HEADERS = {"content-type": "application/json", "webhook-id": "evt_1"}
POST: dict[str, Any] = {"body": b"{}", "headers": HEADERS}
LOCALHOST = [ipaddress.ip_address("127.0.0.1")]


@dataclass
class FakeResolver:
    real: Callable[..., list[Any]]
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: list[str] = field(default_factory=list)

    def getaddrinfo(self, host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        with self.lock:
            self.calls.append(host)
        if host == "blackhole.test" or host.endswith(".blackhole.test"):
            self.release.wait()
        elif host == "nx.test" or host.endswith(".nx.test"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        elif not host.endswith(".test"):
            return self.real(host, port, *args, **kwargs)  # urllib3's lookup of the IP it connects to
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", port or 0))]

    def count(self, predicate: Callable[[str], bool]) -> int:
        with self.lock:
            return sum(1 for host in self.calls if predicate(host))


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeResolver]:
    fake = FakeResolver(socket.getaddrinfo)
    destinations._dns_reset()  # no answers cached by earlier tests
    monkeypatch.setattr(socket, "getaddrinfo", fake.getaddrinfo)
    yield fake
    fake.release.set()  # the black hole answers at last: no thread outlives the test for long
    destinations._dns_reset()


def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def in_thread(work: Callable[[], object]) -> list[object]:
    """Run `work` in a daemon thread; its result (or exception) lands in the returned list."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(work())
        except Exception as exc:
            outcome.append(exc)

    threading.Thread(target=run, daemon=True).start()
    return outcome


def lookup(host: str, within: float) -> list[IpAddress]:
    return addresses_check(target_parse(f"https://{host}/"), time.monotonic() + within)


def test_black_holed_zone_does_not_starve_other_lookups(resolver: FakeResolver) -> None:
    with Receiver() as receiver:
        # Given 30 deliveries at once to different hosts of a zone that never answers
        stuck = [
            # Port 9: when the name answers at the end of the test, nothing of this test is there.
            in_thread(partial(http.post, f"http://h{i}.blackhole.test:9/", **POST, timeout=10))
            for i in range(30)
        ]
        eventually(lambda: resolver.count(lambda host: host.endswith("blackhole.test")) >= 2)
        time.sleep(0.2)  # every one of the 30 has reached its lookup

        # When delivering to a host of another zone
        started = time.monotonic()
        result = http.post(f"http://ok.test:{receiver.port}/hook", body=b"{}", headers=HEADERS, timeout=3)

        # Then its lookup is answered at once and the request delivered
        assert result.ok, result.error
        assert time.monotonic() - started < 0.5
        assert [r.path for r in receiver.requests()] == ["/hook"]
        # and the black-holed zone held two lookups: the other deliveries failed at once, as timeouts
        # (retried later as failed attempts), without a lookup of their own
        assert resolver.count(lambda host: host.endswith("blackhole.test")) == 2
        failed = [outcome[0] for outcome in stuck if outcome]
        assert len(failed) == 28
        assert all(isinstance(r, http.HttpResult) and r.error == "timeout after 10.0 s" for r in failed)
        assert all(isinstance(r, http.HttpResult) and r.duration_ms < 500 for r in failed)


def test_concurrent_callers_for_one_host_share_one_lookup(resolver: FakeResolver) -> None:
    # Given ten callers waiting for the same slow host, and one more with a short deadline
    waiting = [in_thread(lambda: lookup("slow.blackhole.test", within=5)) for _ in range(10)]
    eventually(lambda: resolver.count(lambda host: host == "slow.blackhole.test") >= 1)
    time.sleep(0.1)  # every one of the ten has reached its lookup
    started = time.monotonic()
    impatient = in_thread(lambda: lookup("slow.blackhole.test", within=0.2))

    # Then the impatient caller stops waiting at its own deadline, the others keep waiting
    eventually(lambda: bool(impatient))
    assert 0.15 < time.monotonic() - started < 1
    assert isinstance(impatient[0], TimeoutError)
    assert str(impatient[0]) == "DNS resolution timed out"
    assert not any(waiting)

    # When the name answers
    resolver.release.set()

    # Then every waiting caller has that answer, from a single getaddrinfo call
    eventually(lambda: all(waiting))
    assert [outcome[0] for outcome in waiting] == [LOCALHOST] * 10
    assert resolver.count(lambda host: host == "slow.blackhole.test") == 1


def test_answer_is_cached_for_its_time_then_looked_up_again(
    resolver: FakeResolver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(destinations, "DNS_CACHE_SECONDS", 0.3)

    # Given a host looked up once
    assert lookup("cached.test", within=1) == LOCALHOST

    # When it is looked up again within the cache time: the answer is reused
    assert lookup("cached.test", within=1) == LOCALHOST
    assert resolver.count(lambda host: host == "cached.test") == 1

    # When it is looked up after the cache time: it is resolved again
    time.sleep(0.4)
    assert lookup("cached.test", within=1) == LOCALHOST
    assert resolver.count(lambda host: host == "cached.test") == 2


def test_unknown_host_is_cached_for_the_shorter_negative_time(
    resolver: FakeResolver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(destinations, "DNS_CACHE_SECONDS", 60.0)
    monkeypatch.setattr(destinations, "DNS_NEGATIVE_CACHE_SECONDS", 0.3)

    # Given a name that does not exist, refused twice in a row: one lookup
    for _ in range(2):
        with pytest.raises(DestinationRefused, match="does not resolve"):
            lookup("gone.nx.test", within=1)
    assert resolver.count(lambda host: host == "gone.nx.test") == 1

    # When the negative time is over (much shorter than the positive one): looked up again
    time.sleep(0.4)
    with pytest.raises(DestinationRefused, match="does not resolve"):
        lookup("gone.nx.test", within=1)
    assert resolver.count(lambda host: host == "gone.nx.test") == 2


def test_cached_address_is_checked_again_on_every_use(resolver: FakeResolver, settings: Settings) -> None:
    with Receiver() as receiver:
        # Given a delivery to a host of 127.0.0.1 while loopback is allowed
        settings.WEBHOOKS_ALLOWED_NETWORKS = ["127.0.0.0/8"]
        url = f"http://ok.test:{receiver.port}/hook"
        assert http.post(url, body=b"{}", headers=HEADERS).ok

        # When loopback is no longer allowed, and the answer is still cached
        settings.WEBHOOKS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
        result = http.post(url, body=b"{}", headers=HEADERS)

        # Then the cached address is refused: nothing more reaches the server
        assert result.error == "refused destination: loopback address 127.0.0.1"
        assert resolver.count(lambda host: host == "ok.test") == 1
        assert len(receiver.requests()) == 1
        assert receiver.requests()[0].headers["host"] == f"ok.test:{receiver.port}"
