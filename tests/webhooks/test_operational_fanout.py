"""Where operational events go: like any event (types, filters, scopes, order), except that news of a
webhook's health never goes to that webhook, and news about deliveries of news is never raised.

Deliveries run in this process against a real HTTP receiver on 127.0.0.1 (tests/pipeline.py).
"""

from typing import Any

import pytest
from django.utils import timezone

from chargestations.models import Chargestation
from organizations.models import Organization
from tests.e2e.receiver import Receiver, ok, sequence, status
from tests.factories import LocationFactory
from tests.pipeline import deliver_waiting, fan_out_waiting
from webhooks.catalog.types import OPERATIONAL
from webhooks.delivery.operational import deliveries_exhausted_record, webhook_event_record
from webhooks.endpoints.services import DISABLED_BY_USER, endpoint_create, endpoint_disable, endpoint_update
from webhooks.endpoints.test_events import endpoint_send_test
from webhooks.models import Attempt, Delivery, DeliveryStatus, Endpoint, Event

pytestmark = pytest.mark.django_db

NEWS = sorted(OPERATIONAL)


def register(organization: Organization, receiver: Receiver, path: str, **fields: Any) -> Endpoint:
    """A webhook registered through the services (so that it raises webhook.created), at `path`."""
    given: dict[str, Any] = {"events": NEWS, **fields}
    endpoint = endpoint_create(organization=organization, url=receiver.url(path), **given)
    receiver.expect_secrets(path, [endpoint.secret])
    return endpoint


def reached(about: Endpoint) -> set[tuple[str, str]]:
    """(event type, endpoint url path) of every delivery of the news about `about`."""
    return {
        (d.event.type, d.endpoint.url.rsplit("/", 1)[-1])
        for d in Delivery.objects.select_related("event", "endpoint").filter(
            event__type__in=OPERATIONAL, event__ordering_key=about.public_id
        )
    }


def until_quiet() -> None:
    """Worker turns until nothing is left to send (retries are due at once)."""
    for _ in range(20):
        if not deliver_waiting():
            return
    raise AssertionError("still sending after 20 turns")


def test_each_webhook_hears_of_itself_only_as_created_and_updated(
    organization: Organization, receiver: Receiver
) -> None:
    # Given two webhooks subscribed to every operational type, the first also to new locations
    other = register(organization, receiver, "/other")
    watched = register(organization, receiver, "/watched", events=[*NEWS, "location.created"])
    LocationFactory.create(organization=organization)
    fan_out_waiting()
    sent = Delivery.objects.select_related("event", "endpoint").get(
        endpoint=watched, event__type="location.created"
    )

    # When every kind of news about the second one is raised
    endpoint_update(endpoint=watched, description="Billing")
    webhook_event_record(type_name="webhook.failing", endpoint=watched)
    failed = Attempt(created_at=timezone.now(), status_code=500, duration_ms=3, error="", succeeded=False)
    deliveries_exhausted_record([(sent, failed)])
    webhook_event_record(type_name="webhook.recovered", endpoint=watched)
    endpoint_disable(endpoint_id=watched.pk, reason=DISABLED_BY_USER)
    fan_out_waiting()

    # Then it hears of its registration and its change; the news of its health goes to the other alone
    assert reached(watched) == {
        ("webhook.created", "watched"),
        ("webhook.created", "other"),
        ("webhook.updated", "watched"),
        ("webhook.updated", "other"),
        ("webhook.failing", "other"),
        ("delivery.exhausted", "other"),
        ("webhook.recovered", "other"),
        ("webhook.disabled", "other"),
    }
    assert reached(other) == {("webhook.created", "other")}  # the watched one was registered later


