"""Fencing: a worker that outlived its lease can neither record an outcome nor send.

Worker A claims a delivery and stalls past its lease; worker B claims it again (a new token),
sends it and records the outcome. When A comes back, what it tries to record changes nothing: no
attempt counted twice, no state moved back, no chain released out of turn.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from chargestations.models import Chargestation
from organizations.models import Organization
from tests.e2e.receiver import Receiver
from tests.factories import ChargestationFactory, EndpointFactory, LocationFactory
from tests.pipeline import fan_out_waiting
from webhooks.delivery import claims, sending
from webhooks.delivery.health import endpoint_disable
from webhooks.delivery.http import HttpResult
from webhooks.delivery.outcomes import Outcome, outcomes_record
from webhooks.models import Attempt, Delivery, DeliveryStatus

pytestmark = pytest.mark.django_db

OK = HttpResult(status_code=200, body_excerpt="", error="", duration_ms=3)
FAILED = HttpResult(status_code=500, body_excerpt="down", error="", duration_ms=3)


def lease_runs_out() -> None:
    Delivery.objects.update(claimed_until=timezone.now() - timedelta(seconds=1))


@pytest.fixture
def station(organization: Organization) -> Chargestation:
    return ChargestationFactory.create(location=LocationFactory.create(organization=organization))


def test_a_stale_worker_cannot_record_over_the_worker_that_took_over(organization: Organization) -> None:
    EndpointFactory.create(organization=organization)
    LocationFactory.create(organization=organization)
    fan_out_waiting()
    lease_runs_out()
    [stale] = claims.deliveries_claim()  # worker A
    lease_runs_out()
    [fresh] = claims.deliveries_claim()  # worker B: a new token
    assert fresh.claim_token != stale.claim_token

    outcomes_record([Outcome(delivery=fresh, result=OK, attempted_at=1.0)])
    outcomes_record([Outcome(delivery=stale, result=FAILED, attempted_at=2.0)])

    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.attempt_count == 1
    assert list(Attempt.objects.values_list("status_code", flat=True)) == [200]


def test_a_stale_worker_cannot_release_a_chain_out_of_turn(
    organization: Organization, station: Chargestation
) -> None:
    EndpointFactory.create(organization=organization, events=["chargestation.updated"])
    for public in (True, False):
        station.public = public
        station.save()
    fan_out_waiting()
    lease_runs_out()
    [stale] = claims.deliveries_claim()  # the chain's head, worker A
    lease_runs_out()
    [fresh] = claims.deliveries_claim()  # worker B
    outcomes_record([Outcome(delivery=fresh, result=FAILED, attempted_at=1.0)])  # retried later

    outcomes_record([Outcome(delivery=stale, result=OK, attempted_at=2.0)])  # A's late success

    head, follower = Delivery.objects.order_by("id")
    assert head.status == DeliveryStatus.PENDING  # still waiting for its retry, as B recorded
    assert head.attempt_count == 1
    Delivery.objects.filter(pk=head.pk).update(next_attempt_at=timezone.now() + timedelta(minutes=5))
    assert claims.deliveries_claim() == []  # the follower still waits behind its head
    assert follower.status == DeliveryStatus.PENDING


def test_a_worker_whose_lease_ran_out_does_not_send(organization: Organization, receiver: Receiver) -> None:
    endpoint = EndpointFactory.create(organization=organization, url=receiver.url("/late"))
    receiver.expect_secrets("/late", [endpoint.secret])
    LocationFactory.create(organization=organization)
    fanned_out = sending.fanout.events_fan_out(limit=10)
    [delivery] = fanned_out.claimed
    delivery.claimed_until = timezone.now()  # A stalled until its lease was all but over

    assert sending._send_and_follow([delivery]) == 0

    assert receiver.wait_for(0, path="/late", timeout=0.5) == []
    assert not Attempt.objects.exists()
    assert Delivery.objects.get().status == DeliveryStatus.PENDING


def test_a_worker_cannot_record_over_a_disable_that_skipped_its_delivery(organization: Organization) -> None:
    endpoint = EndpointFactory.create(organization=organization)
    LocationFactory.create(organization=organization)
    [held] = sending.fanout.events_fan_out(limit=10).claimed  # a worker holds it, sending
    endpoint_disable(endpoint_id=endpoint.pk, reason="Paused by hand.")

    outcomes_record([Outcome(delivery=held, result=OK, attempted_at=1.0)])

    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.SKIPPED
    assert delivery.attempt_count == 0 and not Attempt.objects.exists()


def test_a_stale_worker_cannot_release_or_skip_what_another_worker_took_over(
    organization: Organization,
) -> None:
    # Given two deliveries claimed by worker A, one of which worker B has claimed again since
    EndpointFactory.create(organization=organization)
    EndpointFactory.create(organization=organization)
    LocationFactory.create(organization=organization)
    fan_out_waiting()
    lease_runs_out()
    kept, lost = claims.deliveries_claim()  # worker A, one token for both
    Delivery.objects.filter(pk=lost.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    [fresh] = claims.deliveries_claim(ids=[lost.pk])  # worker B

    # When A releases both (held back behind a probe), then skips both (endpoint disabled)
    outcomes_record([], released=[kept, lost])
    released = Delivery.objects.get(pk=kept.pk)
    outcomes_record([], skipped=[kept, lost])

    # Then only A's own delivery moved: B's keeps B's lease, pending
    assert (released.status, released.claimed_until) == (DeliveryStatus.PENDING, None)
    assert Delivery.objects.get(pk=kept.pk).status == DeliveryStatus.SKIPPED
    taken = Delivery.objects.get(pk=lost.pk)
    assert (taken.status, taken.claim_token) == (DeliveryStatus.PENDING, fresh.claim_token)
    assert taken.claimed_until is not None and taken.claimed_until > timezone.now()
