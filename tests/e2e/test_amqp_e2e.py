"""RabbitMQ endpoints end to end: a real worker publishes what model changes raise to the RabbitMQ of
127.0.0.1 (tests/rabbitmq.py), signed, persistent and in order per chargestation; a missing exchange
and a refused broker are failed attempts, retried as for HTTP."""

import time
from collections.abc import Callable, Iterator

import pytest
from standardwebhooks import Webhook

from chargestations.models import Chargestation
from organizations.models import Organization
from tests.e2e.broker import free_port
from tests.e2e.conftest import StartProcess
from tests.factories import ChargestationFactory, LocationFactory
from tests.rabbitmq import RabbitQueue, rabbit_queue, rabbitmq_connection, rabbitmq_missing
from webhooks.endpoints.services import endpoint_create
from webhooks.models import Attempt, Delivery, DeliveryStatus, Endpoint, Event

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FAST = {"WEBHOOKS_RETRY_SCHEDULE": "0,1,1", "WEBHOOKS_SWEEP_INTERVAL": "1"}


@pytest.fixture
def rabbit() -> Iterator[RabbitQueue]:
    try:
        rabbitmq_connection().close()
    except OSError:
        rabbitmq_missing()
    with rabbit_queue(declared=False) as queue:
        yield queue


def wait_until(condition: Callable[[], bool], timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def toggle(station: Chargestation) -> None:
    station.active = not station.active
    station.save()


def station_of(organization: Organization) -> Chargestation:
    return ChargestationFactory.create(location=LocationFactory.create(organization=organization))


def test_changes_arrive_in_the_queue_signed_persistent_and_in_order(
    celery_worker: StartProcess, rabbit: RabbitQueue, organization: Organization
) -> None:
    # Given a worker, and an endpoint that is an exchange with a queue bound to it
    rabbit.declare()
    celery_worker(**FAST)
    endpoint = endpoint_create(organization=organization, url=rabbit.url(), events=["chargestation.updated"])
    station = station_of(organization)
    # When the station changes ten times
    for _ in range(10):
        toggle(station)
    # Then ten messages arrive, in the order of the changes, each verifying with the endpoint's secret
    messages = rabbit.wait_for(10, timeout=30)
    expected = list(
        Event.objects.filter(type="chargestation.updated").order_by("id").values_list("public_id", flat=True)
    )
    assert [m.properties["message_id"] for m in messages] == expected
    for message in messages:
        headers = message.properties["application_headers"]
        assert Webhook(endpoint.secret).verify(message.body, headers)["type"] == "chargestation.updated"
        assert headers["webhook-id"] == message.properties["message_id"]
        assert message.properties["delivery_mode"] == 2
        assert message.delivery_info["routing_key"] == "chargestation.updated"
    assert wait_until(lambda: not Delivery.objects.exclude(status=DeliveryStatus.SUCCEEDED).exists())
    assert set(Attempt.objects.values_list("status_code", "error")) == {(200, "")}


def test_a_missing_exchange_is_retried_and_the_chargestation_order_kept(
    celery_worker: StartProcess, rabbit: RabbitQueue, organization: Organization
) -> None:
    # Given an endpoint whose exchange does not exist yet
    celery_worker(WEBHOOKS_RETRY_SCHEDULE="0,2,2,2,2,2,2", WEBHOOKS_SWEEP_INTERVAL="1")
    endpoint_create(organization=organization, url=rabbit.url(), events=["chargestation.updated"])
    station = station_of(organization)
    # When the station changes five times
    for _ in range(5):
        toggle(station)
    # Then the first publish fails, saying the exchange is missing, and the later ones wait behind it
    assert wait_until(lambda: Attempt.objects.exists())
    first = Attempt.objects.get()
    assert (first.status_code, first.error) == (404, f"exchange not found: {rabbit.exchange!r} in vhost '/'")
    # And once the exchange exists, the retry and everything after it arrive, in order
    rabbit.declare()
    messages = rabbit.wait_for(5, timeout=30)
    expected = list(
        Event.objects.filter(type="chargestation.updated").order_by("id").values_list("public_id", flat=True)
    )
    assert [m.properties["message_id"] for m in messages] == expected
    assert wait_until(lambda: Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 5)
    assert Endpoint.objects.get().consecutive_failures == 0


def test_a_refused_broker_is_retried_then_the_delivery_fails(
    celery_worker: StartProcess, organization: Organization
) -> None:
    # Given an endpoint whose broker refuses connections (nothing listens on its port)
    celery_worker(**FAST)
    url = f"amqp://guest:guest@127.0.0.1:{free_port()}/?exchange=events"
    endpoint = endpoint_create(organization=organization, url=url, events=["location.created"])
    # When an event is raised
    LocationFactory.create(organization=organization)
    # Then every attempt of the schedule fails as refused, and the delivery is failed
    assert wait_until(lambda: Delivery.objects.filter(status=DeliveryStatus.FAILED).exists())
    attempts = list(Attempt.objects.order_by("id").values_list("status_code", "error"))
    assert attempts == [(None, "connection refused")] * 3
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 3 and endpoint.active
