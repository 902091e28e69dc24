import hashlib
import secrets
from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from organizations.models import ApiKey, Membership, Organization, Role

KEY_PREFIX = "edrv_"
ORGANIZATION_FIELDS = ("name", "email", "currency", "timezone", "address", "meta_data")


def api_key_hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_key_create(*, organization: Organization, name: str = "default") -> tuple[ApiKey, str]:
    """Create a key; return it with the raw key, which is never stored and cannot be shown again."""
    prefix = KEY_PREFIX + secrets.token_hex(4)
    raw_key = f"{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        organization=organization, name=name, prefix=prefix, key_hash=api_key_hash(raw_key)
    )
    return api_key, raw_key


def api_key_revoke(*, api_key: ApiKey) -> None:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])


def api_key_touch(*, api_key: ApiKey) -> None:
    """Record use, at most once a minute per key, so that reads do not all become writes."""
    now = timezone.now()
    if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now


@transaction.atomic
def organization_create(
    *,
    name: str,
    email: str,
    plan: str,
    owner_username: str | None = None,
    owner_password: str | None = None,
) -> tuple[Organization, str]:
    """Create an organization (and, with an owner, its admin login); return it with an API key."""
    organization = Organization.objects.create(name=name, email=email, plan=plan)
    if owner_username:
        user = User.objects.create_user(username=owner_username, email=email, password=owner_password)
        Membership.objects.create(user=user, organization=organization, role=Role.ADMIN)
    _, raw_key = api_key_create(organization=organization)
    return organization, raw_key


@transaction.atomic
def organization_update(*, organization: Organization, data: Mapping[str, Any]) -> Organization:
    """Change the given details; `plan` is not among them (an operator decision)."""
    changed = False
    for name in ORGANIZATION_FIELDS:
        if name in data and getattr(organization, name) != data[name]:
            setattr(organization, name, data[name])
            changed = True
    if changed:
        organization.save()
    return organization
