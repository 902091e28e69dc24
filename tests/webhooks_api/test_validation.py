"""Bad input is a 400 that names each bad field and why; nothing is created or changed."""

from typing import Any

import pytest
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from organizations.models import Organization
from tests.factories import EndpointFactory
from webhooks.models import Endpoint

pytestmark = pytest.mark.django_db

URL = "https://93.184.215.14/edrv"
VALID = {"url": URL, "events": ["session.started"]}
SEE_CATALOG = "The valid ones are listed at GET /api/v1/event-types."


def create(api: APIClient, **changes: Any) -> tuple[int, Any]:
    body = {key: value for key, value in {**VALID, **changes}.items() if value is not ...}
    response = api.post("/api/v1/webhooks", body, format="json")
    return response.status_code, response.json()


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        (
            {"events": ["session.exploded"]},
            {"events": [f'"session.exploded" is not an event type. {SEE_CATALOG}']},
        ),
        (
            {"events": ["nope", "session.started", "nope", "session.stop_duration_ceiling_exceeded"]},
            {
                "events": [
                    f'"nope" is not an event type. {SEE_CATALOG}',
                    f'"session.stop_duration_ceiling_exceeded" is not an event type. {SEE_CATALOG}',
                ]
            },
        ),
        ({"events": []}, {"events": ["Choose at least one event type (see GET /api/v1/event-types)."]}),
        ({"events": ...}, {"events": ["This field is required."]}),
        ({"events": "session.started"}, {"events": ['Expected a list of items but got type "str".']}),
        ({"url": "not a url"}, {"url": ["Enter a valid URL, e.g. https://example.com/hooks."]}),
        ({"url": "https://"}, {"url": ["Enter a valid URL, e.g. https://example.com/hooks."]}),
        ({"url": ...}, {"url": ["This field is required."]}),
        (
            {"url": "https://93.184.215.14/" + "a" * 2030},
            {"url": ["A URL may be at most 2048 characters long."]},
        ),
        (
            {"url": "ftp://93.184.215.14/x"},
            {"url": ["This URL cannot receive webhooks: the URL must start with https://."]},
        ),
        (
            {"url": "https://169.254.169.254/latest/meta-data"},
            {"url": ["This URL cannot receive webhooks: link-local address 169.254.169.254."]},
        ),
        (
            {"url": "https://10.1.2.3/hook"},
            {"url": ["This URL cannot receive webhooks: private address 10.1.2.3."]},
        ),
        (
            {"url": "https://no-such-host.invalid/hook"},
            {"url": ["This URL cannot receive webhooks: host no-such-host.invalid does not resolve."]},
        ),
        (
            {"secret": "whsec_not base64!"},
            {"secret": ["A secret starting with 'whsec_' must continue with valid base64."]},
        ),
        ({"secret": "short"}, {"secret": ["A secret must be 16 to 128 characters long."]}),
        (
            {"secret": "a secret with spaces in it"},
            {"secret": ["A secret may contain only printable ASCII characters, without spaces."]},
        ),
        (
            {"alertEmails": ["ops@example.com", "not-an-email"]},
            {"alertEmails": {"1": ["Enter a valid email address."]}},
        ),
        ({"rateLimit": 0}, {"rateLimit": ["Ensure this value is greater than or equal to 1."]}),
        ({"rateLimit": 1_000_000}, {"rateLimit": ["Ensure this value is less than or equal to 1000."]}),
        ({"rateLimit": "fast"}, {"rateLimit": ["A valid integer is required."]}),
        ({"description": "x" * 501}, {"description": ["Ensure this field has no more than 500 characters."]}),
    ],
    ids=lambda value: str(value)[:60] if isinstance(value, dict) else None,
)
def test_create_refuses_bad_input_naming_the_field_and_why(
    api: APIClient, changes: dict[str, Any], errors: dict[str, Any]
) -> None:
    assert create(api, **changes) == (400, errors)
    assert not Endpoint.objects.exists()


def test_every_bad_field_is_named_at_once(api: APIClient) -> None:
    status, errors = create(api, url="nope", events=[], rateLimit=0)

    assert status == 400
    assert set(errors) == {"url", "events", "rateLimit"}


def test_http_is_refused_where_https_is_required(api: APIClient, settings: Settings) -> None:
    settings.WEBHOOKS_ALLOW_HTTP = False
    settings.DEBUG = False

    assert create(api, url="http://93.184.215.14/edrv") == (
        400,
        {"url": ["This URL cannot receive webhooks: HTTPS is required."]},
    )


def test_a_valid_whsec_secret_is_accepted(api: APIClient) -> None:
    status, body = create(api, secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")

    assert (status, body["secret"]) == (201, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"events": []}, {"events": ["Choose at least one event type (see GET /api/v1/event-types)."]}),
        ({"events": ["nope"]}, {"events": [f'"nope" is not an event type. {SEE_CATALOG}']}),
        ({"url": "https://127.0.0.1.nip.io.invalid/"}, None),
        (
            {"url": "https://192.168.1.10/"},
            {"url": ["This URL cannot receive webhooks: private address 192.168.1.10."]},
        ),
        ({"active": "maybe"}, {"active": ["Must be a valid boolean."]}),
        ({"rateLimit": -1}, {"rateLimit": ["Ensure this value is greater than or equal to 1."]}),
        (
            {"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
            {"secret": ["The secret is changed with POST /api/v1/webhooks/{id}/rotate-secret."]},
        ),
    ],
    ids=lambda value: str(value)[:60] if isinstance(value, dict) else None,
)
def test_patch_refuses_bad_input_and_changes_nothing(
    api: APIClient, organization: Organization, body: dict[str, Any], errors: dict[str, Any] | None
) -> None:
    endpoint = EndpointFactory.create(organization=organization)
    before = Endpoint.objects.filter(pk=endpoint.pk).values().get()

    response = api.patch(f"/api/v1/webhooks/{endpoint.public_id}", body, format="json")

    assert response.status_code == 400
    if errors is not None:
        assert response.json() == errors
    assert Endpoint.objects.filter(pk=endpoint.pk).values().get() == before


def test_rotate_secret_refuses_a_malformed_secret(api: APIClient, organization: Organization) -> None:
    endpoint = EndpointFactory.create(organization=organization)

    response = api.post(
        f"/api/v1/webhooks/{endpoint.public_id}/rotate-secret", {"secret": "short"}, format="json"
    )

    assert (response.status_code, response.json()) == (
        400,
        {"secret": ["A secret must be 16 to 128 characters long."]},
    )
    assert Endpoint.objects.get().secret == endpoint.secret


def test_a_body_that_is_not_json_is_a_400(api: APIClient) -> None:
    response = api.post("/api/v1/webhooks", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]
