"""`/api/v1/api-keys`: a key is shown once and stored hashed, carries scopes, may expire, and can be
revoked; a key gives another only the scopes it holds itself."""

import hashlib
import re
import secrets
from collections.abc import Callable, Sequence
from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from rest_framework.test import APIClient

from organizations.models import ApiKey, Organization, Scope
from organizations.services import api_key_create

pytestmark = pytest.mark.django_db

KeyWith = Callable[[Sequence[str]], APIClient]
LISTED_FIELDS = {"id", "name", "prefix", "scopes", "expiresAt", "createdAt", "lastUsedAt", "revokedAt"}


@pytest.fixture
def key_with(organization: Organization) -> KeyWith:
    def make(scopes: Sequence[str]) -> APIClient:
        _, raw_key = api_key_create(organization=organization, scopes=scopes)
        return bearer(raw_key)

    return make


def bearer(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def test_a_created_key_is_answered_once_stored_hashed_and_works(
    organization: Organization, key_with: KeyWith
) -> None:
    manager = key_with([Scope.KEYS_WRITE, Scope.NETWORK_READ])
    expires = (timezone.now() + timedelta(days=30)).replace(microsecond=0)

    # When a key is created with a scope and an expiry
    response = manager.post(
        "/api/v1/api-keys",
        {"name": "billing", "scopes": ["network:read"], "expiresAt": expires.isoformat()},
        format="json",
    )

    # Then the answer carries the key, once, with what it may do
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"key", "id", "name", "prefix", "scopes", "expiresAt", "createdAt"}
    assert body["name"] == "billing" and body["scopes"] == ["network:read"]
    assert body["expiresAt"] == expires.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert re.fullmatch(r"key_[0-9a-f]{24}", body["id"])
    assert body["key"].startswith(body["prefix"] + "_")
    assert response["Cache-Control"] == "no-store"
    # And only a digest of it is stored
    stored = ApiKey.objects.get(public_id=body["id"])
    assert stored.key_hash == hashlib.sha256(body["key"].encode()).hexdigest()
    assert body["key"] not in {str(value) for value in stored.__dict__.values()}
    # And it works, within its scopes
    new_key = bearer(body["key"])
    assert new_key.get("/api/v1/locations").status_code == 200
    assert new_key.post("/api/v1/locations", {"name": "X"}, format="json").status_code == 403
    # And it is never shown again
    assert body["key"] not in manager.get("/api/v1/api-keys").content.decode()
    assert body["key"] not in manager.get(f"/api/v1/api-keys/{body['id']}").content.decode()


def test_keys_are_listed_paginated_without_the_key(organization: Organization, key_with: KeyWith) -> None:
    used, raw_key = api_key_create(organization=organization, name="used", scopes=[Scope.NETWORK_READ])
    bearer(raw_key).get("/api/v1/locations")
    api_key_create(organization=Organization.objects.create(name="Other", email="o@example.com"))

    response = key_with([Scope.KEYS_WRITE]).get("/api/v1/api-keys?limit=1")

    assert response.status_code == 200
    page = response.json()
    assert page["count"] == 2  # "used" and the manager's own key; not the other organization's
    assert page["next"] is not None
    assert set(page["results"][0]) == LISTED_FIELDS
    listed = {
        key["name"]: key for key in key_with([Scope.KEYS_WRITE]).get("/api/v1/api-keys").json()["results"]
    }
    assert listed["used"]["prefix"] == used.prefix
    assert listed["used"]["scopes"] == ["network:read"]
    assert listed["used"]["lastUsedAt"] is not None
    assert listed["used"]["expiresAt"] is None and listed["used"]["revokedAt"] is None
    assert raw_key not in response.content.decode()


def test_revoking_a_key(organization: Organization, key_with: KeyWith) -> None:
    doomed, raw_key = api_key_create(organization=organization, scopes=[Scope.NETWORK_READ])
    manager = key_with([Scope.KEYS_WRITE])

    response = manager.delete(f"/api/v1/api-keys/{doomed.public_id}")

    assert response.status_code == 200
    assert response.json() == {"message": "API key revoked: it no longer works."}
    assert bearer(raw_key).get("/api/v1/locations").status_code == 401
    listed = manager.get(f"/api/v1/api-keys/{doomed.public_id}").json()
    assert listed["revokedAt"] is not None


def test_another_organizations_key_is_404(key_with: KeyWith) -> None:
    theirs, raw_key = api_key_create(
        organization=Organization.objects.create(name="O", email="o@example.com")
    )

    manager = key_with([Scope.KEYS_WRITE])

    assert manager.get(f"/api/v1/api-keys/{theirs.public_id}").status_code == 404
    assert manager.delete(f"/api/v1/api-keys/{theirs.public_id}").status_code == 404
    assert bearer(raw_key).get("/api/v1/locations").status_code == 200


@pytest.mark.parametrize(
    ("held", "asked", "missing"),
    [
        ([Scope.KEYS_WRITE], ["network:read"], ["network:read"]),
        ([Scope.KEYS_WRITE, Scope.NETWORK_READ], ["network:read", "network:write", "secrets:read"],
         ["network:write", "secrets:read"]),
        ([Scope.KEYS_WRITE, Scope.NETWORK_READ, Scope.NETWORK_WRITE, Scope.WEBHOOKS_READ,
          Scope.WEBHOOKS_WRITE, Scope.SECRETS_READ], ["*"], ["*"]),
    ],
)  # fmt: skip
def test_a_key_cannot_give_scopes_it_does_not_hold(
    organization: Organization, key_with: KeyWith, held: list[str], asked: list[str], missing: list[str]
) -> None:
    manager = key_with(held)
    before = ApiKey.objects.count()

    response = manager.post("/api/v1/api-keys", {"name": "escalate", "scopes": asked}, format="json")

    assert response.status_code == 403
    assert response.json()["missingScopes"] == missing
    assert all(scope in response.json()["detail"] for scope in missing)
    assert ApiKey.objects.count() == before


