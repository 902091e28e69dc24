"""/healthz against real sockets: the configured database and broker, then brokers that are down."""

import socket
import time
from collections.abc import Callable, Iterator

import pytest
from django.test import Client

from edrv_project.celery import app as celery_app

pytestmark = pytest.mark.django_db

FAST = 3.0  # seconds: a probe must not stall a load balancer
PointBroker = Callable[[str], None]


@pytest.fixture
def broker_at() -> Iterator[PointBroker]:
    """Point the Celery app at another broker URL for one test, then restore it."""
    original = celery_app.conf.broker_url

    def point(url: str) -> None:
        celery_app.conf.update(broker_url=url)

    yield point
    celery_app.conf.update(broker_url=original)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port nothing listens on; held bound so that nothing else takes it meanwhile."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers: a hung broker."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def get_healthz() -> tuple[int, dict[str, str], float]:
    started = time.monotonic()
    response = Client().get("/healthz")
    return response.status_code, response.json(), time.monotonic() - started


def test_ok_when_database_and_broker_answer() -> None:
    # Given the configured database and broker (SQLite + folder, or PostgreSQL + Redis in CI)
    # When /healthz is asked
    status, body, _ = get_healthz()

    # Then both are reported reachable
    assert (status, body) == (200, {"status": "ok", "database": "ok", "broker": "ok"})


def test_unavailable_quickly_when_the_broker_refuses(broker_at: PointBroker, closed_port: int) -> None:
    # Given a broker URL whose port refuses connections
    broker_at(f"redis://127.0.0.1:{closed_port}/0")

    # When /healthz is asked
    status, body, elapsed = get_healthz()

    # Then it answers 503 at once, naming the broker
    assert (status, body) == (503, {"status": "unavailable", "database": "ok", "broker": "down"})
    assert elapsed < FAST


def test_unavailable_quickly_when_the_broker_hangs(broker_at: PointBroker, silent_port: int) -> None:
    # Given a broker that accepts the connection but never answers
    broker_at(f"redis://127.0.0.1:{silent_port}/0")

    # When /healthz is asked
    status, body, elapsed = get_healthz()

    # Then it gives up within its timeout and answers 503
    assert (status, body["broker"]) == (503, "down")
    assert elapsed < FAST


def test_only_get_is_allowed() -> None:
    # Given the endpoint, When posted to, Then 405
    assert Client().post("/healthz").status_code == 405
