"""The safety net: what the sweeper enqueues, and what the purge removes."""

from datetime import timedelta

import pytest
from django.utils import timezone
from pytest_django.fixtures import Settings

from organizations.models import Organization
from tests.factories import EndpointFactory, LocationFactory
from webhooks.delivery import sweeper
from webhooks.models import Attempt, Delivery, Event, IdempotencyRecord

pytestmark = pytest.mark.django_db


def test_the_sweeper_finds_due_deliveries_nobody_holds(organization: Organization) -> None:
    EndpointFactory.create(organization=organization)
    LocationFactory.create(organization=organization)
    LocationFactory.create(organization=organization)
    LocationFactory.create(organization=organization)  # committed a moment ago: left to its own task
    held, _due, fresh = Delivery.objects.order_by("id")
    Delivery.objects.filter(pk=held.pk).update(claimed_until=timezone.now() + timedelta(minutes=1))
    Delivery.objects.exclude(pk=fresh.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=1))

    assert sweeper.deliveries_sweep() == 1


def test_the_purge_removes_old_events_attempts_and_idempotency_records(
    organization: Organization, settings: Settings
) -> None:
    settings.WEBHOOKS_RETENTION_DAYS = 30
    EndpointFactory.create(organization=organization)
    old, recent = (
        LocationFactory.create(organization=organization),
        LocationFactory.create(organization=organization),
    )
    long_ago = timezone.now() - timedelta(days=31)
    old_event = Event.objects.get(data___id=old.public_id)
    Event.objects.filter(pk=old_event.pk).update(created_at=long_ago)
    for delivery in Delivery.objects.all():
        Attempt.objects.create(delivery=delivery, created_at=delivery.created_at)
    Attempt.objects.filter(delivery__event=old_event).update(created_at=long_ago)
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
