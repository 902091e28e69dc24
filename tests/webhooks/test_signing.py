import base64
import hashlib
import hmac
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from webhooks import signing

# The Standard Webhooks specification's published test vector (also Svix's).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
# Computed once outside Python: printf '%s' '1614265330.{"test": 2432232314}' | openssl dgst -sha256 -hmac ...
SPEC_EDRV_HEX = "2e37df5d4a028c51a7f3133d64ae1e300d2c2c900f1b1d49d4369ad2530f8964"
PLAIN_SECRET = "a-plain-receiver-secret-42"
PLAIN_EDRV_HEX = "55adb7a881cdcfb64bd5489c765badae126c5ee9d93a28485ad5f93be45bb652"

BODY = b'{"_id":"evt_1","type":"session.started","data":{"kwh":1.5}}'


def headers_now(*secrets: str, body: bytes = BODY) -> dict[str, str]:
    return signing.signature_headers(msg_id="evt_1", timestamp=int(time.time()), body=body, secrets=secrets)


def edrv_check_by_hand(header: str, body: bytes, secret: str) -> bool:
    """An independent receiver: parse `t=,v1=` and recompute, as a customer's code would."""
    parts = [part.split("=", 1) for part in header.split(",")]
    timestamp = next(value for name, value in parts if name == "t")
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(name == "v1" and hmac.compare_digest(value, expected) for name, value in parts)


def test_spec_vector_is_reproduced() -> None:
    # Given the specification's inputs, when we sign, then we get its published signature
    signature = signing.sign_standard(
        msg_id=SPEC_ID, timestamp=SPEC_TIMESTAMP, body=SPEC_BODY, secrets=[SPEC_SECRET]
    )

    assert signature == SPEC_SIGNATURE


@pytest.mark.parametrize(
    ("secret", "expected"), [(SPEC_SECRET, SPEC_EDRV_HEX), (PLAIN_SECRET, PLAIN_EDRV_HEX)]
)
def test_edrv_signature_matches_a_vector_computed_with_openssl(secret: str, expected: str) -> None:
    # Given a vector computed by openssl, keyed with the whole secret string (prefix included)
    # When we sign
    header = signing.sign_edrv(timestamp=SPEC_TIMESTAMP, body=SPEC_BODY, secrets=[secret])

    # Then
    assert header == f"t={SPEC_TIMESTAMP},v1={expected}"


def test_generated_secret_is_verified_by_the_standardwebhooks_package() -> None:
    # Given a generated secret and our headers
    secret = signing.secret_generate()
    headers = headers_now(secret)

    # When / then: the off-the-shelf library accepts the request with the secret as shown to users
    assert Webhook(secret).verify(BODY, headers) == {
        "_id": "evt_1",
        "type": "session.started",
        "data": {"kwh": 1.5},
    }


def test_plain_secret_is_verified_by_the_package_when_given_as_bytes() -> None:
    # Given a client-supplied secret without the whsec_ prefix
    headers = headers_now(PLAIN_SECRET)

    # When the receiver passes the key as bytes, then the package verifies
    Webhook(PLAIN_SECRET.encode()).verify(BODY, headers)
    # ...whereas the str form is base64-decoded by the package (the documented difference)
    with pytest.raises(WebhookVerificationError):
        Webhook(PLAIN_SECRET).verify(BODY, headers)


def test_two_secrets_each_verify_alone() -> None:
    # Given a rotation: new and old secret both sign
    new, old = signing.secret_generate(), PLAIN_SECRET
    headers = headers_now(new, old)

    # Then each secret alone verifies both signature families
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(BODY, headers)
    Webhook(old.encode()).verify(BODY, headers)
    for secret in (new, old):
        assert signing.verify_standard(secret=secret, body=BODY, headers=headers)
        assert signing.verify_edrv(secret=secret, body=BODY, header=headers["edrv-signature"])
        assert edrv_check_by_hand(headers["edrv-signature"], BODY, secret)
    assert headers["edrv-signature"].count("v1=") == 2


