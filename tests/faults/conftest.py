"""Fixtures for the short fault scenarios: the harness's machinery (bench/faults/) on the test database.

- `receiver` / `tally`: the e2e receiver, each request booked with the answer it got.
- `private_redis`: a `redis-server` of this test's own (skips without one); it can be stopped
  and restarted empty, which the machine's shared Redis must never be.
- `broker`: where this test's tasks go, and the test process publishes meanwhile. Without
  REDIS_URL a folder (the project's embedded default); with it, the private Redis, so that the
  suite never restarts, purges or fills the Redis other people use. `indirect` parametrization
  with "redis" or "folder" chooses.
- `start`: `start(kind, **env)` runs a Celery worker or beat on the test database and `broker`,
  killed at teardown whatever happened; their logs go into a failing test's report.

Tests here run real processes: `pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]`.
"""

import shutil
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Literal, Protocol

import pytest
from django.conf import settings as project_settings
from django.db import connection

from bench.faults.servers import RedisServer
from bench.faults.tally import Tally
from edrv_project.celery import app
from tests.e2e.broker import Broker, filesystem_broker, publishing_to, queue_purge, redis_broker
from tests.e2e.processes import ARTIFACTS, CeleryProcess, database_url, process_environment
from tests.e2e.receiver import Receiver

PROCESSES = pytest.StashKey[list[CeleryProcess]]()
# Short schedule and sweep; a lease of 2 s x 1 round + 10 s, so a killed worker's claim expires soon.
FAST = {
    "WEBHOOKS_RETRY_SCHEDULE": "0,1,1,1,2,2",
    "WEBHOOKS_SWEEP_INTERVAL": "1",
    "WEBHOOKS_TIMEOUT": "2",
    "WEBHOOKS_BATCH_SIZE": "10",
    "WEBHOOKS_CONCURRENCY": "10",
}


class Start(Protocol):
    def __call__(
        self, kind: Literal["worker", "beat"], *, concurrency: int = 4, **env: str
    ) -> CeleryProcess: ...


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        for process in item.stash.get(PROCESSES, []):
            report.sections.append((f"{process.kind} {process.name} log", process.log_text()[-20000:]))
    return report


@pytest.fixture
def tally() -> Tally:
    return Tally(send_timeout=float(FAST["WEBHOOKS_TIMEOUT"]))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    if not shutil.which("redis-server"):
        pytest.skip("needs a redis-server binary to run a Redis of its own (it restarts it)")
    with RedisServer(tmp_path / "redis.log") as server:
        yield server


@pytest.fixture
def broker(request: pytest.FixtureRequest, tmp_path: Path, transactional_db: None) -> Iterator[Broker]:
    # A test may ask for one (indirect parametrization); by default, as the environment says.
    kind = getattr(request, "param", "redis" if project_settings.REDIS_URL else "folder")
    if kind == "redis":
        chosen = redis_broker(request.getfixturevalue("private_redis").url)
    else:
        chosen = filesystem_broker(tmp_path / "broker")
    with publishing_to(app, chosen):
        queue_purge(app, chosen)
        yield chosen


@pytest.fixture
def start(request: pytest.FixtureRequest, broker: Broker, tmp_path: Path) -> Iterator[Start]:
    folder = ARTIFACTS / ("faults-" + request.node.name.replace("/", "_"))
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    started = request.node.stash.setdefault(PROCESSES, [])

    def run(kind: Literal["worker", "beat"], *, concurrency: int = 4, **env: str) -> CeleryProcess:
        name = f"{kind}{sum(1 for p in started if p.kind == kind) + 1}"
        process = CeleryProcess(
            kind=kind,
            name=name,
            env=process_environment(
                database=database_url(connection.settings_dict), broker=broker, extra={**FAST, **env}
            ),
            log_path=folder / f"{name}.log",
            workdir=tmp_path,
            concurrency=concurrency,
        )
        started.append(process)
        return process.start()

    yield run
    for process in started:
        process.kill()