def test_a_dying_webhooks_news_reaches_the_other_signed_and_never_itself(
    organization: Organization, receiver: Receiver, station: Chargestation
) -> None:
    # Given a watcher of the operational types, and a webhook of everything that will answer 410
    watcher = register(organization, receiver, "/ops")
    until_quiet()  # its own registration is heard of first
    dying = register(organization, receiver, "/a", events=[*NEWS, "chargestation.updated"])
    receiver.behave("/a", sequence([ok(), status(410)]))
    until_quiet()  # so is the other's

    # When an event reaches the dying one
    station.active = not station.active
    station.save()
    until_quiet()

    # Then the watcher hears of it, signed, in order; the dying one heard of its own registration only
    given_up = Delivery.objects.get(endpoint=dying, event__type="chargestation.updated")
    heard = [(r.json["type"], r.json["data"]) for r in receiver.requests("/ops")]
    assert [(name, data.get("webhook") or data["id"]) for name, data in heard] == [
        ("webhook.created", watcher.public_id),
        ("webhook.created", dying.public_id),
        ("delivery.exhausted", dying.public_id),
        ("webhook.disabled", dying.public_id),
    ]
    assert heard[2][1]["id"] == str(given_up.pk) and heard[3][1]["lastError"]["statusCode"] == 410
    assert all(r.verified for r in receiver.requests("/ops"))
    assert [r.json["type"] for r in receiver.requests("/a")] == ["webhook.created", "chargestation.updated"]


def test_no_delivery_exhausted_about_news_so_two_failing_watchers_never_loop(
    organization: Organization, receiver: Receiver, station: Chargestation, settings: Any
) -> None:
    # Given two webhooks of the network and of the news, both failing, with a single attempt each
    settings.WEBHOOKS_RETRY_SCHEDULE = [0]
    first = register(organization, receiver, "/x", events=[*NEWS, "chargestation.updated"])
    second = register(organization, receiver, "/y", events=[*NEWS, "chargestation.updated"])
    receiver.behave("/x", status(500))
    receiver.behave("/y", status(500))

    # When an event of the network fails at both, and so does a test event
    station.active = not station.active
    station.save()
    endpoint_send_test(endpoint=first, type_name="session.started")
    until_quiet()

    # Then each given-up delivery of the network's event is news, to the other one; the failed
    # deliveries of that news, and of the test, are not
    exhausted = list(Event.objects.filter(type="delivery.exhausted").order_by("id"))
    assert sorted(e.data["webhook"] for e in exhausted) == sorted([first.public_id, second.public_id])
    assert {e.data["event"]["type"] for e in exhausted} == {"chargestation.updated"}
    failed_news = Delivery.objects.filter(event__type="delivery.exhausted", status=DeliveryStatus.FAILED)
    assert sorted(failed_news.values_list("endpoint__url", flat=True)) == [
        receiver.url("/x"),
        receiver.url("/y"),
    ]


def test_network_scopes_let_the_news_through_and_content_filters_narrow_it(
    organization: Organization, receiver: Receiver
) -> None:
    # Given a webhook scoped to one location, and one that filters on the webhook's url
    location = LocationFactory.create(organization=organization)
    scoped = register(organization, receiver, "/scoped", locations=[location.public_id])
    billing_only = register(
        organization, receiver, "/filtered", filter={"data": {"url": {"$endsWith": "/billing"}}}
    )

    # When two more webhooks are registered
    register(organization, receiver, "/billing", events=["session.started"])
    register(organization, receiver, "/crm", events=["session.started"])
    fan_out_waiting()

    # Then the scoped one hears of both (news is about no place); the filtered one, of the matching one
    def heard(endpoint: Endpoint) -> list[str]:
        events = Event.objects.filter(deliveries__endpoint=endpoint, type="webhook.created").order_by("id")
        return [e.data["url"].rsplit("/", 1)[-1] for e in events]

    assert heard(scoped) == ["scoped", "filtered", "billing", "crm"]
    assert heard(billing_only) == ["billing"]


def test_news_about_one_webhook_reaches_a_watcher_in_order(
    organization: Organization, receiver: Receiver
) -> None:
    # Given a watcher of changes whose first answer is a 500
    register(organization, receiver, "/ops", events=["webhook.updated"])
    receiver.behave("/ops", sequence([status(500)] + [status(200)] * 5))
    watched = register(organization, receiver, "/watched", events=["session.started"])

    # When one webhook changes three times
    for description in ("one", "two", "three"):
        endpoint_update(endpoint=watched, description=description)
    deliver_waiting()  # the first change fails: the two behind it wait for its retry
    assert len(receiver.requests("/ops")) == 1
    Delivery.objects.filter(status=DeliveryStatus.PENDING).update(next_attempt_at=timezone.now())
    deliver_waiting()

    # Then they arrive in the order they happened
    assert [r.json["data"]["description"] for r in receiver.requests("/ops")] == [
        "one",
        "one",
        "two",
        "three",
    ]
