"""Resend, recover, test events and secret rotation, called through the API and observed at a real
receiver, sent by a real Celery worker over a real broker."""

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from organizations.models import Organization
from tests.e2e.conftest import StartProcess
from tests.e2e.receiver import Receiver, ok, sequence, status
from tests.factories import LocationFactory
from webhooks.models import Endpoint

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# One attempt per delivery (no retries): what the API then does is all the receiver sees.
ONE_ATTEMPT = {"WEBHOOKS_RETRY_SCHEDULE": "0", "WEBHOOKS_SWEEP_INTERVAL": "1"}


def register(api: APIClient, receiver: Receiver, path: str, **fields: Any) -> dict[str, Any]:
    body = {"url": receiver.url(path), "events": ["location.created", "location.updated"], **fields}
    response = api.post("/api/v1/webhooks", body, format="json")
    assert response.status_code == 201, response.json()
    return dict(response.json())


def wait_until(condition: Callable[[], bool], timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def wait_for_delivery(
    api: APIClient, delivery_id: str, done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The delivery as the API shows it, once `done` holds (or as it is after 20 s)."""
    wait_until(lambda: done(api.get(f"/api/v1/deliveries/{delivery_id}").json()))
    return dict(api.get(f"/api/v1/deliveries/{delivery_id}").json())


def deliveries(api: APIClient, webhook_id: str, **filters: str) -> list[dict[str, Any]]:
    query = "&".join(f"{name}={value}" for name, value in filters.items())
    return list(api.get(f"/api/v1/webhooks/{webhook_id}/deliveries?{query}").json()["deliveries"])


def test_resend_sends_a_failed_delivery_again(
    api: APIClient, receiver: Receiver, celery_worker: StartProcess, organization: Organization
) -> None:
    celery_worker(**ONE_ATTEMPT)
    webhook = register(api, receiver, "/resend")
    receiver.expect_secrets("/resend", [webhook["secret"]])
    receiver.behave("/resend", sequence([status(500, body="down"), ok()]))
    LocationFactory.create(organization=organization)
    [first] = receiver.wait_for(1, path="/resend")
    [delivery] = deliveries(api, webhook["id"])
    failed = wait_for_delivery(api, delivery["id"], lambda d: d["status"] == "failed")
    assert (failed["attemptCount"], failed["lastStatusCode"]) == (1, 500)

    response = api.post(f"/api/v1/deliveries/{delivery['id']}/resend")

    assert response.status_code == 202
    _, second = receiver.wait_for(2, path="/resend")
    assert second.verified, second.summary()
    assert second.headers["webhook-id"] == first.headers["webhook-id"] == failed["event"]["id"]
    assert second.body == first.body
    done = wait_for_delivery(api, delivery["id"], lambda d: d["status"] == "succeeded")
    assert (done["status"], done["attemptCount"], done["lastStatusCode"]) == ("succeeded", 2, 200)
    assert [(a["statusCode"], a["succeeded"], a["responseExcerpt"]) for a in done["attempts"]] == [
        (200, True, ""),
        (500, False, "down"),
    ]


def test_recover_sends_again_what_failed_and_was_skipped_since_the_moment(
    api: APIClient, receiver: Receiver, celery_worker: StartProcess, organization: Organization
) -> None:
    celery_worker(**ONE_ATTEMPT)
    webhook = register(api, receiver, "/recover")
    receiver.expect_secrets("/recover", [webhook["secret"]])
    receiver.behave("/recover", sequence([status(503), ok()]))
    location = LocationFactory.create(organization=organization)  # sent: fails
    receiver.wait_for(1, path="/recover")
    [sent] = deliveries(api, webhook["id"])
    wait_for_delivery(api, sent["id"], lambda d: d["status"] == "failed")  # recorded, not only received
    api.patch(f"/api/v1/webhooks/{webhook['id']}", {"active": False}, format="json")
    location.name = "Renamed while disabled"
    location.save()  # not sent: skipped, once the worker has fanned it out
    assert wait_until(
        lambda: sorted(d["status"] for d in deliveries(api, webhook["id"])) == ["failed", "skipped"]
    )
    api.patch(f"/api/v1/webhooks/{webhook['id']}", {"active": True}, format="json")

    since = (timezone.now() - timedelta(minutes=5)).isoformat()
    response = api.post(f"/api/v1/webhooks/{webhook['id']}/recover", {"since": since}, format="json")

    assert (response.status_code, response.json()) == (202, {"recovered": 2})
    requests = receiver.wait_for(3, path="/recover")
    assert all(r.verified for r in requests), [r.summary() for r in requests]
    assert sorted(r.json["type"] for r in requests[1:]) == ["location.created", "location.updated"]
    assert wait_until(lambda: len(deliveries(api, webhook["id"], status="succeeded")) == 2)


def test_a_test_event_arrives_signed_and_marked_as_a_test(
    api: APIClient, receiver: Receiver, celery_worker: StartProcess
) -> None:
    celery_worker(**ONE_ATTEMPT)
    webhook = register(api, receiver, "/test")
    receiver.expect_secrets("/test", [webhook["secret"]])

    response = api.post(f"/api/v1/webhooks/{webhook['id']}/test", {"type": "session.started"}, format="json")

    assert response.status_code == 202
    [request] = receiver.wait_for(1, path="/test")
    assert request.verified, request.summary()
    assert request.headers["edrv-test"] == "true"
    assert request.headers["webhook-id"] == request.json["_id"] == response.json()["event"]["id"]
    assert (request.json["type"], request.json["object"]) == ("session.started", "session")
    assert request.json["data"]["status"] == "started"
    done = wait_for_delivery(api, response.json()["id"], lambda d: d["status"] == "succeeded")
    assert done["attemptCount"] == 1
    event = api.get(f"/api/v1/events/{response.json()['event']['id']}").json()
    assert (event["test"], event["data"]) == (True, request.json["data"])


def test_after_rotation_both_secrets_sign_until_the_grace_ends_then_only_the_new_one(
    api: APIClient, receiver: Receiver, celery_worker: StartProcess, organization: Organization
) -> None:
    celery_worker(**ONE_ATTEMPT)
    webhook = register(api, receiver, "/rotate")
    old = webhook["secret"]

    rotated = api.post(f"/api/v1/webhooks/{webhook['id']}/rotate-secret").json()
    new = rotated["secret"]
    receiver.expect_secrets("/rotate", [old, new])
    location = LocationFactory.create(organization=organization)

    [during] = receiver.wait_for(1, path="/rotate")
    assert set(during.matched_secrets) == {old, new}, during.summary()
    assert len(during.headers["webhook-signature"].split()) == 2
    assert api.get(f"/api/v1/webhooks/{webhook['id']}/secret").json() == {"secret": new}

    Endpoint.objects.filter(public_id=webhook["id"]).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    location.name = "After the grace period"
    location.save()

    _, after = receiver.wait_for(2, path="/rotate")
    assert after.matched_secrets == (new,), after.summary()
    assert len(after.headers["webhook-signature"].split()) == 1
    assert after.json["data"]["name"] == "After the grace period"
