"""A v1a endpoint's deliveries, sent by the pipeline in this process to a real receiver: signed with
ed25519 only (no `edrv-signature`), by every live key; its test events and resends too; and what
switching schemes does to the keys that sign."""

import pytest
from django.utils import timezone

from organizations.models import Organization
from tests.e2e.receiver import Receiver, status
from tests.factories import LocationFactory
from tests.pipeline import deliver_waiting
from webhooks import signing
from webhooks.endpoints.redelivery import delivery_resend
from webhooks.endpoints.services import endpoint_create, endpoint_rotate_secret, endpoint_update
from webhooks.endpoints.test_events import endpoint_send_test
from webhooks.models import Attempt, Delivery, Endpoint

pytestmark = pytest.mark.django_db


def v1a_endpoint(organization: Organization, receiver: Receiver, path: str = "/v1a") -> Endpoint:
    return endpoint_create(
        organization=organization,
        url=receiver.url(path),
        events=["location.created", "location.updated"],
        signature_scheme="v1a",
    )


def test_a_v1a_delivery_is_signed_with_ed25519_only(receiver: Receiver, organization: Organization) -> None:
    # Given a v1a endpoint whose public key the receiver trusts
    endpoint = v1a_endpoint(organization, receiver)
    assert endpoint.public_key is not None
    receiver.expect_public_keys("/v1a", [endpoint.public_key])

    # When a change is delivered
    LocationFactory.create(organization=organization)
    assert deliver_waiting() == 1

    # Then the receiver verifies its v1a signature with the public key, and gets no HMAC header
    [request] = receiver.wait_for(1, path="/v1a")
    assert request.verified_v1a, request.summary()
    assert request.matched_public_keys == (endpoint.public_key,)
    assert request.headers["webhook-signature"].startswith("v1a,")
    assert len(request.headers["webhook-signature"].split()) == 1
    assert "edrv-signature" not in request.headers
    # And the attempt keeps what was sent, without the private key
    attempt = Attempt.objects.get(delivery__endpoint=endpoint)
    assert attempt.succeeded
    assert [name for name, _ in attempt.headers["request"]][-3:] == [
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    ]
    assert endpoint.secret.removeprefix("whsk_") not in str(attempt.headers)


def test_after_a_rotation_both_keys_sign_until_the_grace_ends(
    receiver: Receiver, organization: Organization
) -> None:
    # Given a v1a endpoint whose key pair was rotated
    endpoint = v1a_endpoint(organization, receiver)
    old = endpoint.public_key
    endpoint_rotate_secret(endpoint=endpoint)
    new = endpoint.public_key
    assert old and new and old != new and signing.is_private_key(endpoint.previous_secret)
    receiver.expect_public_keys("/v1a", [old, new])

    # When a change is delivered during the grace period, then each key's signature verifies
    location = LocationFactory.create(organization=organization)
    deliver_waiting()
    [during] = receiver.wait_for(1, path="/v1a")
    assert set(during.matched_public_keys) == {old, new}, during.summary()
    assert [entry[:4] for entry in during.headers["webhook-signature"].split(" ")] == ["v1a,", "v1a,"]

    # When the grace period is over, then only the new key signs
    Endpoint.objects.filter(pk=endpoint.pk).update(previous_secret_expires_at=timezone.now())
    location.name = "After the grace period"
    location.save()
    deliver_waiting()
    _, after = receiver.wait_for(2, path="/v1a")
    assert after.matched_public_keys == (new,), after.summary()
    assert len(after.headers["webhook-signature"].split()) == 1


def test_switching_to_v1a_replaces_the_secret_at_once(receiver: Receiver, organization: Organization) -> None:
    # Given a v1 endpoint, its secret trusted by the receiver
    endpoint = endpoint_create(
        organization=organization, url=receiver.url("/switch"), events=["location.created"]
    )
    secret = endpoint.secret
    receiver.expect_secrets("/switch", [secret])

    # When it switches to v1a
    endpoint_update(endpoint=endpoint, signature_scheme="v1a")

    # Then a new key pair alone signs: no HMAC signature of the old secret, no edrv-signature
    endpoint.refresh_from_db()
    assert endpoint.signature_scheme == "v1a" and signing.is_private_key(endpoint.secret)
    assert endpoint.live_secrets() == [endpoint.secret]
    assert endpoint.previous_secret == secret  # kept, expired: the delivery page still checks with it
    assert endpoint.public_key is not None
    receiver.expect_public_keys("/switch", [endpoint.public_key])
    LocationFactory.create(organization=organization)
    deliver_waiting()
    [request] = receiver.wait_for(1, path="/switch")
    assert request.verified_v1a and not request.verified_standard, request.summary()
    assert "edrv-signature" not in request.headers


def test_switching_back_to_v1_signs_with_a_new_shared_secret(
    receiver: Receiver, organization: Organization
) -> None:
    endpoint = v1a_endpoint(organization, receiver, "/back")

    endpoint_update(endpoint=endpoint, signature_scheme="v1")

    endpoint.refresh_from_db()
    assert endpoint.secret.startswith("whsec_") and endpoint.public_key is None
    receiver.expect_secrets("/back", [endpoint.secret])
    LocationFactory.create(organization=organization)
    deliver_waiting()
    [request] = receiver.wait_for(1, path="/back")
    assert request.verified and not request.verified_v1a, request.summary()


def test_a_test_event_and_a_resend_are_signed_with_ed25519(
    receiver: Receiver, organization: Organization
) -> None:
    # Given a v1a endpoint whose first answer is a failure
    endpoint = v1a_endpoint(organization, receiver)
    assert endpoint.public_key is not None
    receiver.expect_public_keys("/v1a", [endpoint.public_key])
    receiver.behave("/v1a", status(500))

    # When a test event is sent, fails, and is resent
    delivery = endpoint_send_test(endpoint=endpoint, type_name="session.started")
    deliver_waiting()
    delivery.refresh_from_db()
    delivery_resend(delivery=delivery)
    deliver_waiting()

    # Then both attempts are v1a-signed, the same event each time, and marked as a test
    first, second = receiver.wait_for(2, path="/v1a")
    for request in (first, second):
        assert request.verified_v1a and "edrv-signature" not in request.headers, request.summary()
        assert request.headers["edrv-test"] == "true"
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery.event.public_id
    assert Delivery.objects.get(pk=delivery.pk).attempt_count == 2
