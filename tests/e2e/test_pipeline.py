"""The event pipeline end to end: real worker, real broker, real receiver that checks signatures."""

import time
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from chargestations.models import Chargestation
from organizations.models import Organization
from tests.e2e.conftest import StartProcess
from tests.e2e.receiver import Receiver, hang, ok, sequence, status
from tests.e2e.smtp import SmtpServer
from tests.factories import (
    ChargestationFactory,
    ConnectorFactory,
    DriverFactory,
    EndpointFactory,
    IdTagFactory,
    LocationFactory,
    PriceComponentFactory,
    RateFactory,
    SessionFactory,
)
from webhooks.catalog.types import EVENT_TYPES, OPERATIONAL, SUBSCRIBABLE, Envelope
from webhooks.models import Delivery, DeliveryStatus, Endpoint, Event

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FAST = {"WEBHOOKS_RETRY_SCHEDULE": "0,1,1", "WEBHOOKS_SWEEP_INTERVAL": "1"}


def endpoint_at(receiver: Receiver, path: str, organization: Organization, **fields: Any) -> Endpoint:
    endpoint = EndpointFactory.create(organization=organization, url=receiver.url(path), **fields)
    receiver.expect_secrets(path, [endpoint.secret])
    return endpoint


def toggle(station: Chargestation) -> None:
    station.active = not station.active
    station.save()


def event_type(request: Any) -> str:
    return str(request.json.get("type") or request.json.get("event"))


def every_change(organization: Organization) -> None:
    """Changes that, between them, raise every event type of the network (all but the operational ones)."""
    organization.name = "Renamed"
    organization.save()
    location = LocationFactory.create(organization=organization)
    station = ChargestationFactory.create(location=location)
    connector = ConnectorFactory.create(chargestation=station, connector_number=1)
    for field, value in [("online", True), ("public", True), ("last_boot_at", timezone.now())]:
        setattr(station, field, value)
        station.save()
    connector.status = "Charging"
    connector.save()
    connector.power = 11
    connector.save()
    rate = RateFactory.create(organization=organization)
    PriceComponentFactory.create(rate=rate)
    driver = DriverFactory.create(organization=organization)
    IdTagFactory.create(driver=driver)
    session = SessionFactory.create(chargestation=station, connector=connector, driver=driver)
    for field, value in [
        ("status", "started"),
        ("transaction_id", 1),
        ("energy_report", {"power": 7000}),
        ("ev_charged_at", timezone.now()),
        ("ceilings", {"energy": 5000, "time": 3600, "cost": "10.00"}),
        ("energy_ceiling_exceeded_at", timezone.now()),
        ("time_ceiling_exceeded_at", timezone.now()),
        ("cost_ceiling_exceeded_at", timezone.now()),
        ("stop_failed_at", timezone.now()),
        ("status", "ended"),
    ]:
        setattr(session, field, value)
        session.save()
    for final in ("cancelled", "start_failed"):
        other = SessionFactory.create(chargestation=station, driver=driver)
        other.status = final
        other.save()
    station.online = False
    station.save()
    location.name = "Moved"
    location.save()
    connector.delete()
    station.sessions.all().delete()
    station.delete()
    location.delete()
    rate.delete()
    driver.delete()


def test_every_event_type_arrives_signed_in_its_envelope(
    receiver: Receiver, celery_worker: StartProcess, organization: Organization
) -> None:
    celery_worker(**FAST)
    endpoint_at(receiver, "/all", organization)

    every_change(organization)

    recorded = Event.objects.count()
    requests = receiver.wait_for(recorded, path="/all", timeout=60)
    assert {event_type(r) for r in requests} == SUBSCRIBABLE - OPERATIONAL  # every type of the network
    for request in requests:
        assert request.verified, request.summary()
        name = event_type(request)
        if EVENT_TYPES[name].envelope is Envelope.CHARGER:
            assert set(request.json) == {"event", "timestamp", "data"}
        else:
            assert set(request.json) == {"_id", "data", "object", "type", "createdAt"}
            assert request.json["object"] == EVENT_TYPES[name].object
            assert request.json["_id"] == request.headers["webhook-id"]
    assert len({r.headers["webhook-id"] for r in requests}) == recorded
    assert wait_until(lambda: not Delivery.objects.exclude(status=DeliveryStatus.SUCCEEDED).exists())


