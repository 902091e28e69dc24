"""Developers > API keys: a key is shown once at creation, listed by prefix, and can be revoked."""

import re

import pytest
from django.test import Client
from rest_framework.test import APIClient

from organizations.models import ApiKey, Organization
from organizations.services import api_key_create

pytestmark = pytest.mark.django_db


def test_a_created_key_is_shown_once_and_works(admin: Client, organization: Organization) -> None:
    # When a key is created
    response = admin.post("/developers/api-keys/", {"name": "billing service"})
    # Then the page shows it once, with a copy button, and keeps it out of every cache
    html = response.content.decode()
    raw_key = re.search(r'<code id="new-key" class="secret">([^<]+)</code>', html)
    assert raw_key is not None
    assert 'data-copy="new-key"' in html
    assert response["Cache-Control"] == "no-store"
    # And the key opens the API for this organization
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key.group(1)}")
    assert api.get("/api/v1/organization").status_code == 200
    # And it is never shown again: only its prefix is listed
    key = ApiKey.objects.get(organization=organization, name="billing service")
    later = admin.get("/developers/api-keys/").content.decode()
    assert raw_key.group(1) not in later
    assert f"{key.prefix}…" in later and "billing service" in later


def test_keys_are_listed_with_their_last_use(admin: Client, organization: Organization) -> None:
    used, raw_key = api_key_create(organization=organization, name="used")
    api_key_create(organization=organization, name="idle")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    api.get("/api/v1/organization")
    used.refresh_from_db()
    assert used.last_used_at is not None
    html = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", admin.get("/developers/api-keys/").content.decode()))
    assert f"{used.prefix}… used {used.created_at:%Y-%m-%d %H:%M} {used.last_used_at:%Y-%m-%d %H:%M}" in html
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


def test_a_viewer_sees_keys_but_no_controls(viewer: Client, organization: Organization) -> None:
    key, _ = api_key_create(organization=organization)
    html = viewer.get("/developers/api-keys/").content.decode()
    assert f"{key.prefix}…" in html
    assert "Create key" not in html and "Revoke" not in html


def test_a_bad_name_is_refused_inline(admin: Client, organization: Organization) -> None:
    response = admin.post("/developers/api-keys/", {"name": "x" * 101})
    assert response.status_code == 400
    assert "Ensure this value has at most 100 characters" in response.content.decode()
    assert not ApiKey.objects.filter(organization=organization).exists()
