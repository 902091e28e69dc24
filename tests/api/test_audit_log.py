"""The audit log: every change to a webhook, every secret reveal and rotation, every API key and member
change writes an entry with its actor, in the change's transaction; entries hold no secret, are never
changed, and `/api/v1/audit-log` (keys with `*`) and the dashboard's page (admins) list them."""

import json
from collections.abc import Sequence
from typing import Any

import pytest
from django.contrib import admin
from django.core.serializers.json import DjangoJSONEncoder
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from organizations.audit import SYSTEM, Actor, audit_record
from organizations.models import (
    ActorType,
    ApiKey,
    AuditEntry,
    AuditEntryAppendOnly,
    Organization,
    Role,
    Scope,
)
from organizations.services import api_key_create
from tests.factories import EndpointFactory, MembershipFactory, OrganizationFactory, UserFactory
from webhooks.delivery.health import endpoint_disable
from webhooks.endpoints import services as endpoint_services
from webhooks.endpoints.services import endpoint_delete, endpoint_update
from webhooks.models import Endpoint

pytestmark = pytest.mark.django_db

CUSTOM_SECRET = "my-own-signing-secret-0123456789-abcdef"
ROTATED_SECRET = "another-signing-secret-0123456789-xyz"
HEADER_VALUE = "Bearer header-credential-0123456789"


def key_client(
    organization: Organization, scopes: Sequence[str] = (Scope.ALL,)
) -> tuple[APIClient, ApiKey, str]:
    api_key, raw_key = api_key_create(organization=organization, name="ci", scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client, api_key, raw_key


def dashboard_client(organization: Organization, role: str = Role.ADMIN) -> tuple[Client, Any]:
    user = UserFactory.create(password=None)
    MembershipFactory.create(user=user, organization=organization, role=role)
    client = Client()
    client.force_login(user)
    return client, user


def entries(organization: Organization, **filters: Any) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(organization=organization, **filters).order_by("pk"))


def test_changes_to_a_webhook_through_the_api_are_audited_with_the_key(organization: Organization) -> None:
    # Given a key
    api, api_key, _ = key_client(organization)

    # When it creates, changes, disables, enables, reveals, rotates and deletes a webhook
    created = api.post(
        "/api/v1/webhooks",
        {
            "url": "http://127.0.0.1:9/hook",
            "events": ["session.started"],
            "headers": {"X-Auth": HEADER_VALUE},
        },
        format="json",
    ).json()
    path = f"/api/v1/webhooks/{created['id']}"
    assert api.patch(path, {"description": "billing"}, format="json").status_code == 200
    assert api.patch(path, {"active": False}, format="json").status_code == 200
    assert api.patch(path, {"active": True}, format="json").status_code == 200
    assert api.get(f"{path}/secret").status_code == 200
    assert api.post(f"{path}/rotate-secret", {}, format="json").status_code == 200
    assert api.delete(path).status_code == 200

    # Then each wrote its entry, by the key, from the client's address, about the webhook
    written = entries(organization, target_id=created["id"])
    assert [entry.action for entry in written] == [
        "webhook.created",
        "webhook.updated",
        "webhook.disabled",
        "webhook.enabled",
        "webhook.secret_revealed",
        "webhook.secret_rotated",
        "webhook.deleted",
    ]
    for entry in written:
        assert (entry.actor_type, entry.actor_id, entry.actor_name) == (
            ActorType.API_KEY,
            api_key.public_id,
            "ci",
        )
        assert entry.address == "127.0.0.1"
    assert written[0].changes["headers"] == ["x-auth"]  # names only
    assert written[1].changes == {"description": "billing"}


def test_api_keys_and_their_revocation_are_audited_with_the_key(organization: Organization) -> None:
    api, api_key, _ = key_client(organization)

    created = api.post(
        "/api/v1/api-keys", {"name": "billing", "scopes": ["network:read"]}, format="json"
    ).json()
    assert api.delete(f"/api/v1/api-keys/{created['id']}").status_code == 200

    written = entries(organization, target_id=created["id"])
    assert [entry.action for entry in written] == ["api_key.created", "api_key.revoked"]
    assert {entry.actor_id for entry in written} == {api_key.public_id}
    assert written[0].changes["scopes"] == ["network:read"]


