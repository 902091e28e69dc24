"""Developers > API keys: an admin creates a key with scopes and an optional expiry, shown once; keys
are listed by prefix with their scopes, last use and expiry, and can be revoked."""

import re
from datetime import UTC, timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from organizations.models import ApiKey, Organization, Role
from organizations.services import api_key_create
from tests.dashboard.conftest import LoginAs

pytestmark = pytest.mark.django_db


def test_a_created_key_is_shown_once_and_works(admin: Client, organization: Organization) -> None:
    # When a key is created with the scope to read the network, expiring in a year
    expires = (timezone.now() + timedelta(days=365)).astimezone(UTC).replace(second=0, microsecond=0)
    response = admin.post(
        "/developers/api-keys/",
        {"name": "billing service", "scopes": ["network:read"], "expires_at": f"{expires:%Y-%m-%dT%H:%M}"},
    )
    # Then the page shows it once, with a copy button, and keeps it out of every cache
    html = response.content.decode()
    raw_key = re.search(r'<code id="new-key" class="secret">([^<]+)</code>', html)
    assert raw_key is not None
    assert 'data-copy="new-key"' in html
    assert response["Cache-Control"] == "no-store"
    # And the key opens the API for this organization, within its scope, until it expires
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key.group(1)}")
    assert api.get("/api/v1/organization").status_code == 200
    assert api.patch("/api/v1/organization", {"name": "X"}, format="json").status_code == 403
    key = ApiKey.objects.get(organization=organization, name="billing service")
    assert key.scopes == ["network:read"]
    assert key.expires_at == expires
    # And it is never shown again: only its prefix is listed, with its scope and expiry
    later = admin.get("/developers/api-keys/").content.decode()
    assert raw_key.group(1) not in later
    assert f"{key.prefix}…" in later and "billing service" in later
    assert "<code>network:read</code>" in later and f"{expires:%Y-%m-%d %H:%M}" in later


def test_keys_are_listed_with_their_last_use(admin: Client, organization: Organization) -> None:
    used, raw_key = api_key_create(organization=organization, name="used")
    api_key_create(organization=organization, name="idle")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    api.get("/api/v1/organization")
    used.refresh_from_db()
    assert used.last_used_at is not None
    html = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", admin.get("/developers/api-keys/").content.decode()))
    # Each time says its zone
    created, last_used = (f"{at:%Y-%m-%d %H:%M:%S} UTC" for at in (used.created_at, used.last_used_at))
    assert f"{used.prefix}… used {created} {last_used}" in html
    assert "idle" in html and "Never" in html


def test_revoking_a_key(admin: Client, organization: Organization) -> None:
    key, raw_key = api_key_create(organization=organization, name="old")
    response = admin.post(f"/developers/api-keys/{key.pk}/revoke", follow=True)
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert f"API key {key.prefix}… revoked" in response.content.decode()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    assert api.get("/api/v1/organization").status_code == 401


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEVELOPER])
def test_only_admins_see_the_controls(login_as: LoginAs, organization: Organization, role: str) -> None:
    key, _ = api_key_create(organization=organization)
    html = login_as(role).get("/developers/api-keys/").content.decode()
    assert f"{key.prefix}…" in html
    assert "Create key" not in html and "Revoke" not in html
    assert "Only an admin of" in html


def test_an_expired_key_says_so(admin: Client, organization: Organization) -> None:
    api_key_create(organization=organization, name="old", expires_at=timezone.now() - timedelta(days=1))
    html = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", admin.get("/developers/api-keys/").content.decode()))
    assert re.search(r"old .* Expired", html)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"name": "x"}, "Choose at least one scope."),
        (
            {"name": "x", "scopes": ["root"]},
            "Select a valid choice. root is not one of the available choices.",
        ),
        ({"name": "x", "scopes": ["*"], "expires_at": "2001-01-01T00:00"}, "Choose a moment in the future."),
    ],
)
def test_bad_scopes_or_expiry_are_refused_inline(
    admin: Client, organization: Organization, body: dict, error: str
) -> None:
    response = admin.post("/developers/api-keys/", body)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not ApiKey.objects.filter(organization=organization).exists()


def test_a_bad_name_is_refused_inline(admin: Client, organization: Organization) -> None:
    response = admin.post("/developers/api-keys/", {"name": "x" * 101, "scopes": ["*"]})
    assert response.status_code == 400
    assert "Ensure this value has at most 100 characters" in response.content.decode()
    assert not ApiKey.objects.filter(organization=organization).exists()
