"""Scenario 2 of `make faults`, small: the broker loses every queued task under load.

The outbox is the truth, not the queue: deliveries whose tasks vanished stay due in the
database and the beat sweeper hands them out again. The API keeps accepting changes while
Redis is down (its throttle lets requests through when the cache cannot be reached). A worker
holding a task rides out a Redis restart (edrv_project/broker.py works around a kombu 5.7.0 defect).
"""

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from bench.faults import ledger
from bench.faults.load import ServiceLoad, Window
from bench.faults.servers import RedisServer
from bench.faults.supervisor import Supervisor
from bench.faults.tally import Tally
from bench.faults.targets import target_new
from chargestations.services import location_create
from edrv_project.celery import app
from organizations.models import Organization, Plan
from tests.e2e.broker import Broker, publishing_to, redis_broker
from tests.e2e.receiver import Receiver, Reply, hang, ok
from tests.factories import EndpointFactory, OrganizationFactory
from tests.faults.conftest import Start
from webhooks.models import Event

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Slower than the load, so that tasks pile up on the broker.
SLOW = Reply(200, delay=0.1)


def _queued(broker: Broker, redis: RedisServer | None) -> int:
    if redis is not None:
        return int(redis.client().llen("celery"))
    return len(list(Path(broker.transport_options["data_folder_in"]).glob("*.msg")))


def _empty(broker: Broker, redis: RedisServer | None) -> None:
    """Redis restarts with nothing (no persistence); a folder broker loses every message file."""
    if redis is not None:
        redis.restart(empty=True)
        return
    for message in Path(broker.transport_options["data_folder_in"]).glob("*.msg"):
        message.unlink(missing_ok=True)


@pytest.mark.parametrize("broker", ["redis", "folder"], indirect=True)
def test_a_broker_that_loses_every_queued_task_under_load_loses_no_event(
    request: pytest.FixtureRequest, broker: Broker, start: Start, receiver: Receiver, tally: Tally
) -> None:
    # Given a slow endpoint, one single-threaded worker (so tasks pile up on the broker) and beat
    redis = request.getfixturevalue("private_redis") if broker.is_redis else None
    target = target_new(receiver=receiver, tally=tally, name="s2", plan=SLOW, stations=2)
    worker = start("worker", concurrency=1)
    beat = start("beat")
    # A crashed worker comes back as under systemd or Kubernetes would bring it back.
    supervisor = Supervisor(lambda: [worker, beat]).start()

    # When changes commit at 20/s for 3 s and, halfway, the broker loses everything it holds. The
    # worker is paused for a second before, so that tasks are certainly waiting on the broker.
    load = ServiceLoad(
        organization_id=target.organization_id, rate=20, count=60, prefix="s2", station_ids=target.station_ids
    ).start()
    time.sleep(0.5)
    worker.pause()
    time.sleep(1.0)
    fault = Window()
    fault.open()
    queued = _queued(broker, redis)
    _empty(broker, redis)
    fault.close()
    worker.resume()
    load.join(30)

    # Then every committed event reaches the endpoint, and nothing else does
    drained = ledger.drain_wait(endpoint_id=target.endpoint_id, tally=tally, path=target.path, timeout=60)
    supervisor.stop()
    row = ledger.row_count(
        scenario="2",
        endpoint_id=target.endpoint_id,
        organization_id=target.organization_id,
        tally=tally,
        path=target.path,
        fault=fault,
    )
    # The fault must hit (tasks were waiting on the broker when it lost them) and nothing go astray.
    assert (queued > 0, drained, row.lost, row.invented) == (True, True, 0, 0), (queued, row)
    assert row.committed >= 60


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_a_worker_rides_out_a_redis_restart_while_it_holds_a_task(
    broker: Broker, private_redis: RedisServer, start: Start, receiver: Receiver, tally: Tally
) -> None:
    # Given a worker in the middle of a delivery that the endpoint takes 3 s to answer
    target = target_new(receiver=receiver, tally=tally, name="busy", plan=hang(3), stations=0)
    worker = start("worker", WEBHOOKS_TIMEOUT="5")
    start("beat", WEBHOOKS_TIMEOUT="5")
    organization = Organization.objects.get(pk=target.organization_id)
    location_create(organization=organization, name="Held")
    receiver.wait_for(2, path=target.path, timeout=30)  # the stations' location, then "Held"

    # When Redis restarts meanwhile
    private_redis.restart(empty=True)
    time.sleep(4)

    # Then the same worker is still there, and delivers a later change without being restarted
    assert worker.running, worker.log_text()[-3000:]
    receiver.behave(target.path, ok())
    location_create(organization=organization, name="After")
    receiver.wait_for(1, path=target.path, timeout=30, predicate=lambda r: b'"After"' in r.body)


def test_the_api_accepts_a_change_while_redis_is_down(
    private_redis: RedisServer, client_for: Callable[[Organization], APIClient]
) -> None:
    # Given an organization with an endpoint, and the API's cache and broker on a Redis that went down
    organization = OrganizationFactory.create(plan=Plan.PRO)
    EndpointFactory.create(organization=organization, events=["location.created"])
    client = client_for(organization)
    client.raise_request_exception = False
    private_redis.stop()
    cache = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": private_redis.url}
    }

    # When a location is created through the API
    with override_settings(CACHES=cache), publishing_to(app, redis_broker(private_redis.url)):
        response = client.post("/api/v1/locations", {"name": "Depot"}, format="json")

    # Then it is created, and its event waits in the outbox for the sweeper
    assert response.status_code == 201, response.content[:300]
    event = Event.objects.get(organization=organization, type="location.created")
    assert not event.fanned_out
