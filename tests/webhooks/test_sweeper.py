"""The safety net: what the sweeper hands out again, and what the purge removes (never what is
still pending)."""

import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY
from pytest_django.fixtures import Settings

from edrv_project.celery import app
from organizations.models import Organization
from tests.e2e.broker import filesystem_broker, publishing_to
from tests.e2e.receiver import Receiver
from tests.factories import EndpointFactory, LocationFactory
from tests.pipeline import deliver_waiting, fan_out_waiting
from webhooks.delivery import queue, sending, sweeper
from webhooks.models import Attempt, Delivery, DeliveryStatus, Endpoint, Event, IdempotencyRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    with publishing_to(app, filesystem_broker(tmp_path / "broker")):
        yield tmp_path / "broker"


def drains(folder: Path) -> list[tuple[str, str]]:
    """(task name, queue) of each task waiting in the folder broker."""
    found = []
    for message in folder.glob("*.msg"):
        payload = json.loads(message.read_text())
        assert json.loads(base64.b64decode(payload["body"]))[0] == [None]  # a drain carries no ids
        found.append((payload["headers"]["task"], payload["properties"]["delivery_info"]["routing_key"]))
    return sorted(found)


def long_ago(rows: object, seconds: int = 60) -> None:
    rows.update(created_at=timezone.now() - timedelta(seconds=seconds))  # type: ignore[attr-defined]


def test_an_event_whose_hint_was_lost_is_handed_out_and_then_delivered(
    organization: Organization, folder: Path, receiver: Receiver, settings: Settings
) -> None:
    endpoint = EndpointFactory.create(organization=organization, url=receiver.url("/lost"))
    receiver.expect_secrets("/lost", [endpoint.secret])
    long_ago(Endpoint.objects.all(), seconds=120)
    lost = LocationFactory.create(organization=organization)  # its hint never reached a worker
    long_ago(Event.objects.filter(data___id=lost.public_id))
    LocationFactory.create(organization=organization)  # committed a moment ago: left to its own task

    assert sweeper.outbox_sweep() == (1, 0)
    assert drains(folder) == [(queue.FAN_OUT, settings.WEBHOOKS_BACKLOG_QUEUE)]

    sending.events_drain(seconds=5)  # a drain takes whatever waits, the fresh one too
    requests = receiver.wait_for(2, path="/lost")
    assert lost.public_id in [r.json["data"]["_id"] for r in requests]
    assert all(r.verified for r in requests)


def test_the_sweeper_finds_due_deliveries_nobody_holds(organization: Organization, folder: Path) -> None:
    EndpointFactory.create(organization=organization)
    for _ in range(3):
        LocationFactory.create(organization=organization)
    fan_out_waiting()
    held, due, fresh = Delivery.objects.order_by("id")
    Delivery.objects.filter(pk=held.pk).update(claimed_until=timezone.now() + timedelta(minutes=1))
    Delivery.objects.filter(pk=due.pk).update(
        claimed_until=None, next_attempt_at=timezone.now() - timedelta(minutes=1)
    )
    Delivery.objects.filter(pk=fresh.pk).update(claimed_until=None, next_attempt_at=timezone.now())

    assert sweeper.outbox_sweep() == (0, 1)
    assert [task for task, _ in drains(folder)] == [queue.SEND]


def test_a_backlog_costs_the_broker_a_few_drains_not_a_message_per_row(
    organization: Organization, folder: Path, settings: Settings
) -> None:
    settings.WEBHOOKS_BATCH_SIZE = 2
    EndpointFactory.create(organization=organization)
    for _ in range(50):
        LocationFactory.create(organization=organization)
    long_ago(Event.objects.all())

    assert sweeper.outbox_sweep() == (sweeper.MAX_DRAINS, 0)
    assert len(drains(folder)) == sweeper.MAX_DRAINS


def expired_count() -> float:
    return REGISTRY.get_sample_value("webhooks_deliveries_total", {"outcome": "expired"}) or 0.0


def test_the_purge_removes_old_events_attempts_and_idempotency_records(
    organization: Organization, settings: Settings, receiver: Receiver
) -> None:
    settings.WEBHOOKS_RETENTION_DAYS = 30
    endpoint = EndpointFactory.create(organization=organization, url=receiver.url("/p"))
    receiver.expect_secrets("/p", [endpoint.secret])
    old, recent = (
        LocationFactory.create(organization=organization),
        LocationFactory.create(organization=organization),
    )
    deliver_waiting()
    long_ago_enough = timezone.now() - timedelta(days=31)
    old_event = Event.objects.get(data___id=old.public_id)
    Event.objects.filter(pk=old_event.pk).update(created_at=long_ago_enough)
    Attempt.objects.filter(delivery__event=old_event).update(created_at=long_ago_enough)
    stale = IdempotencyRecord.objects.create(
        organization=organization, key="k1", request_fingerprint="x", status_code=201, response={}
    )
    IdempotencyRecord.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(hours=25))
    IdempotencyRecord.objects.create(
        organization=organization, key="k2", request_fingerprint="x", status_code=201, response={}
    )

    sweeper.outbox_purge()

    assert list(Event.objects.values_list("data___id", flat=True)) == [recent.public_id]
    assert Attempt.objects.count() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["k2"]


def test_the_purge_never_deletes_a_pending_delivery_it_expires_it_and_counts_it(
    organization: Organization, settings: Settings, django_capture_on_commit_callbacks: Any
) -> None:
    settings.WEBHOOKS_RETENTION_DAYS = 30
    EndpointFactory.create(organization=organization)
    LocationFactory.create(organization=organization)
    fan_out_waiting()
    Event.objects.update(created_at=timezone.now() - timedelta(days=31))
    counted = expired_count()

    with django_capture_on_commit_callbacks(execute=True):
        sweeper.outbox_purge()

    delivery = Delivery.objects.get()  # still there, and says what became of it
    assert delivery.status == DeliveryStatus.EXPIRED
    assert delivery.next_attempt_at is None
    assert expired_count() == counted + 1

    Event.objects.update(created_at=timezone.now() - timedelta(days=61))
    sweeper.outbox_purge()  # after another retention period, it goes
    assert not Delivery.objects.exists()
    assert expired_count() == counted + 1


def test_the_purge_keeps_an_event_no_worker_has_fanned_out(
    organization: Organization, settings: Settings
) -> None:
    settings.WEBHOOKS_RETENTION_DAYS = 30
    EndpointFactory.create(organization=organization)
    LocationFactory.create(organization=organization)
    Event.objects.update(created_at=timezone.now() - timedelta(days=31))

    sweeper.outbox_purge()

    assert Event.objects.filter(fanned_out=False).count() == 1
