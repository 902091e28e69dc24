"""Asymmetric signatures (Standard Webhooks `v1a`, ed25519): keys, signing and verifying.

Each signature is checked with `cryptography` directly, as a receiver would, not only with our own
`verify_asymmetric`. The `standardwebhooks` package (1.1.0, the one pinned) has no v1a: receivers use
`cryptography` or Node's `crypto` (README).
"""

import base64
import time

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from webhooks import signing

# The Standard Webhooks reference library's v1a vector (libraries/go/webhook_asymmetric_test.go,
# TestAsymmetricWebhookSign): the private key is the base64 of the 32-byte ed25519 seed.
SPEC_PRIVATE_KEY = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk="
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = (
    "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag=="
)

BODY = b'{"_id":"evt_1","type":"session.started","data":{"kwh":1.5}}'


def headers_now(*private_keys: str, body: bytes = BODY) -> dict[str, str]:
    return signing.signature_headers(
        msg_id="evt_1", timestamp=int(time.time()), body=body, secrets=private_keys, scheme="v1a"
    )


def verifies_by_hand(public_key: str, signature: str, signed: bytes) -> bool:
    """An independent receiver: the `whpk_` key's 32 bytes, `cryptography`'s ed25519 check."""
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key.removeprefix("whpk_")))
    try:
        key.verify(base64.b64decode(signature), signed)
    except InvalidSignature:
        return False
    return True


def test_the_reference_librarys_vector_is_reproduced() -> None:
    # Given the reference library's key and message, when we sign, then we get its signature
    signature = signing.sign_asymmetric(
        msg_id=SPEC_ID, timestamp=SPEC_TIMESTAMP, body=SPEC_BODY, private_keys=[SPEC_PRIVATE_KEY]
    )

    assert signature == SPEC_SIGNATURE


def test_a_generated_key_pair_is_whsk_and_whpk_with_32_bytes_each() -> None:
    private_key = signing.private_key_generate()

    public_key = signing.public_key(private_key)

    assert private_key.startswith("whsk_") and public_key.startswith("whpk_")
    assert len(base64.b64decode(private_key.removeprefix("whsk_"), validate=True)) == 32
    assert len(base64.b64decode(public_key.removeprefix("whpk_"), validate=True)) == 32
    assert signing.public_key(private_key) == public_key  # derived, the same every time
    assert signing.private_key_generate() != private_key


def test_a_v1a_signature_verifies_with_cryptography_over_id_timestamp_and_body() -> None:
    # Given a key pair and the headers of a delivery signed with it
    private_key = signing.private_key_generate()
    headers = headers_now(private_key)

    # Then the signature is `v1a,<base64>` of "{id}.{timestamp}.{body}", and the public key verifies it
    version, _, signature = headers["webhook-signature"].partition(",")
    assert version == "v1a" and len(base64.b64decode(signature)) == 64
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + BODY
    assert verifies_by_hand(signing.public_key(private_key), signature, signed)
    assert not verifies_by_hand(signing.public_key(private_key), signature, signed + b" ")
    assert signing.verify_asymmetric(public_key=signing.public_key(private_key), body=BODY, headers=headers)


def test_v1a_headers_carry_no_edrv_signature() -> None:
    headers = headers_now(signing.private_key_generate())

    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}


def test_each_live_key_adds_a_signature_newest_first() -> None:
    # Given a rotation: the new key, then the old one still in its grace period
    new, old = signing.private_key_generate(), signing.private_key_generate()

    headers = headers_now(new, old)

    # Then one signature per key, space-separated, each verified by its own public key
    entries = headers["webhook-signature"].split(" ")
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + BODY
    assert [entry.partition(",")[0] for entry in entries] == ["v1a", "v1a"]
    assert verifies_by_hand(signing.public_key(new), entries[0].partition(",")[2], signed)
    assert verifies_by_hand(signing.public_key(old), entries[1].partition(",")[2], signed)
    for key in (new, old):
        assert signing.verify_asymmetric(public_key=signing.public_key(key), body=BODY, headers=headers)


def test_verify_refuses_another_key_an_altered_body_and_a_stale_timestamp() -> None:
    private_key = signing.private_key_generate()
    public_key = signing.public_key(private_key)
    old = int(time.time()) - 3600
    headers = signing.signature_headers(
        msg_id="evt_1", timestamp=old, body=BODY, secrets=[private_key], scheme="v1a"
    )

    assert signing.verify_asymmetric(public_key=public_key, body=BODY, headers=headers, now=old + 5)
    assert not signing.verify_asymmetric(public_key=public_key, body=BODY, headers=headers)  # stale
    assert not signing.verify_asymmetric(public_key=public_key, body=BODY + b" ", headers=headers, now=old)
    other = signing.public_key(signing.private_key_generate())
    assert not signing.verify_asymmetric(public_key=other, body=BODY, headers=headers, now=old)
    # A v1 HMAC entry is not a v1a signature, nor garbage
    garbage = {**headers, "webhook-signature": "v1,abc= v1a,not*base64 v1a,"}
    assert not signing.verify_asymmetric(public_key=public_key, body=BODY, headers=garbage, now=old)


def test_verify_signed_with_recognises_a_stored_key_of_either_scheme() -> None:
    # Given a v1 secret and a v1a private key, each signing a delivery under its own scheme
    secret, private_key = signing.secret_generate(), signing.private_key_generate()
    v1 = signing.signature_headers(msg_id="evt_1", timestamp=int(time.time()), body=BODY, secrets=[secret])
    v1a = headers_now(private_key)

    # Then each stored key recognises what it signed, and only that
    assert signing.verify_signed_with(secret=secret, body=BODY, headers=v1)
    assert signing.verify_signed_with(secret=private_key, body=BODY, headers=v1a)
    assert not signing.verify_signed_with(secret=secret, body=BODY, headers=v1a)
    assert not signing.verify_signed_with(secret=private_key, body=BODY, headers=v1)


def test_keys_are_generated_per_scheme() -> None:
    assert signing.key_generate("v1").startswith("whsec_")
    assert signing.is_private_key(signing.key_generate("v1a"))
    with pytest.raises(ValueError, match="unknown signature scheme"):
        signing.key_generate("v2")
    with pytest.raises(ValueError, match="unknown signature scheme"):
        signing.signature_headers(msg_id="m", timestamp=1, body=b"", secrets=["x" * 24], scheme="v2")


@pytest.mark.parametrize(
    "key",
    ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsk_", "whsk_not-base64", "whsk_" + "A" * 40, "plain"],
)
def test_only_a_whsk_key_of_32_bytes_is_a_private_key(key: str) -> None:
    assert not signing.is_private_key(key)
    with pytest.raises(ValueError, match="not an ed25519 key"):
        signing.public_key(key)


@pytest.mark.parametrize(
    "given", ["whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=", "whpk_abcdefghijklmnop"]
)
def test_an_ed25519_key_is_refused_as_a_v1_secret(given: str) -> None:
    with pytest.raises(ValueError, match="ed25519 key, not a secret"):
        signing.secret_validate(given)