def test_a_rolled_back_change_sends_nothing(
    receiver: Receiver, celery_worker: StartProcess, organization: Organization
) -> None:
    celery_worker(**FAST)
    endpoint_at(receiver, "/a", organization)
    station = ChargestationFactory.create(location=LocationFactory.create(organization=organization))
    receiver.wait_for(2, path="/a")  # location.created, chargestation.created

    with pytest.raises(RuntimeError), transaction.atomic():
        for number in range(1, 101):
            ConnectorFactory.create(chargestation=station, connector_number=number)
        raise RuntimeError("rolled back")
    toggle(station)  # a marker that is committed

    receiver.wait_for(1, path="/a", predicate=lambda r: event_type(r) == "chargestation.updated")
    time.sleep(1)
    assert len(receiver.requests("/a")) == 3
    assert Event.objects.count() == 3


def test_retries_after_a_500_and_a_timeout_then_succeeds(
    receiver: Receiver, celery_worker: StartProcess, organization: Organization
) -> None:
    celery_worker(WEBHOOKS_TIMEOUT="1", **FAST)
    endpoint = endpoint_at(receiver, "/a", organization)
    receiver.behave("/a", sequence([status(500), hang(3), ok()]))

    LocationFactory.create(organization=organization)

    first, second, third = receiver.wait_for(3, path="/a", timeout=30)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == third.headers["webhook-id"]
    assert third.received_at - first.received_at >= 1.5
    done = Delivery.objects.get(endpoint=endpoint)
    assert wait_until(lambda: Delivery.objects.get(pk=done.pk).status == DeliveryStatus.SUCCEEDED)
    errors = list(done.attempts.order_by("id").values_list("status_code", "error"))
    assert errors[0] == (500, "") and errors[1][0] is None and "timeout" in errors[1][1]


def test_retry_after_is_honoured_by_the_worker(
    receiver: Receiver, celery_worker: StartProcess, organization: Organization
) -> None:
    celery_worker(**FAST)
    endpoint_at(receiver, "/a", organization)
    receiver.behave("/a", sequence([status(503, headers={"Retry-After": "3"}), ok()]))

    LocationFactory.create(organization=organization)

    first, second = receiver.wait_for(2, path="/a", timeout=30)
    assert second.received_at - first.received_at >= 2.9


def test_410_disables_the_endpoint(
    receiver: Receiver, celery_worker: StartProcess, organization: Organization
) -> None:
    celery_worker(**FAST)
    endpoint = endpoint_at(receiver, "/gone", organization)
    receiver.behave("/gone", status(410))

    LocationFactory.create(organization=organization)
    receiver.wait_for(1, path="/gone")

    assert wait_until(lambda: not Endpoint.objects.get(pk=endpoint.pk).active)
    LocationFactory.create(organization=organization)
    time.sleep(1.5)
    assert len(receiver.requests("/gone")) == 1
    assert Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.SKIPPED).count() == 1


def test_auto_disable_sends_exactly_one_alert_email(
    receiver: Receiver,
    celery_worker: StartProcess,
    celery_beat: StartProcess,
    smtp_server: SmtpServer,
    organization: Organization,
) -> None:
    env = {
        **FAST,
        "WEBHOOKS_RETRY_SCHEDULE": "0,0.2,0.2,0.2,0.2",
        "WEBHOOKS_DISABLE_AFTER": "0",
        "WEBHOOKS_DISABLE_MIN_FAILURES": "4",
        "EMAIL_URL": smtp_server.url,
    }
    celery_worker(**env)
    celery_beat(**env)
    endpoint = endpoint_at(receiver, "/down", organization, alert_emails=["oncall@example.com"])
    receiver.behave("/down", status(500))

    for _ in range(3):
        LocationFactory.create(organization=organization)

    assert wait_until(lambda: not Endpoint.objects.get(pk=endpoint.pk).active, timeout=30)
    [message] = smtp_server.wait_for(1, timeout=15)
    time.sleep(2)
    assert len(smtp_server.messages()) == 1
    assert "disabled" in message.subject
    assert set(message.to) == {organization.email, "oncall@example.com"}


