"""The feed through a real server: uvicorn as the Procfile runs it, clients over TCP, events committed
by this process (as by any other web or worker process) on the database they share.

With Redis (a redis-server of the test's own), a commit here is announced there and wakes the
server's waiting clients: within a second, each holding neither a thread nor a connection of its
own. Without Redis (the embedded `make run`), the server polls, and still answers.
"""

import contextlib
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.db import connection
from pytest_django.fixtures import Settings

from organizations.models import Organization
from tests.e2e.broker import PrivateRedis, filesystem_broker, redis_broker
from tests.e2e.processes import database_url, process_environment
from tests.ocpp.asgi_server import AsgiServer
from tests.webhooks.test_feed_horizon import open_transaction, postgresql_only
from tests.webhooks_api.feed_calls import (  # noqa: F401 - feed_threads_closed: a fixture
    FEED,
    feed_threads_closed,
    http_get,
    in_background,
    key_for,
    page,
    record,
)
from webhooks.feed.threads import DB_THREADS, WAKE_THREADS

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("feed_threads_closed"),
]

CLIENTS = 100


@pytest.fixture
def redis_url(settings: Settings) -> Iterator[str]:
    if not shutil.which("redis-server"):
        pytest.skip("needs a redis-server to run privately")
    with PrivateRedis(shutil.which("redis-server") or "") as private:
        settings.REDIS_URL = private.url  # this process announces its commits there
        yield private.url


@pytest.fixture
def server(redis_url: str, artifacts_dir: Path) -> Iterator[AsgiServer]:
    env = process_environment(
        database=database_url(connection.settings_dict), broker=redis_broker(redis_url), extra={}
    )
    with AsgiServer(env=env, log_path=artifacts_dir / "uvicorn.log") as running:
        yield running


def local_ports_of(pid: int) -> set[int]:
    """The local TCP ports of the process's sockets (/proc: its descriptors' inodes, the table's ports)."""
    inodes = set()
    for descriptor in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(descriptor)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def threads_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("Threads:")))


def test_a_waiting_client_over_tcp_gets_an_event_within_a_second_of_its_commit(
    server: AsgiServer, organization: Organization
) -> None:
    # Given a client of the server waiting up to 10 s for the organization's next event
    key = key_for(organization)
    seen = record(organization)
    waiting = in_background(http_get, server.port, f"{FEED}?after={seen.public_id}&wait=10", key)
    time.sleep(1.5)
    assert not waiting.done()

    # When this process commits one
    fresh = record(organization)
    committed = time.monotonic()
    answer = waiting.result(timeout=15)

    # Then the server answers it within a second
    assert (answer.status, answer.content) == (200, page([fresh], fresh.public_id))
    assert time.monotonic() - committed < 1.0


def test_waiting_clients_hold_no_thread_and_no_connection_of_their_own(
    server: AsgiServer, organization: Organization, redis_url: str
) -> None:
    # Given the server, warmed up
    key = key_for(organization)
    seen = record(organization)
    assert http_get(server.port, f"{FEED}?after=", key).status == 200

    # When a hundred clients wait on it
    waiting = [
        in_background(http_get, server.port, f"{FEED}?after={seen.public_id}&wait=20", key)
        for _ in range(CLIENTS)
    ]
    time.sleep(3)

    # Then it runs no more threads than its own few: the event loop's, the database threads (both
    # pools), one for Django's per-request signals, and asyncio's for name lookups; no more Redis
    # connections than its one subscription and one per database thread (the API throttle's)
    assert not any(call.done() for call in waiting)
    assert threads_of(server.pid) <= 1 + DB_THREADS + WAKE_THREADS + 1 + 2
    ports = local_ports_of(server.pid)
    clients = [
        c for c in redis.Redis.from_url(redis_url).client_list() if int(c["addr"].rsplit(":", 1)[1]) in ports
    ]
    assert [client["psub"] for client in clients].count("1") == 1
    assert len(clients) <= 1 + DB_THREADS + WAKE_THREADS

    # When an event commits, then every one of them gets it
    fresh = record(organization)
    answers = [call.result(timeout=20) for call in waiting]
    assert {answer.content for answer in answers} == {page([fresh], fresh.public_id)}


@postgresql_only
def test_an_event_committed_late_with_a_smaller_id_reaches_a_waiting_client_before_the_later_one(
    server: AsgiServer, organization: Organization
) -> None:
    key = key_for(organization)
    seen = record(organization)
    # Given a client waiting, an event in a transaction still open, and a later event committed
    waiting = in_background(http_get, server.port, f"{FEED}?after={seen.public_id}&wait=10", key)
    with open_transaction(organization) as early:
        time.sleep(1)
        later = record(organization)
        time.sleep(1)
        # Then the client is not answered the later one alone
        assert not waiting.done()
    # And once the earlier one commits, it is answered both, in id order
    assert waiting.result(timeout=15).content == page([early(), later], later.public_id)


def test_without_redis_the_server_polls_and_answers_soon_after_a_commit(
    organization: Organization, settings: Settings, tmp_path: Path, artifacts_dir: Path
) -> None:
    # Given a server without Redis (a folder as broker), and a client of it waiting
    settings.REDIS_URL = ""
    env = process_environment(
        database=database_url(connection.settings_dict),
        broker=filesystem_broker(tmp_path / "broker"),
        extra={},
    )
    key = key_for(organization)
    seen = record(organization)
    with AsgiServer(env=env, log_path=artifacts_dir / "uvicorn.log") as server:
        waiting = in_background(http_get, server.port, f"{FEED}?after={seen.public_id}&wait=10", key)
        time.sleep(1.5)

        # When an event commits
        fresh = record(organization)
        committed = time.monotonic()

        # Then the server's poll (every second) finds it
        answer = waiting.result(timeout=15)
        assert answer.content == page([fresh], fresh.public_id)
        assert time.monotonic() - committed < 2.0