def test_dashboard_actions_are_audited_with_the_user(organization: Organization) -> None:
    # Given an admin logged in to the dashboard, and an endpoint
    client, user = dashboard_client(organization)
    endpoint = EndpointFactory.create(organization=organization)
    page = f"/developers/webhooks/{endpoint.public_id}/"

    # When they reveal, rotate, disable, enable and delete it, and manage keys and members
    assert client.get(page + "secret", headers={"X-Requested-With": "fetch"}).status_code == 200
    for action in ("rotate-secret", "disable", "enable", "delete"):
        assert client.post(page + action).status_code == 302
    client.post("/developers/api-keys/", {"name": "etl", "scopes": ["network:read"]})
    key = ApiKey.objects.get(name="etl")
    client.post(f"/developers/api-keys/{key.pk}/revoke")
    client.post(
        "/members/",
        {
            "username": "newcomer",
            "email": "n@example.com",
            "role": "viewer",
            "password": "long-passphrase-42",
        },
    )
    member = organization.memberships.get(user__username="newcomer")
    client.post(f"/members/{member.pk}/role", {"role": Role.DEVELOPER})
    client.post(f"/members/{member.pk}/remove")

    # Then every entry names the user
    written = entries(organization, actor_type=ActorType.USER)
    assert [(entry.action, entry.target_id) for entry in written] == [
        ("webhook.secret_revealed", endpoint.public_id),
        ("webhook.secret_rotated", endpoint.public_id),
        ("webhook.disabled", endpoint.public_id),
        ("webhook.enabled", endpoint.public_id),
        ("webhook.deleted", endpoint.public_id),
        ("api_key.created", key.public_id),
        ("api_key.revoked", key.public_id),
        ("member.added", "newcomer"),
        ("member.role_changed", "newcomer"),
        ("member.removed", "newcomer"),
    ]
    assert {(entry.actor_id, entry.actor_name) for entry in written} == {(str(user.pk), user.username)}


def test_the_platform_disabling_a_failing_endpoint_is_the_system(organization: Organization) -> None:
    endpoint = EndpointFactory.create(organization=organization)

    endpoint_disable(endpoint_id=endpoint.pk, reason="The endpoint answered 410 Gone.")

    (entry,) = entries(organization, action="webhook.disabled")
    assert (entry.actor_type, entry.target_id) == (ActorType.SYSTEM, endpoint.public_id)
    assert entry.changes["disabled_reason"] == "The endpoint answered 410 Gone."


def test_the_admin_writes_entries_as_the_operator(admin_client: Client, admin_user: Any) -> None:
    endpoint = EndpointFactory.create()
    admin_client.post(
        "/admin/webhooks/endpoint/",
        {"action": "disable", "_selected_action": [endpoint.pk], "event_type": ""},
    )
    (entry,) = entries(endpoint.organization, action="webhook.disabled")
    assert (entry.actor_type, entry.actor_name) == (ActorType.USER, admin_user.username)


def test_no_secret_reaches_any_entry(organization: Organization) -> None:
    # Given a key, a webhook with its own secret and a credential in a header, rotated to another
    api, _, raw_key = key_client(organization)
    created = api.post(
        "/api/v1/webhooks",
        {
            "url": "http://127.0.0.1:9/hook",
            "events": ["session.started"],
            "secret": CUSTOM_SECRET,
            "headers": {"Authorization": HEADER_VALUE},
        },
        format="json",
    ).json()
    path = f"/api/v1/webhooks/{created['id']}"
    api.patch(path, {"headers": {"Authorization": HEADER_VALUE + "-2"}}, format="json")
    api.get(f"{path}/secret")
    api.post(f"{path}/rotate-secret", {"secret": ROTATED_SECRET}, format="json")
    new_key = api.post("/api/v1/api-keys", {"name": "etl", "scopes": ["*"]}, format="json").json()["key"]
    # And a caller that passes a secret by mistake
    audit_record(
        organization=organization, action="test", actor=SYSTEM, target_id="x", changes={"secret": "s3"}
    )

    # When every entry is serialized, as stored and as the API lists them
    stored = json.dumps(list(AuditEntry.objects.values()), cls=DjangoJSONEncoder)
    listed = api.get("/api/v1/audit-log", {"limit": 500}).content.decode()

    # Then no secret, header value or key is in either
    assert AuditEntry.objects.count() >= 6
    for secret in (CUSTOM_SECRET, ROTATED_SECRET, HEADER_VALUE, raw_key, new_key, "s3"):
        assert secret not in stored
        assert secret not in listed


