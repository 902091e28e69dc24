"""Deliveries and attempts; resend, recover and test events as the API answers them.

What reaches a receiver through a real worker is in test_e2e.py.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from edrv_project.times import utc_timestamp
from organizations.models import Organization
from tests.factories import EndpointFactory, LocationFactory
from tests.pipeline import fan_out_waiting
from tests.webhooks_api.matchers import DELIVERY_ID, TEST_EVENT_ID, TIMESTAMP
from webhooks.models import Attempt, Delivery, DeliveryStatus, Endpoint, Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(organization: Organization) -> Endpoint:
    return EndpointFactory.create(organization=organization)


def deliveries_of(endpoint: Endpoint, count: int) -> list[Delivery]:
    for _ in range(count):
        LocationFactory.create(organization=endpoint.organization)
    fan_out_waiting()  # a worker writes their deliveries
    return list(Delivery.objects.filter(endpoint=endpoint).select_related("event").order_by("id"))


def attempt_on(
    delivery: Delivery, *, status_code: int | None, error: str = "", seconds_ago: int = 0
) -> Attempt:
    ok = status_code is not None and 200 <= status_code < 300
    attempt = Attempt.objects.create(
        delivery=delivery,
        created_at=timezone.now() - timedelta(seconds=seconds_ago),
        duration_ms=42,
        status_code=status_code,
        response_excerpt="" if status_code is None else f"answer {status_code}",
        error=error,
        succeeded=ok,
    )
    Delivery.objects.filter(pk=delivery.pk).update(
        attempt_count=delivery.attempts.count(),
        last_attempt_at=attempt.created_at,
        last_status_code=status_code,
        status=DeliveryStatus.SUCCEEDED if ok else DeliveryStatus.FAILED,
        next_attempt_at=None,
    )
    return attempt


def test_a_webhooks_deliveries_newest_first(api: APIClient, endpoint: Endpoint) -> None:
    first, second = deliveries_of(endpoint, 2)
    Delivery.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(minutes=1))
    first.refresh_from_db()
    attempt_on(first, status_code=500, seconds_ago=30)

    response = api.get(f"/api/v1/webhooks/{endpoint.public_id}/deliveries")

    assert response.status_code == 200
    assert response.json() == {
        "deliveries": [
            {
                "id": str(second.pk),
                "webhook": endpoint.public_id,
                "event": {"id": second.event.public_id, "type": "location.created"},
                "status": "pending",
                "attemptCount": 0,
                "nextAttemptAt": TIMESTAMP,
                "lastAttemptAt": None,
                "lastStatusCode": None,
                "createdAt": TIMESTAMP,
            },
            {
                "id": str(first.pk),
                "webhook": endpoint.public_id,
                "event": {"id": first.event.public_id, "type": "location.created"},
                "status": "failed",
                "attemptCount": 1,
                "nextAttemptAt": None,
                "lastAttemptAt": TIMESTAMP,
                "lastStatusCode": 500,
                "createdAt": utc_timestamp(first.created_at),
            },
        ],
        "count": 2,
        "next": None,
        "previous": None,
    }


def test_deliveries_filter_by_status_and_event_type(api: APIClient, endpoint: Endpoint) -> None:
    failed, pending = deliveries_of(endpoint, 2)
    attempt_on(failed, status_code=500)
    endpoint.organization.name = "Renamed"
    endpoint.organization.save()
    fan_out_waiting()
    path = f"/api/v1/webhooks/{endpoint.public_id}/deliveries"

    by_status = api.get(f"{path}?status=failed").json()["deliveries"]
    by_type = api.get(f"{path}?event_type=organization.updated").json()["deliveries"]
    both = api.get(f"{path}?status=pending&event_type=location.created").json()["deliveries"]

    assert [d["id"] for d in by_status] == [str(failed.pk)]
    assert [d["event"]["type"] for d in by_type] == ["organization.updated"]
    assert [d["id"] for d in both] == [str(pending.pk)]


def test_an_unknown_status_filter_is_a_400_listing_the_valid_ones(api: APIClient, endpoint: Endpoint) -> None:
    response = api.get(f"/api/v1/webhooks/{endpoint.public_id}/deliveries?status=lost")

    assert response.status_code == 400
    assert list(response.json()) == ["status"]


def test_a_delivery_shows_its_attempts_newest_first(api: APIClient, endpoint: Endpoint) -> None:
    [delivery] = deliveries_of(endpoint, 1)
    attempt_on(delivery, status_code=None, error="timed out after 5.0 s", seconds_ago=10)
    attempt_on(delivery, status_code=200)

    response = api.get(f"/api/v1/deliveries/{delivery.pk}")

    assert response.status_code == 200
    assert response.json() == {
        "id": str(delivery.pk),
        "webhook": endpoint.public_id,
        "event": {"id": delivery.event.public_id, "type": "location.created"},
        "status": "succeeded",
        "attemptCount": 2,
        "nextAttemptAt": None,
        "lastAttemptAt": TIMESTAMP,
        "lastStatusCode": 200,
        "createdAt": TIMESTAMP,
        "attempts": [
            {
                "createdAt": TIMESTAMP,
                "statusCode": 200,
                "durationMs": 42,
                "responseExcerpt": "answer 200",
                "error": "",
                "succeeded": True,
            },
            {
                "createdAt": TIMESTAMP,
                "statusCode": None,
                "durationMs": 42,
                "responseExcerpt": "",
                "error": "timed out after 5.0 s",
                "succeeded": False,
            },
        ],
    }


def queries_for(api: APIClient, path: str) -> int:
    api.get(path)  # the key's first use of the minute writes its last_used_at: not what is measured
    with CaptureQueriesContext(connection) as captured:
        assert api.get(path).status_code == 200
    return len(captured)


def test_listing_deliveries_costs_the_same_queries_for_one_or_many(
    api: APIClient, endpoint: Endpoint
) -> None:
    path = f"/api/v1/webhooks/{endpoint.public_id}/deliveries"
    deliveries_of(endpoint, 1)
    one = queries_for(api, path)

    for delivery in deliveries_of(endpoint, 9):
        attempt_on(delivery, status_code=500)
    many = queries_for(api, path)

    assert many == one
    assert one <= 4  # the API key, the webhook, the count, the page (deliveries with events and webhook)


def test_a_delivery_with_many_attempts_costs_the_same_queries(api: APIClient, endpoint: Endpoint) -> None:
    [delivery] = deliveries_of(endpoint, 1)
    attempt_on(delivery, status_code=500)
    one = queries_for(api, f"/api/v1/deliveries/{delivery.pk}")

    for seconds in range(10):
        attempt_on(delivery, status_code=503, seconds_ago=seconds)
    many = queries_for(api, f"/api/v1/deliveries/{delivery.pk}")

    assert many == one
    assert one <= 3  # the API key, the delivery with its event and webhook, its attempts


def test_listing_webhooks_and_events_costs_the_same_queries_for_one_or_many(
    api: APIClient, organization: Organization
) -> None:
    endpoint = EndpointFactory.create(organization=organization)
    deliveries_of(endpoint, 1)
    one = (queries_for(api, "/api/v1/webhooks"), queries_for(api, "/api/v1/events"))

    for _ in range(5):
        EndpointFactory.create(organization=organization)
    deliveries_of(endpoint, 5)
    many = (queries_for(api, "/api/v1/webhooks"), queries_for(api, "/api/v1/events"))

    assert many == one


def test_resend_answers_202_with_the_delivery_due_now(api: APIClient, endpoint: Endpoint) -> None:
    [delivery] = deliveries_of(endpoint, 1)
    attempt_on(delivery, status_code=500)

    response = api.post(f"/api/v1/deliveries/{delivery.pk}/resend")

    assert response.status_code == 202
    assert response.json() | {"attempts": []} == {
        "id": str(delivery.pk),
        "webhook": endpoint.public_id,
        "event": {"id": delivery.event.public_id, "type": "location.created"},
        "status": "pending",
        "attemptCount": 1,
        "nextAttemptAt": TIMESTAMP,
        "lastAttemptAt": TIMESTAMP,
        "lastStatusCode": 500,
        "createdAt": TIMESTAMP,
        "attempts": [],
    }
    assert len(response.json()["attempts"]) == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.next_attempt_at is not None and delivery.next_attempt_at <= timezone.now()


def test_recover_answers_how_many_were_queued_again(api: APIClient, endpoint: Endpoint) -> None:
    failed, skipped, old = deliveries_of(endpoint, 3)
    attempt_on(failed, status_code=500)
    Delivery.objects.filter(pk=skipped.pk).update(status=DeliveryStatus.SKIPPED, next_attempt_at=None)
    attempt_on(old, status_code=500)
    Delivery.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
    since = (timezone.now() - timedelta(days=1)).isoformat()

    response = api.post(f"/api/v1/webhooks/{endpoint.public_id}/recover", {"since": since}, format="json")

    assert (response.status_code, response.json()) == (202, {"recovered": 2})
    statuses = dict(Delivery.objects.values_list("pk", "status"))
    assert statuses == {
        failed.pk: DeliveryStatus.PENDING,
        skipped.pk: DeliveryStatus.PENDING,
        old.pk: DeliveryStatus.FAILED,
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "This field is required."),
        (
            {"since": "yesterday"},
            "Datetime has wrong format. Use one of these formats instead: "
            "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].",
        ),
        ({"since": "2999-01-01T00:00:00Z"}, "Must not be in the future."),
    ],
)
def test_recover_refuses_a_missing_malformed_or_future_date(
    api: APIClient, endpoint: Endpoint, body: dict[str, str], message: str
) -> None:
    response = api.post(f"/api/v1/webhooks/{endpoint.public_id}/recover", body, format="json")

    assert (response.status_code, response.json()) == (400, {"since": [message]})


def test_a_test_event_answers_202_with_its_delivery(api: APIClient, endpoint: Endpoint) -> None:
    response = api.post(
        f"/api/v1/webhooks/{endpoint.public_id}/test", {"type": "session.started"}, format="json"
    )

    assert response.status_code == 202
    assert response.json() == {
        "id": DELIVERY_ID,
        "webhook": endpoint.public_id,
        "event": {"id": TEST_EVENT_ID, "type": "session.started"},
        "status": "pending",
        "attemptCount": 0,
        "nextAttemptAt": TIMESTAMP,
        "lastAttemptAt": None,
        "lastStatusCode": None,
        "createdAt": TIMESTAMP,
        "attempts": [],
    }
    event = Event.objects.get(public_id=response.json()["event"]["id"])
    assert event.is_test
    assert list(Delivery.objects.filter(event=event).values_list("endpoint", flat=True)) == [endpoint.pk]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "This field is required."),
        (
            {"type": "session.exploded"},
            '"session.exploded" is not an event type. The valid ones are listed at GET /api/v1/event-types.',
        ),
        (
            {"type": "session.stop_duration_ceiling_exceeded"},
            '"session.stop_duration_ceiling_exceeded" is not an event type. The valid ones are listed at '
            "GET /api/v1/event-types.",
        ),
    ],
)
def test_a_test_event_of_an_unknown_type_is_a_400(
    api: APIClient, endpoint: Endpoint, body: dict[str, str], message: str
) -> None:
    response = api.post(f"/api/v1/webhooks/{endpoint.public_id}/test", body, format="json")

    assert (response.status_code, response.json()) == (400, {"type": [message]})
    assert not Event.objects.exists()


@pytest.mark.parametrize("route", ["test", "recover", "resend"])
def test_sending_to_a_disabled_webhook_is_a_409_that_says_to_re_enable_it(
    api: APIClient, endpoint: Endpoint, route: str
) -> None:
    [delivery] = deliveries_of(endpoint, 1)
    api.patch(f"/api/v1/webhooks/{endpoint.public_id}", {"active": False}, format="json")
    before = list(Delivery.objects.values())
    path, body = {
        "test": (f"/api/v1/webhooks/{endpoint.public_id}/test", {"type": "location.created"}),
        "recover": (f"/api/v1/webhooks/{endpoint.public_id}/recover", {"since": "2020-01-01T00:00:00Z"}),
        "resend": (f"/api/v1/deliveries/{delivery.pk}/resend", None),
    }[route]

    response = api.post(path, body, format="json")

    assert (response.status_code, response.json()) == (
        409,
        {"detail": 'This webhook is disabled: re-enable it first (PATCH {"active": true}).'},
    )
    assert list(Delivery.objects.values()) == before
