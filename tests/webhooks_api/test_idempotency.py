"""`Idempotency-Key`: a repeat gets the first answer and does nothing; another request with the key is 422."""

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from organizations.models import Organization
from tests.factories import EndpointFactory, LocationFactory
from tests.pipeline import fan_out_waiting
from webhooks.models import Delivery, DeliveryStatus, Endpoint, Event, IdempotencyRecord

pytestmark = pytest.mark.django_db

BODY = {"url": "https://93.184.215.14/edrv", "events": ["session.started"]}
REUSED = {
    "detail": "This Idempotency-Key was already used with a different request. "
    "Use a new key for a new request."
}


def post(api: APIClient, path: str, body: dict[str, Any] | None, key: str | None) -> Any:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return api.post(path, body, format="json", headers=headers)


def test_a_repeated_create_returns_the_first_answer_and_creates_once(api: APIClient) -> None:
    first = post(api, "/api/v1/webhooks", BODY, "key-1")

    again = post(api, "/api/v1/webhooks", BODY, "key-1")

    assert (again.status_code, again.json()) == (first.status_code, first.json()) == (201, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert Endpoint.objects.count() == 1


def test_the_same_body_written_differently_is_the_same_request(api: APIClient) -> None:
    first = post(api, "/api/v1/webhooks", BODY, "key-1")

    again = api.post(
        "/api/v1/webhooks/",
        '{"events": ["session.started"],   "url": "https://93.184.215.14/edrv"}',
        content_type="application/json",
        headers={"Idempotency-Key": "key-1"},
    )

    assert again.json() == first.json()
    assert Endpoint.objects.count() == 1


def test_the_same_key_with_another_request_is_a_422(api: APIClient) -> None:
    post(api, "/api/v1/webhooks", BODY, "key-1")

    other_body = post(api, "/api/v1/webhooks", {**BODY, "description": "other"}, "key-1")
    endpoint = Endpoint.objects.get()
    other_route = post(api, f"/api/v1/webhooks/{endpoint.public_id}/rotate-secret", {}, "key-1")

    assert (other_body.status_code, other_body.json()) == (422, REUSED)
    assert (other_route.status_code, other_route.json()) == (422, REUSED)
    assert Endpoint.objects.get().secret == endpoint.secret


def test_without_a_key_every_request_is_new(api: APIClient) -> None:
    post(api, "/api/v1/webhooks", BODY, None)
    post(api, "/api/v1/webhooks", BODY, None)

    assert Endpoint.objects.count() == 2
    assert not IdempotencyRecord.objects.exists()


def test_other_keys_are_other_requests(api: APIClient) -> None:
    post(api, "/api/v1/webhooks", BODY, "key-1")
    post(api, "/api/v1/webhooks", BODY, "key-2")

    assert Endpoint.objects.count() == 2


def test_keys_belong_to_one_organization(api: APIClient, other_api: APIClient) -> None:
    mine = post(api, "/api/v1/webhooks", BODY, "shared-key")
    theirs = post(other_api, "/api/v1/webhooks", BODY, "shared-key")

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]


def test_a_refused_request_is_not_remembered_so_the_corrected_one_goes_through(api: APIClient) -> None:
    refused = post(api, "/api/v1/webhooks", {**BODY, "events": []}, "key-1")

    corrected = post(api, "/api/v1/webhooks", BODY, "key-1")

    assert (refused.status_code, corrected.status_code) == (400, 201)
    assert Endpoint.objects.count() == 1


def test_a_key_is_forgotten_after_24_hours(api: APIClient) -> None:
    post(api, "/api/v1/webhooks", BODY, "key-1")
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=24, seconds=1))

    later = post(api, "/api/v1/webhooks", {**BODY, "description": "a day later"}, "key-1")

    assert later.status_code == 201
    assert Endpoint.objects.count() == 2


@pytest.mark.parametrize("key", ["", "   ", "k" * 256])
def test_an_empty_or_overlong_key_is_a_400(api: APIClient, key: str) -> None:
    response = post(api, "/api/v1/webhooks", BODY, key)

    assert (response.status_code, response.json()) == (400, {"Idempotency-Key": ["Use 1 to 255 characters."]})
    assert not Endpoint.objects.exists()


def test_a_repeated_test_event_is_sent_once(api: APIClient, organization: Organization) -> None:
    endpoint = EndpointFactory.create(organization=organization)
    path = f"/api/v1/webhooks/{endpoint.public_id}/test"

    first = post(api, path, {"type": "rate.created"}, "test-1")
    again = post(api, path, {"type": "rate.created"}, "test-1")

    assert (again.status_code, again.json()) == (202, first.json())
    assert Event.objects.filter(is_test=True).count() == 1


def test_a_repeated_rotation_rotates_once(api: APIClient, organization: Organization) -> None:
    endpoint = EndpointFactory.create(organization=organization)
    original = endpoint.secret
    path = f"/api/v1/webhooks/{endpoint.public_id}/rotate-secret"

    first = post(api, path, {}, "rotate-1")
    again = post(api, path, {}, "rotate-1")

    assert (again.status_code, again.json()) == (200, first.json())
    endpoint.refresh_from_db()
    assert (endpoint.secret, endpoint.previous_secret) == (first.json()["secret"], original)


def test_a_repeated_resend_and_recover_answer_the_same(api: APIClient, organization: Organization) -> None:
    endpoint = EndpointFactory.create(organization=organization)
    LocationFactory.create(organization=organization)
    fan_out_waiting()  # a worker writes its delivery
    Delivery.objects.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    delivery = Delivery.objects.get()
    recover = f"/api/v1/webhooks/{endpoint.public_id}/recover"
    since = {"since": "2020-01-01T00:00:00Z"}

    recovered = post(api, recover, since, "recover-1")
    Delivery.objects.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    recovered_again = post(api, recover, since, "recover-1")
    resent = post(api, f"/api/v1/deliveries/{delivery.pk}/resend", None, "resend-1")
    Delivery.objects.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    resent_again = post(api, f"/api/v1/deliveries/{delivery.pk}/resend", None, "resend-1")

    assert recovered.json() == recovered_again.json() == {"recovered": 1}
    assert (resent_again.status_code, resent_again.json()) == (202, resent.json())
    assert Delivery.objects.get().status == DeliveryStatus.FAILED  # neither repeat did anything


@pytest.mark.django_db(transaction=True)
def test_concurrent_twins_create_once_and_answer_alike(
    organization: Organization, client_for: Callable[[Organization], APIClient]
) -> None:
    clients = [client_for(organization) for _ in range(6)]
    start = threading.Barrier(len(clients))
    answers: list[tuple[int, Any]] = []

    def send(client: APIClient) -> None:
        try:
            start.wait()
            response = post(client, "/api/v1/webhooks", BODY, "twin")
            answers.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert len(answers) == len(clients)
    assert {status for status, _ in answers} == {201}
    assert len({body["id"] for _, body in answers}) == 1
    assert Endpoint.objects.count() == 1
