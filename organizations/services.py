import hashlib
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from organizations.audit import Actor, audit_record
from organizations.models import ApiKey, Membership, Organization, Role, Scope

KEY_PREFIX = "edrv_"
PREFIX_DRAWS = 5
LAST_ADMIN = "The organization needs an admin: make another member an admin first."
ORGANIZATION_FIELDS = ("name", "email", "currency", "timezone", "address", "meta_data")


def api_key_hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_key_create(
    *,
    organization: Organization,
    name: str = "default",
    scopes: Iterable[str] = (Scope.ALL,),
    expires_at: datetime | None = None,
    actor: Actor | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; return it with the raw key, which is never stored and cannot be shown again.

    `scopes` are valid Scope values (the front doors check them, and that whoever asks may give
    them); by default a key has every scope (`*`), as the one `create_organization` prints.
    """
    with transaction.atomic():
        api_key, raw_key = _api_key_insert(
            organization=organization, name=name, scopes=scopes_ordered(scopes), expires_at=expires_at
        )
        audit_record(
            organization=organization,
            action="api_key.created",
            actor=actor,
            target_id=api_key.public_id,
            changes={
                "name": name,
                "prefix": api_key.prefix,
                "scopes": api_key.scopes,
                "expires_at": expires_at,
            },
        )
    return api_key, raw_key


def _api_key_insert(
    *, organization: Organization, name: str, scopes: list[str], expires_at: datetime | None
) -> tuple[ApiKey, str]:
    """A new key under a prefix no other key has: the prefix (shown to tell keys apart) is unique,
    and 48 random bits collide rarely, not never; a prefix taken is drawn again."""
    for draw in range(1, PREFIX_DRAWS + 1):
        prefix = KEY_PREFIX + secrets.token_hex(6)
        raw_key = f"{prefix}_{secrets.token_urlsafe(32)}"
        row = ApiKey(
            organization=organization,
            name=name,
            prefix=prefix,
            key_hash=api_key_hash(raw_key),
            scopes=scopes,
            expires_at=expires_at,
        )
        try:
            with transaction.atomic():
                row.save(force_insert=True)
        except IntegrityError:
            if draw < PREFIX_DRAWS and ApiKey.objects.filter(prefix=prefix).exists():
                continue
            raise
        return row, raw_key
    raise IntegrityError(f"no free API key prefix in {PREFIX_DRAWS} draws")


def scopes_ordered(scopes: Iterable[str]) -> list[str]:
    """Each scope once, in the catalog's order: the form a key's scopes are stored and shown in."""
    given = set(scopes)
    return [scope.value for scope in Scope if scope in given]


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: Actor | None = None) -> None:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        audit_record(
            organization=api_key.organization,
            action="api_key.revoked",
            actor=actor,
            target_id=api_key.public_id,
            changes={"name": api_key.name, "prefix": api_key.prefix},
        )


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
    _, raw_key = api_key_create(organization=organization, scopes=[Scope.ALL])
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


@transaction.atomic
def membership_create(
    *,
    organization: Organization,
    username: str,
    email: str,
    password: str,
    role: str,
    actor: Actor | None = None,
) -> Membership:
    """A new dashboard login in the organization (input already valid: the form checks it)."""
    user = User.objects.create_user(username=username, email=email, password=password)
    membership = Membership.objects.create(user=user, organization=organization, role=role)
    audit_record(
        organization=organization,
        action="member.added",
        actor=actor,
        target_id=username,
        changes={"username": username, "email": email, "role": role},
    )
    return membership


@transaction.atomic
def membership_role_change(*, membership: Membership, role: str, actor: Actor | None = None) -> Membership:
    """Give a member another role; the last admin stays one (ValidationError)."""
    if membership.role == Role.ADMIN and role != Role.ADMIN:
        _another_admin_required(membership)
    if membership.role == role:
        return membership
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        organization=membership.organization,
        action="member.role_changed",
        actor=actor,
        target_id=membership.user.get_username(),
        changes={"role": role},
    )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor: Actor | None = None) -> None:
    """Take a member out of the organization; their login stops working at once.

    A platform operator's login (staff) keeps working for the admin site.
    """
    if membership.role == Role.ADMIN:
        _another_admin_required(membership)
    user = membership.user
    audit_record(
        organization=membership.organization,
        action="member.removed",
        actor=actor,
        target_id=user.get_username(),
        changes={"role": membership.role},
    )
    membership.delete()
    if not user.is_staff:
        user.is_active = False
        user.save(update_fields=["is_active"])


def _another_admin_required(membership: Membership) -> None:
    # The organization's row is the lock: two admins demoting each other at once cannot both win.
    Organization.objects.select_for_update().filter(pk=membership.organization_id).first()
    admins = Membership.objects.filter(organization_id=membership.organization_id, role=Role.ADMIN)
    if not admins.exclude(pk=membership.pk).exists():
        raise ValidationError(LAST_ADMIN)
