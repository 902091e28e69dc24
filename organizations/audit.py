"""The audit log: who changed what, written by the service that makes the change, in its transaction.

A front door (API view, dashboard view, admin) builds the `Actor` from its request with `actor_of` and
passes it to the service; a service called without one acts for the platform itself ("system").
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from rest_framework.request import Request

from organizations.models import ActorType, ApiKey, AuditEntry, Organization

# Never stored, whatever a caller passes: an audit entry says that a secret changed, not what it is.
SECRET_FIELDS = frozenset({"secret", "previous_secret", "key", "key_hash", "password"})
REDACTED = "[redacted]"


@dataclass(frozen=True)
class Actor:
    """Who acts: a user (id, username), an API key (its key_… id and name, never the key), or the system."""

    type: str
    id: str = ""
    name: str = ""
    address: str = ""


SYSTEM = Actor(type=ActorType.SYSTEM, name="system")


def actor_of(request: HttpRequest | Request) -> Actor:
    """The API key the request authenticated with, else its logged-in user; and its client address."""
    address = request.META.get("REMOTE_ADDR", "") or ""
    api_key = getattr(request, "auth", None)
    if isinstance(api_key, ApiKey):
        return Actor(type=ActorType.API_KEY, id=api_key.public_id, name=api_key.name, address=address)
    user = request.user
    if user is not None and user.is_authenticated:
        return Actor(type=ActorType.USER, id=str(user.pk), name=user.get_username(), address=address)
    return Actor(type=ActorType.SYSTEM, name="system", address=address)


def audit_record(
    *,
    organization: Organization,
    action: str,
    actor: Actor | None,
    target_id: str,
    changes: Mapping[str, Any] | None = None,
    address: str = "",
) -> AuditEntry:
    """Append an entry. Call it inside the change's `transaction.atomic`, so that both commit or neither.

    `changes` are field names and their new values; a secret field's value is replaced by REDACTED.
    """
    actor = actor or SYSTEM
    return AuditEntry.objects.create(
        organization=organization,
        action=action,
        actor_type=actor.type,
        actor_id=actor.id,
        actor_name=actor.name,
        target_id=target_id,
        changes={
            name: REDACTED if name in SECRET_FIELDS else value for name, value in (changes or {}).items()
        },
        address=address or actor.address,
    )
