"""`signatureScheme` on /api/v1/webhooks: a v1a (ed25519) webhook shows its `publicKey` and never its
private key, in any answer; the scheme is written on create and update and refused when unknown;
rotation and the secret route under v1a. Deliveries go to a real receiver in this process."""

import base64
from typing import Any

import pytest
from rest_framework.test import APIClient

from organizations.models import Organization
from tests.e2e.receiver import Receiver
from tests.factories import EndpointFactory, LocationFactory
from tests.pipeline import deliver_waiting
from tests.webhooks_api.matchers import GENERATED_SECRET, TIMESTAMP, Shaped
from webhooks import signing
from webhooks.endpoints.validation import SIGNATURE_SCHEME_INVALID, V1A_KEYS_ARE_GENERATED
from webhooks.models import Endpoint

pytestmark = pytest.mark.django_db

URL = "https://93.184.215.14/edrv"  # a public address: no DNS needed, accepted by the SSRF guard
PUBLIC_KEY = Shaped(r"whpk_[A-Za-z0-9+/]{43}=", "public key (whpk_ + base64 of 32 bytes)")


def create_v1a(api: APIClient, url: str = URL, **fields: Any) -> dict[str, Any]:
    body = {"url": url, "events": ["location.created", "location.updated"], "signatureScheme": "v1a"}
    response = api.post("/api/v1/webhooks", {**body, **fields}, format="json")
    assert response.status_code == 201, response.json()
    return dict(response.json())


def private_key_of(webhook: dict[str, Any]) -> str:
    return Endpoint.objects.get(public_id=webhook["id"]).secret


def assert_never_shown(private_key: str, *answers: Any) -> None:
    """Neither the `whsk_` key nor its base64 (the seed) appears in any answer's text."""
    seed = private_key.removeprefix("whsk_")
    for answer in answers:
        text = answer.content.decode()
        assert seed not in text and '"secret"' not in text, text


def test_create_with_v1a_answers_the_public_key_and_no_secret(api: APIClient) -> None:
    # When a webhook is registered with the v1a scheme
    response = api.post(
        "/api/v1/webhooks",
        {"url": URL, "events": ["session.started"], "signatureScheme": "v1a"},
        format="json",
    )

    # Then the answer shows its scheme and public key, and no secret at all
    assert response.status_code == 201
    created = response.json()
    assert (created["signatureScheme"], created["publicKey"]) == ("v1a", PUBLIC_KEY)
    assert "secret" not in created
    assert len(base64.b64decode(created["publicKey"].removeprefix("whpk_"), validate=True)) == 32
    # And the stored key is the private key of that public key, encrypted like every secret
    endpoint = Endpoint.objects.get(public_id=created["id"])
    assert signing.is_private_key(endpoint.secret)
    assert signing.public_key(endpoint.secret) == created["publicKey"]
    assert_never_shown(endpoint.secret, response)


def test_get_and_list_show_the_public_key_and_null_under_v1(
    api: APIClient, organization: Organization
) -> None:
    created = create_v1a(api)
    v1 = EndpointFactory.create(organization=organization)

    one = api.get(f"/api/v1/webhooks/{created['id']}")
    every = api.get("/api/v1/webhooks")

    assert one.json()["publicKey"] == created["publicKey"]
    assert one.json()["signatureScheme"] == "v1a"
    shown = {w["id"]: (w["signatureScheme"], w["publicKey"]) for w in every.json()["webhooks"]}
    assert shown == {created["id"]: ("v1a", created["publicKey"]), v1.public_id: ("v1", None)}
    assert_never_shown(private_key_of(created), one, every)


def test_the_default_scheme_is_v1_with_a_shared_secret(api: APIClient) -> None:
    response = api.post("/api/v1/webhooks", {"url": URL, "events": ["session.started"]}, format="json")

    created = response.json()
    assert (created["signatureScheme"], created["publicKey"], created["secret"]) == (
        "v1",
        None,
        GENERATED_SECRET,
    )


@pytest.mark.parametrize("scheme", ["v2", "V1A", "ed25519", "", 1, None, ["v1a"]])
def test_an_unknown_scheme_is_a_400_naming_the_field(api: APIClient, scheme: Any) -> None:
    response = api.post(
        "/api/v1/webhooks",
        {"url": URL, "events": ["session.started"], "signatureScheme": scheme},
        format="json",
    )

    assert response.status_code == 400
    assert list(response.json()) == ["signatureScheme"]
    if scheme is not None:
        assert response.json()["signatureScheme"] == [SIGNATURE_SCHEME_INVALID]
    assert not Endpoint.objects.exists()


def test_patch_refuses_an_unknown_scheme_and_changes_nothing(
    api: APIClient, organization: Organization
) -> None:
    endpoint = EndpointFactory.create(organization=organization)
    before = Endpoint.objects.filter(pk=endpoint.pk).values().get()

    response = api.patch(f"/api/v1/webhooks/{endpoint.public_id}", {"signatureScheme": "v3"}, format="json")

    assert (response.status_code, response.json()) == (400, {"signatureScheme": [SIGNATURE_SCHEME_INVALID]})
    assert Endpoint.objects.filter(pk=endpoint.pk).values().get() == before