def test_broker_down_at_commit_is_delivered_by_the_sweeper(
    receiver: Receiver,
    celery_worker: StartProcess,
    celery_beat: StartProcess,
    broker_proxy: Any,
    organization: Organization,
) -> None:
    endpoint_at(receiver, "/a", organization)
    broker_proxy.pause()
    started = time.monotonic()
    LocationFactory.create(organization=organization)  # the change commits; publishing fails
    assert time.monotonic() - started < 5
    assert Event.objects.filter(fanned_out=False).count() == 1  # waiting in the outbox for the sweeper

    broker_proxy.resume()
    celery_worker(**FAST)
    celery_beat(**FAST)

    [request] = receiver.wait_for(1, path="/a", timeout=30)
    assert request.verified and event_type(request) == "location.created"


def test_a_worker_killed_mid_batch_delivers_after_restart(
    receiver: Receiver, celery_worker: StartProcess, celery_beat: StartProcess, organization: Organization
) -> None:
    env = {**FAST, "WEBHOOKS_TIMEOUT": "2", "WEBHOOKS_BATCH_SIZE": "4", "WEBHOOKS_CONCURRENCY": "4"}
    worker = celery_worker(**env)
    endpoint_at(receiver, "/slow", organization)
    receiver.behave("/slow", sequence([hang(30), ok()]))

    LocationFactory.create(organization=organization)
    receiver.wait_for(1, path="/slow")  # the worker is now waiting on the receiver
    worker.kill()
    worker.start()
    celery_beat(**env)

    first, second = receiver.wait_for(2, path="/slow", timeout=60)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert wait_until(lambda: Delivery.objects.get().status == DeliveryStatus.SUCCEEDED)


def test_a_dead_endpoint_does_not_delay_healthy_ones(
    receiver: Receiver, celery_worker: StartProcess, organization: Organization
) -> None:
    celery_worker(WEBHOOKS_TIMEOUT="5", **FAST)
    endpoint_at(receiver, "/dead", organization)
    receiver.behave("/dead", hang(10))
    endpoint_at(receiver, "/healthy", organization)

    started = time.time()
    for _ in range(3):
        LocationFactory.create(organization=organization)

    healthy = receiver.wait_for(3, path="/healthy", timeout=20)
    assert max(r.received_at for r in healthy) - started < 3


def test_events_of_one_chargestation_arrive_in_order(
    receiver: Receiver, celery_worker: StartProcess, organization: Organization
) -> None:
    celery_worker(**FAST)
    station = ChargestationFactory.create(location=LocationFactory.create(organization=organization))
    endpoint_at(receiver, "/fifo", organization, events=["chargestation.updated"])
    receiver.behave("/fifo", sequence([status(500), ok()]))

    for _ in range(10):
        toggle(station)

    requests = receiver.wait_for(11, path="/fifo", timeout=30)
    ids = [r.headers["webhook-id"] for r in requests]
    expected = list(
        Event.objects.filter(type="chargestation.updated").order_by("id").values_list("public_id", flat=True)
    )
    assert ids == [expected[0], *expected]


def wait_until(condition: Any, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return bool(condition())


def test_a_rate_limited_endpoint_is_paced_by_the_workers(
    receiver: Receiver, celery_worker: StartProcess, celery_beat: StartProcess, organization: Organization
) -> None:
    celery_worker(**FAST)
    celery_beat(**FAST)
    endpoint_at(receiver, "/paced", organization, rate_limit=3)

    for _ in range(9):
        LocationFactory.create(organization=organization)

    requests = receiver.wait_for(9, path="/paced", timeout=30)
    times = sorted(r.received_at for r in requests)
    assert all(request.verified for request in requests)
    # At most 3 starts in any one second: 9 deliveries span at least two seconds.
    assert times[-1] - times[0] >= 1.9
    assert max(sum(1 for t in times if start <= t < start + 1) for start in times) <= 3
