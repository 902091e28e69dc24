"""/metrics after real deliveries: a real worker sends to the real receiver, this process scrapes.

The worker is another process: what it counts reaching this process's /metrics is what proves
that every process's figures are added up (prometheus_client's multiprocess mode). The test run
and the workers it starts share one temporary directory (settings), and counters only grow over
the run, so tests compare a scrape before with scrapes after.
"""

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings

from organizations.models import Organization
from tests.e2e.conftest import StartProcess
from tests.e2e.receiver import Receiver, hang, status
from tests.factories import EndpointFactory, LocationFactory
from tests.metrics_samples import Samples, scrape, value
from webhooks.models import Delivery, DeliveryStatus, Endpoint

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Attempts right away, then 0.2 s later; a delivery that fails both is failed.
TWO_QUICK_ATTEMPTS = {"WEBHOOKS_RETRY_SCHEDULE": "0,0.2", "WEBHOOKS_SWEEP_INTERVAL": "1"}


def scrape_until(condition: Callable[[Samples], bool], timeout: float = 30) -> Samples:
    """A worker counts just after it commits what it recorded: give it that moment."""
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape()
        if condition(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.1)


def endpoint_at(receiver: Receiver, path: str, organization: Organization, **fields: object) -> Endpoint:
    endpoint = EndpointFactory.create(
        organization=organization, url=receiver.url(path), events=["location.created"], **fields
    )
    receiver.expect_secrets(path, [endpoint.secret])
    return endpoint


def process_files(pid: int | None) -> set[str]:
    """The names of the files a process counts in."""
    return {path.name for path in Path(settings.PROMETHEUS_MULTIPROC_DIR).glob(f"*_{pid}.db")}


def test_a_worker_counts_outcomes_and_durations_that_the_web_process_serves(
    receiver: Receiver, celery_worker: StartProcess, celery_beat: StartProcess, organization: Organization
) -> None:
    # Given one endpoint that answers 200 and one that always answers 500, a worker, and the figures so far
    worker = celery_worker(**TWO_QUICK_ATTEMPTS)
    celery_beat(
        **TWO_QUICK_ATTEMPTS
    )  # a failing endpoint gets one send at a time: the sweeper sends the rest
    endpoint_at(receiver, "/ok", organization)
    endpoint_at(receiver, "/down", organization)
    receiver.behave("/down", status(500))
    before = scrape()

    # When three locations are created: three deliveries to each endpoint
    for _ in range(3):
        LocationFactory.create(organization=organization)

    # Then /ok got each once, /down each twice, and every delivery is settled
    receiver.wait_for(3, path="/ok")
    receiver.wait_for(6, path="/down")
    deadline = time.monotonic() + 30
    while Delivery.objects.filter(status=DeliveryStatus.PENDING).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 3
    assert Delivery.objects.filter(status=DeliveryStatus.FAILED).count() == 3

    # And this process's /metrics shows what the worker counted: 3 succeeded, 3 retried, 3 failed
    def grew(samples: Samples, name: str, **labels: str) -> float:
        return value(samples, name, **labels) - value(before, name, **labels)

    def outcomes(samples: Samples) -> list[float]:
        return [
            grew(samples, "webhooks_deliveries_total", outcome=o) for o in ("succeeded", "retried", "failed")
        ]

    after = scrape_until(lambda samples: outcomes(samples) == [3, 3, 3])
    assert outcomes(after) == [3, 3, 3]
    assert grew(after, "webhooks_deliveries_total", outcome="skipped") == 0
    # counted by the worker, in files of its own, not by this process (which sent nothing)
    assert f"counter_{worker.pid}.db" in process_files(worker.pid)
    assert f"histogram_{worker.pid}.db" in process_files(worker.pid)

    # And the histogram has the nine attempts, each under the timeout
    assert grew(after, "webhooks_attempt_duration_seconds_count") == 9
    assert 0 < grew(after, "webhooks_attempt_duration_seconds_sum") < 9 * settings.WEBHOOKS_TIMEOUT
    assert grew(after, "webhooks_attempt_duration_seconds_bucket", le="+Inf") == 9
    assert grew(after, "webhooks_attempt_duration_seconds_bucket", le="5.0") == 9

    # And the outbox gauges say nothing is due
    assert value(after, "webhooks_outbox_up") == 1
    for state in ("answering", "failing"):
        assert value(after, "webhooks_outbox_due", endpoint=state) == 0
        assert value(after, "webhooks_outbox_oldest_due_seconds", endpoint=state) == 0
    assert value(after, "webhooks_endpoints_disabled") == 0


def test_a_worker_that_stops_keeps_its_counts_and_drops_its_gauges(
    receiver: Receiver, celery_worker: StartProcess, organization: Organization
) -> None:
    # Given a worker sending to an endpoint that takes 3 seconds to answer
    worker = celery_worker(**TWO_QUICK_ATTEMPTS)
    endpoint_at(receiver, "/slow", organization)
    receiver.behave("/slow", hang(3))
    before = scrape()
    worker_pid = worker.pid

    # When a delivery is on its way: the attempt in flight is counted while it waits
    LocationFactory.create(organization=organization)
    receiver.wait_for(1, path="/slow")
    waiting = scrape_until(lambda samples: value(samples, "webhooks_attempts_in_flight") == 1, timeout=2)
    assert value(waiting, "webhooks_attempts_in_flight") == 1
    succeeded = value(before, "webhooks_deliveries_total", outcome="succeeded") + 1
    done = scrape_until(
        lambda samples: value(samples, "webhooks_deliveries_total", outcome="succeeded") == succeeded
    )
    assert value(done, "webhooks_attempts_in_flight") == 0
    assert f"gauge_livesum_{worker_pid}.db" in process_files(worker_pid)

    # When the worker stops (a warm shutdown, as a deploy does it)
    worker.stop()

    # Then its gauge file is gone, its counters stay, and /metrics still counts its success
    assert worker_pid is not None and not _alive(worker_pid)
    assert process_files(worker_pid) == {f"counter_{worker_pid}.db", f"histogram_{worker_pid}.db"}
    after = scrape()
    assert value(after, "webhooks_deliveries_total", outcome="succeeded") == succeeded
    assert value(after, "webhooks_attempts_in_flight") == 0


def test_a_killed_worker_s_gauges_go_at_the_next_scrape(
    receiver: Receiver, celery_worker: StartProcess, organization: Organization
) -> None:
    # Given a worker waiting for an endpoint's answer
    worker = celery_worker(**TWO_QUICK_ATTEMPTS)
    endpoint_at(receiver, "/stuck", organization)
    receiver.behave("/stuck", hang(4))
    worker_pid = worker.pid
    LocationFactory.create(organization=organization)
    receiver.wait_for(1, path="/stuck")
    waiting = scrape_until(lambda samples: value(samples, "webhooks_attempts_in_flight") == 1, timeout=2)
    assert value(waiting, "webhooks_attempts_in_flight") == 1

    # When it is killed mid-send (SIGKILL, as the out-of-memory killer does): no hook of its runs
    worker.kill()
    assert f"gauge_livesum_{worker_pid}.db" in process_files(worker_pid)

    # Then the next scrape no longer counts its attempt in flight, and keeps its counters
    after = scrape()
    assert value(after, "webhooks_attempts_in_flight") == 0
    assert process_files(worker_pid) == {f"counter_{worker_pid}.db", f"histogram_{worker_pid}.db"}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
