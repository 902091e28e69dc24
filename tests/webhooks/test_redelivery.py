"""Resend, recover and test events, in this process, against a real receiver."""

from datetime import timedelta

import pytest
from django.utils import timezone

from organizations.models import Organization
from tests.e2e.receiver import Receiver, ok, sequence, status
from tests.factories import EndpointFactory, LocationFactory
from tests.pipeline import deliver_waiting, fan_out_waiting
from webhooks.catalog.types import SUBSCRIBABLE
from webhooks.delivery import sending as delivery
from webhooks.endpoints.redelivery import delivery_resend, endpoint_recover
from webhooks.endpoints.test_events import endpoint_send_test
from webhooks.models import Delivery, DeliveryStatus, Endpoint, Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(receiver: Receiver, organization: Organization) -> Endpoint:
    endpoint = EndpointFactory.create(organization=organization, url=receiver.url("/a"))
    receiver.expect_secrets("/a", [endpoint.secret])
    return endpoint


def test_resend_gives_a_failed_delivery_one_more_attempt(
    receiver: Receiver, endpoint: Endpoint, settings: object
) -> None:
    settings.WEBHOOKS_RETRY_SCHEDULE = [0]  # type: ignore[attr-defined]
    receiver.behave("/a", sequence([status(500), ok()]))
    LocationFactory.create(organization=endpoint.organization)
    deliver_waiting()
    failed = Delivery.objects.get(endpoint=endpoint)
    assert failed.status == DeliveryStatus.FAILED

    delivery_resend(delivery=failed)
    deliver_waiting()

    failed.refresh_from_db()
    assert (failed.status, failed.attempt_count) == (DeliveryStatus.SUCCEEDED, 2)
    first, second = receiver.requests("/a")
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert second.verified


def test_recover_resends_failed_and_skipped_since_a_moment(receiver: Receiver, endpoint: Endpoint) -> None:
    organization = endpoint.organization
    LocationFactory.create(organization=organization)
    old = LocationFactory.create(organization=organization)
    fan_out_waiting()
    Delivery.objects.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    Delivery.objects.filter(event__data___id=old.public_id).update(
        created_at=timezone.now() - timedelta(days=2)
    )
    Endpoint.objects.filter(pk=endpoint.pk).update(active=False)
    LocationFactory.create(organization=organization)
    fan_out_waiting()  # fanned out while the endpoint is disabled: recorded as skipped
    Endpoint.objects.filter(pk=endpoint.pk).update(active=True)
    endpoint.refresh_from_db()

    recovered = endpoint_recover(endpoint=endpoint, since=timezone.now() - timedelta(hours=1))
    deliver_waiting()

    assert recovered == 2
    receiver.wait_for(2, path="/a")
    assert len(receiver.requests("/a")) == 2
    assert Delivery.objects.filter(status=DeliveryStatus.FAILED).count() == 1  # the old one stays


@pytest.mark.parametrize("type_name", sorted(SUBSCRIBABLE))
def test_a_test_event_of_any_type_is_signed_and_marked(
    receiver: Receiver, endpoint: Endpoint, type_name: str
) -> None:
    before = Event.objects.count()

    sent = endpoint_send_test(endpoint=endpoint, type_name=type_name)
    delivery.deliveries_send(delivery_ids=[sent.pk])

    [request] = receiver.wait_for(1, path="/a")
    assert request.verified
    assert request.headers["edrv-test"] == "true"
    assert request.headers["webhook-id"].startswith("test_")
    assert (request.json.get("type") or request.json.get("event")) == type_name
    assert request.json["data"]
    assert Event.objects.count() == before + 1  # the example rows raised nothing that survived
