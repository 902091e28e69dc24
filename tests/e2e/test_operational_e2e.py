"""Operational events through a real worker, a real broker and the verifying receiver.

A watcher subscribed to the "Webhook operations" types hears of a webhook's registration, then of
its failing, of its delivery given up on and of its disabling: signed, in the order they happened,
each keeping to the schema the API publishes. The dying webhook hears none of that news about itself.
"""

import time
from typing import Any

import pytest
from rest_framework.test import APIClient

from organizations.models import Organization
from tests.e2e.conftest import StartProcess
from tests.e2e.receiver import Receiver, RecordedRequest, ok, sequence, status
from tests.e2e.test_schemas_e2e import schema_problems
from tests.factories import LocationFactory
from webhooks.catalog.types import OPERATIONAL
from webhooks.models import Delivery, DeliveryStatus

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NEWS = sorted(OPERATIONAL)


def subscribe(api: APIClient, receiver: Receiver, path: str, events: list[str]) -> dict[str, Any]:
    response = api.post("/api/v1/webhooks", {"url": receiver.url(path), "events": events}, format="json")
    assert response.status_code == 201, response.content
    webhook: dict[str, Any] = response.json()
    receiver.expect_secrets(path, [webhook["secret"]])
    return webhook


def about(webhook_id: str) -> Any:
    def matches(request: RecordedRequest) -> bool:
        data = request.json["data"]
        return bool(data.get("webhook") == webhook_id or data.get("id") == webhook_id)

    return matches


def test_a_watcher_hears_of_a_dying_webhook_through_a_real_worker(
    receiver: Receiver, celery_worker: StartProcess, organization: Organization, api: APIClient
) -> None:
    # Given a worker that retries once, warns at the first failure and disables at the second
    celery_worker(
        WEBHOOKS_RETRY_SCHEDULE="0,0.2",
        WEBHOOKS_SWEEP_INTERVAL="1",
        WEBHOOKS_WARN_AFTER="0",
        WEBHOOKS_WARN_MIN_FAILURES="1",
        WEBHOOKS_DISABLE_AFTER="0",
        WEBHOOKS_DISABLE_MIN_FAILURES="2",
    )
    # And a watcher of the operational types, registered through the API
    watcher = subscribe(api, receiver, "/ops", NEWS)

    # When a webhook of new locations (and of the news too) is registered, and heard of
    receiver.behave("/a", sequence([ok(), status(500)]))
    dying = subscribe(api, receiver, "/a", ["location.created", *NEWS])
    receiver.wait_for(1, path="/ops", predicate=about(dying["id"]))
    receiver.wait_for(1, path="/a")  # its own registration, answered 200

    # And its receiver fails every delivery from then on
    LocationFactory.create(organization=organization)

    # Then the watcher hears, in order: registered, failing, a delivery given up on, disabled
    heard = receiver.wait_for(4, path="/ops", timeout=60, predicate=about(dying["id"]))
    assert [r.json["type"] for r in heard] == [
        "webhook.created",
        "webhook.failing",
        "delivery.exhausted",
        "webhook.disabled",
    ]
    created, failing, exhausted, disabled = (r.json["data"] for r in heard)
    given_up = Delivery.objects.get(endpoint__public_id=dying["id"], event__type="location.created")
    assert given_up.status == DeliveryStatus.FAILED
    assert created["url"] == receiver.url("/a") and created["active"] is True
    assert failing["consecutiveFailures"] == 1 and failing["lastError"]["statusCode"] == 500
    assert exhausted["id"] == str(given_up.pk) and exhausted["event"]["type"] == "location.created"
    assert exhausted["attemptCount"] == 2 and exhausted["lastError"]["statusCode"] == 500
    assert disabled["active"] is False and "2 failed attempts in a row" in disabled["disabledReason"]
    assert disabled["lastError"]["statusCode"] == 500

    # Each signed with the watcher's secret, none carrying the dying one's, each keeping to its schema
    everything = receiver.requests("/ops")
    assert all(r.verified for r in everything)
    assert not [r for r in everything if dying["secret"] in r.body.decode()]
    assert [r.json["type"] for r in everything if r.json["data"].get("id") == watcher["id"]] == [
        "webhook.created"
    ]
    assert schema_problems(api, everything) == {}

    # And the dying webhook heard of its registration only, never of its own failure
    time.sleep(1)
    assert [r.json["type"] for r in receiver.requests("/a")] == [
        "webhook.created",
        "location.created",
        "location.created",
    ]
