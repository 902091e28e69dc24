"""The admin and the v1a scheme: chosen when an endpoint is added or changed (through the endpoint
services, which generate the key pair), its public key shown, its private key never."""

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from organizations.models import AuditEntry, Organization
from tests.factories import EndpointFactory
from webhooks import signing
from webhooks.endpoints.validation import SIGNATURE_SCHEME_INVALID
from webhooks.models import Endpoint

pytestmark = pytest.mark.django_db


def form(**fields: Any) -> dict[str, Any]:
    """An endpoint's form as the admin posts it."""
    return {
        "url": "http://127.0.0.1:9/hook",
        "events": '["location.created"]',
        "alert_emails": "[]",
        "filter": "",
        "locations": "[]",
        "chargestations": "[]",
        "headers": "{}",
        "active": "on",
        **fields,
    }


def change_page(client: Client, endpoint: Endpoint) -> str:
    return client.get(reverse("admin:webhooks_endpoint_change", args=[endpoint.pk])).content.decode()


def test_an_endpoint_added_with_v1a_gets_a_key_pair_and_shows_only_its_public_key(
    admin_client: Client, organization: Organization
) -> None:
    # When an operator adds an endpoint with the v1a scheme
    response = admin_client.post(
        reverse("admin:webhooks_endpoint_add"), form(organization=organization.pk, signature_scheme="v1a")
    )

    # Then the service generated its ed25519 key pair
    assert response.status_code == 302, response.content.decode()
    endpoint = Endpoint.objects.get(organization=organization)
    assert endpoint.signature_scheme == "v1a" and signing.is_private_key(endpoint.secret)
    # And its page shows the public key and the scheme, never a character of the private key
    page = change_page(admin_client, endpoint)
    assert str(endpoint.public_key) in page
    assert "ed25519 private key (v1a, never shown)" in page
    assert endpoint.secret.removeprefix("whsk_")[:8] not in page
    assert '<option value="v1a" selected>' in page


def test_changing_the_scheme_goes_through_the_service(
    admin_client: Client, organization: Organization
) -> None:
    # Given a v1 endpoint, whose page shows no public key
    endpoint = EndpointFactory.create(organization=organization, url="http://127.0.0.1:9/hook")
    secret = endpoint.secret
    page = change_page(admin_client, endpoint)
    assert "Public key" in page and "whpk_" not in page and secret not in page

    # When the operator switches it to v1a
    url = reverse("admin:webhooks_endpoint_change", args=[endpoint.pk])
    response = admin_client.post(url, form(events=json.dumps(endpoint.events), signature_scheme="v1a"))

    # Then a new key pair alone signs, and the change is audited by its scheme, never its key
    assert response.status_code == 302, response.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.signature_scheme == "v1a" and endpoint.live_secrets() == [endpoint.secret]
    assert endpoint.previous_secret == secret
    entry = AuditEntry.objects.get(action="webhook.updated", target_id=endpoint.public_id)
    assert entry.changes == {"signature_scheme": "v1a"}
    # And a form posted without the field keeps it
    admin_client.post(url, form(events=json.dumps(endpoint.events)))
    endpoint.refresh_from_db()
    assert endpoint.signature_scheme == "v1a"


def test_an_unknown_scheme_is_refused_in_the_apis_words(
    admin_client: Client, organization: Organization
) -> None:
    response = admin_client.post(
        reverse("admin:webhooks_endpoint_add"), form(organization=organization.pk, signature_scheme="v2")
    )

    assert response.status_code == 200
    assert SIGNATURE_SCHEME_INVALID.replace('"', "&quot;").replace("'", "&#x27;") in response.content.decode()
    assert not Endpoint.objects.exists()