def test_an_entry_cannot_be_updated_or_deleted(organization: Organization, rf: RequestFactory) -> None:
    entry = audit_record(organization=organization, action="webhook.created", actor=SYSTEM, target_id="wh_1")

    entry.action = "webhook.deleted"
    with pytest.raises(AuditEntryAppendOnly):
        entry.save()
    with pytest.raises(AuditEntryAppendOnly):
        entry.delete()
    with pytest.raises(AuditEntryAppendOnly):
        AuditEntry.objects.filter(pk=entry.pk).update(action="webhook.deleted")
    with pytest.raises(AuditEntryAppendOnly):
        AuditEntry.objects.filter(pk=entry.pk).delete()
    entry.refresh_from_db()
    assert entry.action == "webhook.created"

    # Nor through the admin, for an operator either
    request = rf.get("/")
    request.user = UserFactory.create(is_superuser=True, is_staff=True, password=None)
    entry_admin = admin.site._registry[AuditEntry]
    assert not entry_admin.has_add_permission(request)
    assert not entry_admin.has_change_permission(request, entry)
    assert not entry_admin.has_delete_permission(request, entry)


def test_the_api_lists_and_filters_the_organizations_entries(organization: Organization) -> None:
    # Given entries of this organization and another's
    api, _, _ = key_client(organization)
    someone = Actor(type=ActorType.USER, id="7", name="ada", address="10.0.0.1")
    audit_record(organization=organization, action="webhook.created", actor=someone, target_id="wh_a")
    audit_record(organization=organization, action="webhook.deleted", actor=someone, target_id="wh_a")
    audit_record(organization=organization, action="webhook.created", actor=someone, target_id="wh_b")
    audit_record(
        organization=OrganizationFactory.create(), action="webhook.created", actor=SYSTEM, target_id="wh_c"
    )

    # When the log is listed, whole, by action, by target, a page at a time
    whole = api.get("/api/v1/audit-log").json()
    by_action = api.get("/api/v1/audit-log", {"action": "webhook.created"}).json()
    by_target = api.get("/api/v1/audit-log", {"target": "wh_a"}).json()
    paged = api.get("/api/v1/audit-log", {"limit": 1, "offset": 1}).json()

    # Then only this organization's entries, newest first (its key's creation among them), in camelCase
    assert [e["targetId"] for e in whole["results"]][:3] == ["wh_b", "wh_a", "wh_a"]
    assert "wh_c" not in {e["targetId"] for e in whole["results"]}
    latest = whole["results"][0]
    assert set(latest) == {"id", "action", "actor", "targetId", "changes", "address", "createdAt"}
    assert latest["actor"] == {"type": "user", "id": "7", "name": "ada"}
    assert latest["address"] == "10.0.0.1" and latest["id"].startswith("aud_")
    assert [e["targetId"] for e in by_action["results"]] == ["wh_b", "wh_a"]
    assert [e["action"] for e in by_target["results"]] == ["webhook.deleted", "webhook.created"]
    assert paged["count"] == whole["count"] and [e["targetId"] for e in paged["results"]] == ["wh_a"]


def test_a_key_without_every_scope_is_refused(organization: Organization) -> None:
    every_named_scope = [scope for scope in Scope.values if scope != Scope.ALL]
    api, _, _ = key_client(organization, scopes=every_named_scope)

    response = api.get("/api/v1/audit-log")

    assert response.status_code == 403
    assert response.json()["requiredScope"] == "*"


def test_a_rolled_back_change_writes_no_entry(
    organization: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = EndpointFactory.create(organization=organization, description="old")
    who = Actor(type=ActorType.USER, id="1", name="ada")

    # Given deleting fails after the entry was written
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database gone")

    monkeypatch.setattr(Endpoint, "delete", refuse)
    # When it is deleted; then it fails, and neither the deletion nor its entry happened
    with pytest.raises(RuntimeError):
        endpoint_delete(endpoint=endpoint, actor=who)
    assert Endpoint.objects.filter(pk=endpoint.pk).exists()

    # Given disabling fails after the description was changed and audited
    monkeypatch.setattr(endpoint_services, "endpoint_disable", refuse)
    # When both are asked at once; then neither the change nor its entry stays
    with pytest.raises(RuntimeError):
        endpoint_update(endpoint=endpoint, description="new", active=False, actor=who)
    endpoint.refresh_from_db()
    assert endpoint.description == "old"
    assert entries(organization) == []


def test_the_dashboard_page_is_for_admins(organization: Organization) -> None:
    audit_record(organization=organization, action="api_key.created", actor=SYSTEM, target_id="key_abc")
    admin_client, _ = dashboard_client(organization, Role.ADMIN)
    developer_client, _ = dashboard_client(organization, Role.DEVELOPER)

    page = admin_client.get("/audit-log/")
    assert page.status_code == 200
    assert "key_abc" in page.content.decode() and 'href="/audit-log/"' in page.content.decode()
    assert developer_client.get("/audit-log/").status_code == 403
    assert 'href="/audit-log/"' not in developer_client.get("/").content.decode()