def test_a_secret_cannot_be_given_to_a_v1a_webhook(api: APIClient) -> None:
    response = api.post(
        "/api/v1/webhooks",
        {
            "url": URL,
            "events": ["session.started"],
            "signatureScheme": "v1a",
            "secret": signing.private_key_generate(),
        },
        format="json",
    )

    assert (response.status_code, response.json()) == (400, {"secret": [V1A_KEYS_ARE_GENERATED]})
    assert not Endpoint.objects.exists()


def test_patch_to_v1a_generates_a_key_pair_and_back_to_v1_a_secret(
    api: APIClient, organization: Organization
) -> None:
    # Given a v1 webhook
    endpoint = EndpointFactory.create(organization=organization, url=URL)
    secret = endpoint.secret

    # When it is switched to v1a
    to_v1a = api.patch(f"/api/v1/webhooks/{endpoint.public_id}", {"signatureScheme": "v1a"}, format="json")

    # Then it answers with its new public key, and only the new private key signs
    assert to_v1a.status_code == 200
    assert (to_v1a.json()["signatureScheme"], to_v1a.json()["publicKey"]) == ("v1a", PUBLIC_KEY)
    endpoint.refresh_from_db()
    assert signing.public_key(endpoint.secret) == to_v1a.json()["publicKey"]
    assert endpoint.live_secrets() == [endpoint.secret] and endpoint.previous_secret == secret
    assert_never_shown(endpoint.secret, to_v1a)

    # When it is patched again with the same scheme, then nothing changes
    same = api.patch(f"/api/v1/webhooks/{endpoint.public_id}", {"signatureScheme": "v1a"}, format="json")
    assert same.json()["publicKey"] == to_v1a.json()["publicKey"]

    # When it is switched back to v1, then a new shared secret signs, readable at /secret
    to_v1 = api.patch(f"/api/v1/webhooks/{endpoint.public_id}", {"signatureScheme": "v1"}, format="json")
    assert (to_v1.json()["signatureScheme"], to_v1.json()["publicKey"]) == ("v1", None)
    revealed = api.get(f"/api/v1/webhooks/{endpoint.public_id}/secret").json()["secret"]
    assert revealed == GENERATED_SECRET and revealed != secret


def test_the_secret_route_of_a_v1a_webhook_is_a_409_with_its_public_key(api: APIClient) -> None:
    created = create_v1a(api)

    response = api.get(f"/api/v1/webhooks/{created['id']}/secret")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "This webhook signs with ed25519 (v1a): it has no shared secret to show. "
        "Verify its deliveries with its publicKey.",
        "publicKey": created["publicKey"],
    }
    assert_never_shown(private_key_of(created), response)


def test_rotating_a_v1a_webhook_answers_the_new_public_key(api: APIClient) -> None:
    created = create_v1a(api)

    response = api.post(f"/api/v1/webhooks/{created['id']}/rotate-secret")

    assert response.status_code == 200
    assert response.json() == {"publicKey": PUBLIC_KEY, "previousSecretExpiresAt": TIMESTAMP}
    assert response.json()["publicKey"] != created["publicKey"]
    endpoint = Endpoint.objects.get(public_id=created["id"])
    assert [signing.public_key(key) for key in endpoint.live_secrets()] == [
        response.json()["publicKey"],
        created["publicKey"],
    ]
    assert api.get(f"/api/v1/webhooks/{created['id']}").json()["publicKey"] == response.json()["publicKey"]
    assert_never_shown(endpoint.secret, response)


def test_rotating_a_v1a_webhook_refuses_a_given_secret(api: APIClient) -> None:
    created = create_v1a(api)
    before = private_key_of(created)

    response = api.post(
        f"/api/v1/webhooks/{created['id']}/rotate-secret",
        {"secret": "my-own-secret-of-24-chars"},
        format="json",
    )

    assert (response.status_code, response.json()) == (400, {"secret": [V1A_KEYS_ARE_GENERATED]})
    assert private_key_of(created) == before


def test_after_rotation_the_old_key_keeps_signing_beside_the_new_one(
    api: APIClient, organization: Organization, receiver: Receiver
) -> None:
    # Given a v1a webhook, rotated, whose receiver knows both public keys
    created = create_v1a(api, url=receiver.url("/rotated"))
    rotated = api.post(f"/api/v1/webhooks/{created['id']}/rotate-secret").json()
    receiver.expect_public_keys("/rotated", [created["publicKey"], rotated["publicKey"]])

    # When a change is delivered
    LocationFactory.create(organization=organization)
    deliver_waiting()

    # Then it carries one v1a signature per key, each verified by its public key, and no HMAC
    [request] = receiver.wait_for(1, path="/rotated")
    assert set(request.matched_public_keys) == {created["publicKey"], rotated["publicKey"]}, request.summary()
    assert "edrv-signature" not in request.headers