def test_a_key_with_every_scope_may_give_any(key_with: KeyWith) -> None:
    response = key_with([Scope.ALL]).post("/api/v1/api-keys", {"name": "all", "scopes": ["*"]}, format="json")
    assert response.status_code == 201
    assert response.json()["scopes"] == ["*"]


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {"name": "x", "scopes": ["network:read", "root", "webhooks:everything"]},
            {"scopes": [
                "Unknown scopes: root, webhooks:everything. Valid scopes: *, network:read, network:write, "
                "webhooks:read, webhooks:write, secrets:read, keys:write."
            ]},
        ),
        ({"name": "x", "scopes": []}, {"scopes": ["Choose at least one scope."]}),
        (
            {"name": "x", "scopes": "network:read"},
            {"scopes": ['Expected a list of items but got type "str".']},
        ),
        ({"scopes": ["network:read"]}, {"name": ["This field is required."]}),
        (
            {"name": "x", "scopes": ["network:read"], "expiresAt": "2001-01-01T00:00:00Z"},
            {"expiresAt": ["Choose a moment in the future."]},
        ),
    ],
)  # fmt: skip
def test_bad_input_is_a_400_naming_it(key_with: KeyWith, body: dict, errors: dict) -> None:
    response = key_with([Scope.ALL]).post("/api/v1/api-keys", body, format="json")

    assert response.status_code == 400
    assert response.json() == errors


def test_scopes_are_stored_once_each_in_order(key_with: KeyWith) -> None:
    body = {"name": "x", "scopes": ["webhooks:read", "network:read", "webhooks:read"]}
    response = key_with([Scope.ALL]).post("/api/v1/api-keys", body, format="json")
    assert response.json()["scopes"] == ["network:read", "webhooks:read"]


def test_an_expired_key_is_a_401_saying_so(organization: Organization) -> None:
    # Given a key that expired a minute ago
    expired_at = timezone.now() - timedelta(minutes=1)
    api_key, raw_key = api_key_create(organization=organization, expires_at=expired_at)

    response = bearer(raw_key).get("/api/v1/locations")

    assert response.status_code == 401
    when = expired_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert response.json() == {"detail": f"This API key expired at {when}."}
    api_key.refresh_from_db()
    assert api_key.last_used_at is None


def test_a_key_works_until_it_expires(organization: Organization) -> None:
    _, raw_key = api_key_create(organization=organization, expires_at=timezone.now() + timedelta(minutes=1))
    assert bearer(raw_key).get("/api/v1/locations").status_code == 200


def test_the_api_keys_routes_need_keys_write(key_with: KeyWith) -> None:
    everything_else = [scope for scope in Scope.values if scope not in (Scope.ALL, Scope.KEYS_WRITE)]
    response = key_with(everything_else).post(
        "/api/v1/api-keys", {"name": "x", "scopes": ["network:read"]}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["requiredScope"] == "keys:write"


@pytest.mark.django_db(transaction=True)
def test_keys_made_before_scopes_keep_every_scope() -> None:
    # Given a key stored before keys had scopes (the schema as of the migration that added them)
    executor = MigrationExecutor(connection)
    before, latest = (
        [("organizations", "0002_apikey_scopes_expiry_public_id")],
        executor.loader.graph.leaf_nodes(),
    )
    executor.migrate(before)
    old_apps = executor.loader.project_state(before).apps
    organization = old_apps.get_model("organizations", "Organization").objects.create(
        name="Old", email="o@x.io"
    )
    for prefix in ("edrv_old1", "edrv_old2"):
        old_apps.get_model("organizations", "ApiKey").objects.create(
            organization=organization, prefix=prefix, key_hash=prefix
        )
    # When the migrations run to the end
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(latest)
    # Then each key may do everything, as before, and has a public id of its own
    keys = list(ApiKey.objects.filter(prefix__startswith="edrv_old"))
    assert [key.scopes for key in keys] == [["*"], ["*"]]
    assert len({key.public_id for key in keys}) == 2
    assert all(re.fullmatch(r"key_[0-9a-f]{24}", key.public_id) for key in keys)


def test_a_new_key_whose_drawn_prefix_is_taken_draws_another(
    organization: Organization, key_with: KeyWith, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a key, and a random source whose next prefix draws (6 bytes) are that key's, then a fresh one
    taken, _ = api_key_create(organization=organization)
    manager = key_with([Scope.ALL])
    draws = [taken.prefix.removeprefix("edrv_"), "0123456789ab"]
    drawn = secrets.token_hex

    def token_hex(size: int) -> str:
        return draws.pop(0) if draws and size == 6 else drawn(size)

    monkeypatch.setattr(secrets, "token_hex", token_hex)

    # When a key is created
    response = manager.post("/api/v1/api-keys", {"name": "second", "scopes": ["network:read"]}, format="json")

    # Then it is, under the fresh prefix, and works
    assert draws == []
    assert response.status_code == 201, response.content
    assert response.json()["prefix"] == "edrv_0123456789ab"
    assert bearer(response.json()["key"]).get("/api/v1/locations").status_code == 200