def test_tampered_body_fails_everywhere() -> None:
    # Given signed headers, when the body changes by one byte
    secret = signing.secret_generate()
    headers = headers_now(secret)
    tampered = BODY.replace(b"1.5", b"9.5")

    # Then every verifier refuses it
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(tampered, headers)
    assert not signing.verify_standard(secret=secret, body=tampered, headers=headers)
    assert not signing.verify_edrv(secret=secret, body=tampered, header=headers["edrv-signature"])
    assert not edrv_check_by_hand(headers["edrv-signature"], tampered, secret)


def test_wrong_secret_and_stale_timestamp_fail() -> None:
    # Given headers signed 10 minutes ago
    secret = signing.secret_generate()
    old = int(time.time()) - 600
    headers = signing.signature_headers(msg_id="evt_1", timestamp=old, body=BODY, secrets=[secret])

    # Then our verifiers refuse the stale timestamp, and a different secret never verifies
    assert not signing.verify_standard(secret=secret, body=BODY, headers=headers)
    assert not signing.verify_edrv(secret=secret, body=BODY, header=headers["edrv-signature"])
    assert signing.verify_standard(secret=secret, body=BODY, headers=headers, now=old + 5)
    assert signing.verify_edrv(secret=secret, body=BODY, header=headers["edrv-signature"], now=old + 5)
    other = signing.secret_generate()
    assert not signing.verify_standard(secret=other, body=BODY, headers=headers, now=old)
    assert not signing.verify_edrv(secret=other, body=BODY, header=headers["edrv-signature"], now=old)


@pytest.mark.parametrize(
    "header",
    ["", "v1=abc", "t=abc,v1=00", "t=1,t=2,v1=00", "t=1614265330,v1=\u00e9\u00e9"],
)
def test_malformed_edrv_headers_are_refused_quietly(header: str) -> None:
    assert not signing.verify_edrv(secret=PLAIN_SECRET, body=SPEC_BODY, header=header, now=SPEC_TIMESTAMP)


def test_headers_carry_id_and_timestamp() -> None:
    # When signing for a given attempt
    headers = signing.signature_headers(
        msg_id="evt_9", timestamp=1700000000, body=b"{}", secrets=[SPEC_SECRET]
    )

    # Then the four headers are present, with the webhook id stable and the attempt's timestamp
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature", "edrv-signature"}
    assert headers["webhook-id"] == "evt_9"
    assert headers["webhook-timestamp"] == "1700000000"
    assert headers["edrv-signature"].startswith("t=1700000000,v1=")


def test_secret_generate_format() -> None:
    # When generating secrets
    generated = {signing.secret_generate() for _ in range(20)}

    # Then each is whsec_ + base64 of 24 random bytes, all different, and all valid
    assert len(generated) == 20
    for secret in generated:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret[6:], validate=True)) == 24
        signing.secret_validate(secret)


def test_standard_key_follows_the_prefix_rule() -> None:
    assert signing.standard_key(SPEC_SECRET) == base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    assert signing.standard_key(PLAIN_SECRET) == PLAIN_SECRET.encode()


@pytest.mark.parametrize(
    "secret",
    [
        SPEC_SECRET,
        "whsec_" + base64.b64encode(bytes(64)).decode(),
        PLAIN_SECRET,
        "x" * 16,
        "~" * 128,
    ],
)
def test_valid_secrets_pass(secret: str) -> None:
    signing.secret_validate(secret)


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("whsec_not base64!", "valid base64"),
        ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", "valid base64"),
        ("whsec_" + base64.b64encode(bytes(23)).decode(), "encodes 23"),
        ("whsec_" + base64.b64encode(bytes(65)).decode(), "encodes 65"),
        ("short", "16 to 128"),
        ("x" * 129, "16 to 128"),
        ("has a space inside it", "without spaces"),
        ("caf\u00e9-secret-value-long", "printable ASCII"),
        ("tab\tseparated-secret-value", "printable ASCII"),
    ],
)
def test_malformed_secrets_are_refused_with_a_message(secret: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        signing.secret_validate(secret)


def test_signing_without_secrets_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        signing.sign_standard(msg_id="m", timestamp=1, body=b"", secrets=[])
    with pytest.raises(ValueError, match="non-empty"):
        signing.sign_edrv(timestamp=1, body=b"", secrets="whsec_abc")
