"""The /api/v1/webhooks contract: exact JSON of every call."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from organizations.models import Organization
from tests.factories import EndpointFactory
from tests.pipeline import fan_out_waiting
from tests.webhooks_api.matchers import GENERATED_SECRET, TIMESTAMP, WEBHOOK_ID
from webhooks.endpoints.services import DISABLED_BY_USER
from webhooks.models import Delivery, DeliveryStatus, Endpoint

pytestmark = pytest.mark.django_db

URL = "https://93.184.215.14/edrv"  # a public address: no DNS needed, accepted by the SSRF guard


def webhook_json(**fields: object) -> dict[str, object]:
    return {
        "id": WEBHOOK_ID,
        "url": URL,
        "events": ["session.ended", "session.started"],
        "active": True,
        "description": "",
        "alertEmails": [],
        "rateLimit": None,
        "filter": None,
        "locations": [],
        "chargestations": [],
        "headers": {},
        "signatureScheme": "v1",
        "publicKey": None,
        "disabledReason": None,
        "disabledAt": None,
        "createdAt": TIMESTAMP,
        "updatedAt": TIMESTAMP,
        **fields,
    }


def test_create_answers_201_with_the_webhook_and_a_generated_secret(
    api: APIClient, organization: Organization
) -> None:
    response = api.post(
        "/api/v1/webhooks", {"url": URL, "events": ["session.started", "session.ended"]}, format="json"
    )

    assert response.status_code == 201
    assert response.json() == webhook_json(secret=GENERATED_SECRET)
    endpoint = Endpoint.objects.get(public_id=response.json()["id"])
    assert endpoint.organization == organization
    assert endpoint.secret == response.json()["secret"]


def test_create_takes_a_given_secret_and_every_optional_field(api: APIClient) -> None:
    body = {
        "url": URL,
        "events": ["location.created"],
        "secret": "my-own-secret-of-24-chars",
        "description": "Billing",
        "alertEmails": ["ops@example.com", "dev@example.com"],
        "rateLimit": 5,
    }

    response = api.post("/api/v1/webhooks/", body, format="json")

    assert response.status_code == 201
    assert response.json() == webhook_json(
        events=["location.created"],
        secret="my-own-secret-of-24-chars",
        description="Billing",
        alertEmails=["ops@example.com", "dev@example.com"],
        rateLimit=5,
    )
    assert Endpoint.objects.get().rate_limit == 5


def test_duplicate_event_names_and_emails_are_folded(api: APIClient) -> None:
    body = {
        "url": URL,
        "events": ["session.started", "session.ended", "session.started"],
        "alertEmails": ["a@example.com", "a@example.com"],
    }

    response = api.post("/api/v1/webhooks", body, format="json")

    assert response.json()["events"] == ["session.ended", "session.started"]
    assert response.json()["alertEmails"] == ["a@example.com"]


def test_list_shows_the_webhooks_newest_first_without_secrets(
    api: APIClient, organization: Organization
) -> None:
    older = EndpointFactory.create(organization=organization, url=URL, events=["session.started"])
    Endpoint.objects.filter(pk=older.pk).update(created_at=timezone.now() - timedelta(minutes=1))
    newer = EndpointFactory.create(organization=organization, url=URL, events=["session.ended"])

    response = api.get("/api/v1/webhooks")

    assert response.status_code == 200
    assert response.json() == {
        "webhooks": [
            webhook_json(id=newer.public_id, events=["session.ended"]),
            webhook_json(id=older.public_id, events=["session.started"]),
        ],
        "count": 2,
        "next": None,
        "previous": None,
    }


def test_list_is_paginated_with_limit_and_offset(api: APIClient, organization: Organization) -> None:
    for _ in range(3):
        EndpointFactory.create(organization=organization)

    page = api.get("/api/v1/webhooks?limit=2").json()

    assert (len(page["webhooks"]), page["count"], page["previous"]) == (2, 3, None)
    assert page["next"].endswith("/api/v1/webhooks?limit=2&offset=2")
    assert len(api.get(page["next"]).json()["webhooks"]) == 1


def test_retrieve_shows_one_webhook(api: APIClient, organization: Organization) -> None:
    endpoint = EndpointFactory.create(organization=organization, url=URL, events=["session.started"])

    response = api.get(f"/api/v1/webhooks/{endpoint.public_id}")

    assert response.status_code == 200
    assert response.json() == webhook_json(id=endpoint.public_id, events=["session.started"])


def test_patch_changes_any_field(api: APIClient, organization: Organization) -> None:
    endpoint = EndpointFactory.create(organization=organization, url=URL, events=["session.started"])
    body = {
        "url": "https://93.184.215.15/new",
        "events": ["rate.created", "rate.created"],
        "description": "Rates",
        "alertEmails": ["x@example.com"],
        "rateLimit": 50,
    }

    response = api.patch(f"/api/v1/webhooks/{endpoint.public_id}", body, format="json")

    assert response.status_code == 200
    assert response.json() == webhook_json(
        id=endpoint.public_id,
        url="https://93.184.215.15/new",
        events=["rate.created"],
        description="Rates",
        alertEmails=["x@example.com"],
        rateLimit=50,
    )
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.events, endpoint.rate_limit) == (body["url"], ["rate.created"], 50)


def test_patch_rate_limit_null_removes_the_limit(api: APIClient, organization: Organization) -> None:
    endpoint = EndpointFactory.create(organization=organization, rate_limit=10)

    response = api.patch(f"/api/v1/webhooks/{endpoint.public_id}", {"rateLimit": None}, format="json")

    assert response.json()["rateLimit"] is None
    endpoint.refresh_from_db()
    assert endpoint.rate_limit is None


def test_patch_active_false_disables_it_saying_why_and_since_when(
    api: APIClient, organization: Organization
) -> None:
    endpoint = EndpointFactory.create(organization=organization, url=URL, events=["session.started"])

    response = api.patch(f"/api/v1/webhooks/{endpoint.public_id}", {"active": False}, format="json")

    assert response.status_code == 200
    assert response.json() == webhook_json(
        id=endpoint.public_id,
        events=["session.started"],
        active=False,
        disabledReason=DISABLED_BY_USER,
        disabledAt=TIMESTAMP,
    )


def test_patch_active_true_re_enables_it(api: APIClient, organization: Organization) -> None:
    endpoint = EndpointFactory.create(
        organization=organization,
        url=URL,
        events=["session.started"],
        active=False,
        disabled_reason="The endpoint answered 410 Gone.",
        disabled_at=timezone.now(),
        consecutive_failures=12,
    )

    response = api.patch(f"/api/v1/webhooks/{endpoint.public_id}", {"active": True}, format="json")

    assert response.json() == webhook_json(id=endpoint.public_id, events=["session.started"])
    endpoint.refresh_from_db()
    assert (endpoint.active, endpoint.consecutive_failures) == (True, 0)


def test_a_disabled_webhook_shows_the_pipelines_reason(api: APIClient, organization: Organization) -> None:
    endpoint = EndpointFactory.create(
        organization=organization, active=False, disabled_reason="The endpoint answered 410 Gone."
    )
    Endpoint.objects.filter(pk=endpoint.pk).update(disabled_at=timezone.now())

    shown = api.get(f"/api/v1/webhooks/{endpoint.public_id}").json()

    assert (shown["active"], shown["disabledReason"], shown["disabledAt"]) == (
        False,
        "The endpoint answered 410 Gone.",
        TIMESTAMP,
    )


def test_delete_answers_the_message_and_removes_it_with_its_deliveries(
    api: APIClient, organization: Organization
) -> None:
    endpoint = EndpointFactory.create(organization=organization)
    organization.name = "Raises organization.updated"
    organization.save()
    fan_out_waiting()  # a worker writes its delivery
    assert Delivery.objects.filter(endpoint=endpoint).exists()

    response = api.delete(f"/api/v1/webhooks/{endpoint.public_id}")

    assert response.status_code == 200
    assert response.json() == {"message": "Webhook deleted successfully"}
    assert not Endpoint.objects.filter(pk=endpoint.pk).exists()
    assert not Delivery.objects.exists()


def test_secret_is_shown_on_request_only(api: APIClient, organization: Organization) -> None:
    endpoint = EndpointFactory.create(organization=organization)

    response = api.get(f"/api/v1/webhooks/{endpoint.public_id}/secret")

    assert response.status_code == 200
    assert response.json() == {"secret": endpoint.secret}
    assert "secret" not in api.get(f"/api/v1/webhooks/{endpoint.public_id}").json()


def test_rotate_secret_answers_the_new_secret_and_when_the_old_one_stops(
    api: APIClient, organization: Organization
) -> None:
    endpoint = EndpointFactory.create(organization=organization)
    old = endpoint.secret

    response = api.post(f"/api/v1/webhooks/{endpoint.public_id}/rotate-secret")

    assert response.status_code == 200
    assert response.json() == {"secret": GENERATED_SECRET, "previousSecretExpiresAt": TIMESTAMP}
    endpoint.refresh_from_db()
    assert (endpoint.secret, endpoint.previous_secret) == (response.json()["secret"], old)
    grace = endpoint.previous_secret_expires_at - timezone.now()  # type: ignore[operator]
    assert timedelta(hours=23, minutes=59) < grace <= timedelta(hours=24)
    assert api.get(f"/api/v1/webhooks/{endpoint.public_id}/secret").json() == {"secret": endpoint.secret}


def test_rotate_secret_takes_a_given_secret(api: APIClient, organization: Organization) -> None:
    endpoint = EndpointFactory.create(organization=organization)

    response = api.post(
        f"/api/v1/webhooks/{endpoint.public_id}/rotate-secret",
        {"secret": "another-secret-of-24-chars"},
        format="json",
    )

    assert response.json()["secret"] == "another-secret-of-24-chars"


def test_deliveries_of_a_disabled_webhook_are_kept_as_skipped(
    api: APIClient, organization: Organization
) -> None:
    endpoint = EndpointFactory.create(organization=organization)
    api.patch(f"/api/v1/webhooks/{endpoint.public_id}", {"active": False}, format="json")

    organization.name = "Renamed"
    organization.save()
    fan_out_waiting()

    assert list(Delivery.objects.values_list("status", flat=True)) == [DeliveryStatus.SKIPPED]
