"""v1a (ed25519) webhooks end to end: registered and changed through the API, sent by a real Celery
worker over a real broker, verified by a real receiver with the public key the API showed."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from organizations.models import Organization
from tests.e2e.conftest import StartProcess
from tests.e2e.receiver import Receiver, ok, sequence, status
from tests.factories import LocationFactory
from tests.webhooks_api.test_e2e import ONE_ATTEMPT, deliveries, register, wait_for_delivery, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def v1a_verified(request: Any, *public_keys: str) -> bool:
    return set(request.matched_public_keys) == set(public_keys) and "edrv-signature" not in request.headers


def test_a_v1a_webhook_gets_changes_test_events_and_resends_signed_with_ed25519_only(
    api: APIClient, receiver: Receiver, celery_worker: StartProcess, organization: Organization
) -> None:
    # Given a worker and a v1a webhook whose receiver trusts the public key the API answered
    celery_worker(**ONE_ATTEMPT)
    webhook = register(api, receiver, "/v1a", signatureScheme="v1a")
    assert "secret" not in webhook
    receiver.expect_public_keys("/v1a", [webhook["publicKey"]])
    receiver.behave("/v1a", sequence([ok(), status(500, body="down"), ok()]))

    # When a change happens, then it arrives with a v1a signature the public key verifies, and no HMAC
    LocationFactory.create(organization=organization)
    [change] = receiver.wait_for(1, path="/v1a")
    assert v1a_verified(change, webhook["publicKey"]), change.summary()
    assert (
        change.headers["webhook-signature"].startswith("v1a,") and change.json["type"] == "location.created"
    )

    # When a test event is sent (its first attempt fails) and then resent
    sent = api.post(f"/api/v1/webhooks/{webhook['id']}/test", {"type": "session.started"}, format="json")
    assert sent.status_code == 202
    wait_for_delivery(api, sent.json()["id"], lambda d: d["status"] == "failed")
    assert api.post(f"/api/v1/deliveries/{sent.json()['id']}/resend").status_code == 202

    # Then both of its attempts are v1a-signed too, the same event each time
    _, failed, resent = receiver.wait_for(3, path="/v1a")
    for request in (failed, resent):
        assert v1a_verified(request, webhook["publicKey"]), request.summary()
        assert request.headers["edrv-test"] == "true"
    assert failed.headers["webhook-id"] == resent.headers["webhook-id"] == sent.json()["event"]["id"]
    done = wait_for_delivery(api, sent.json()["id"], lambda d: d["status"] == "succeeded")
    assert done["attemptCount"] == 2


def test_switching_to_v1a_and_rotating_through_the_api(
    api: APIClient, receiver: Receiver, celery_worker: StartProcess, organization: Organization
) -> None:
    # Given a worker and a v1 webhook, verified with its secret
    celery_worker(**ONE_ATTEMPT)
    webhook = register(api, receiver, "/switch")
    receiver.expect_secrets("/switch", [webhook["secret"]])
    location = LocationFactory.create(organization=organization)
    [before] = receiver.wait_for(1, path="/switch")
    assert before.verified and not before.verified_v1a, before.summary()

    # When it is switched to v1a, then the next change is signed by the new key alone
    switched = api.patch(
        f"/api/v1/webhooks/{webhook['id']}", {"signatureScheme": "v1a"}, format="json"
    ).json()
    receiver.expect_public_keys("/switch", [switched["publicKey"]])
    location.name = "Signed with ed25519"
    location.save()
    _, after = receiver.wait_for(2, path="/switch")
    assert v1a_verified(after, switched["publicKey"]) and not after.verified_standard, after.summary()

    # When its key pair is rotated, then both keys sign the next change
    rotated = api.post(f"/api/v1/webhooks/{webhook['id']}/rotate-secret").json()
    receiver.expect_public_keys("/switch", [switched["publicKey"], rotated["publicKey"]])
    location.name = "Signed twice"
    location.save()
    *_, during = receiver.wait_for(3, path="/switch")
    assert v1a_verified(during, switched["publicKey"], rotated["publicKey"]), during.summary()
    assert wait_until(lambda: len(deliveries(api, webhook["id"], status="succeeded")) == 3)
