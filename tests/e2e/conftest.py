"""Fixtures for end-to-end tests: a real worker, a real receiver, a real SMTP server, a real broker.

- `receiver`: a `Receiver` on 127.0.0.1 (see receiver.py) that verifies every signature.
- `celery_worker`: `start_worker(**env) -> CeleryProcess`, a worker on the test database and
  the test broker; `celery_beat` does the same for beat. Stopped at teardown, always.
- `smtp_server`: an `SmtpServer`; give a worker `EMAIL_URL=smtp_server.url`.
- `broker_proxy`: a `BrokerOutage`; requesting it puts Redis behind a pausable proxy for the
  test process and for every worker of the test (a private redis-server without REDIS_URL).
- `celery_broker`: the `Broker` in use; this test's own Celery app publishes to it.

A pipeline test:

    pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

    def test_a_created_location_reaches_the_endpoint(receiver, celery_worker, organization):
        celery_worker(WEBHOOKS_RETRY_SCHEDULE="0,1")
        endpoint = EndpointFactory.create(organization=organization, url=receiver.url("/a"))
        receiver.expect_secrets("/a", [endpoint.secret])
        LocationFactory.create(organization=organization)
        [request] = receiver.wait_for(1, path="/a")
        assert request.verified and request.json["type"] == "location.created"

A failing test gets every worker's log in its report; logs stay under tests/artifacts/.
"""

import re
import shutil
from collections.abc import Generator, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Literal, Protocol

import pytest
from django.conf import settings as project_settings
from django.db import connection

from edrv_project.celery import app
from tests.e2e.broker import (
    Broker,
    BrokerOutage,
    PrivateRedis,
    filesystem_broker,
    publishing_to,
    queue_purge,
    redis_broker,
)
from tests.e2e.processes import ARTIFACTS, CeleryProcess, database_url, process_environment
from tests.e2e.receiver import Receiver
from tests.e2e.smtp import SmtpServer

PROCESSES = pytest.StashKey[list[CeleryProcess]]()


class StartProcess(Protocol):
    def __call__(self, **env: str) -> CeleryProcess: ...


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    # The processes' logs are what explain an e2e failure: put them in the report.
    if report.failed:
        for process in item.stash.get(PROCESSES, []):
            report.sections.append((f"{process.kind} {process.name} log", process.log_text()[-20000:]))
    return report


@pytest.fixture
def artifacts_dir(request: pytest.FixtureRequest) -> Path:
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.nodeid)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with SmtpServer() as running:
        yield running


@pytest.fixture
def celery_broker(request: pytest.FixtureRequest, tmp_path: Path, transactional_db: None) -> Iterator[Broker]:
    with ExitStack() as stack:
        if "broker_proxy" in request.fixturenames:
            if not project_settings.REDIS_URL and not shutil.which("redis-server"):
                pytest.skip("a broker outage needs REDIS_URL, or a redis-server to run privately")
            upstream = project_settings.REDIS_URL or stack.enter_context(PrivateRedis()).url
            outage = stack.enter_context(BrokerOutage(upstream))
            broker = redis_broker(outage.url, outage)
        elif project_settings.REDIS_URL:
            broker = redis_broker(project_settings.REDIS_URL)
        else:
            broker = filesystem_broker(tmp_path / "broker")
        stack.enter_context(publishing_to(app, broker))
        queue_purge(app, broker)
        yield broker


@pytest.fixture
def broker_proxy(celery_broker: Broker) -> BrokerOutage:
    assert celery_broker.outage is not None
    return celery_broker.outage


@pytest.fixture
def celery_worker(
    request: pytest.FixtureRequest, celery_broker: Broker, artifacts_dir: Path, tmp_path: Path
) -> Iterator[StartProcess]:
    yield from _process_factory("worker", request, celery_broker, artifacts_dir, tmp_path)


@pytest.fixture
def celery_beat(
    request: pytest.FixtureRequest, celery_broker: Broker, artifacts_dir: Path, tmp_path: Path
) -> Iterator[StartProcess]:
    yield from _process_factory("beat", request, celery_broker, artifacts_dir, tmp_path)


def _process_factory(
    kind: Literal["worker", "beat"],
    request: pytest.FixtureRequest,
    broker: Broker,
    artifacts: Path,
    workdir: Path,
) -> Iterator[StartProcess]:
    started = request.node.stash.setdefault(PROCESSES, [])
    mine: list[CeleryProcess] = []

    def start(**env: str) -> CeleryProcess:
        name = f"{kind}{len(mine) + 1}"
        process = CeleryProcess(
            kind=kind,
            name=name,
            env=process_environment(
                database=database_url(connection.settings_dict), broker=broker, extra=env
            ),
            log_path=artifacts / f"{name}.log",
            workdir=workdir,
        )
        mine.append(process)
        started.append(process)
        return process.start()

    yield start
    for process in mine:
        process.kill()  # a hard stop: a warm shutdown waits for tasks and polls, and proves nothing here
