import secrets
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from edrv_project.db import FieldTracker, PublicModel


class Plan(models.TextChoices):
    FREE = "free", "Free"
    STARTER = "starter", "Starter"
    PRO = "pro", "Pro"
    ENTERPRISE = "enterprise", "Enterprise"


# Webhook endpoints an organization may have at once, by plan (Free has no webhooks at all). Each one
# multiplies every event into a delivery: the cap bounds what one organization asks of the workers.
ENDPOINT_LIMITS = {Plan.FREE: 0, Plan.STARTER: 20, Plan.PRO: 100, Plan.ENTERPRISE: 500}


class Organization(PublicModel):
    name = models.CharField(max_length=200)
    email = models.EmailField(help_text="Where operational alerts (e.g. a disabled webhook) are sent.")
    plan = models.CharField(max_length=20, choices=Plan.choices, default=Plan.FREE)
    currency = models.CharField(max_length=3, default="EUR", help_text="ISO 4217 code.")
    timezone = models.CharField(max_length=64, default="UTC", help_text="IANA time zone name.")
    address = models.JSONField(
        default=dict,
        blank=True,
        help_text="streetAndNumber, city, postalCode, state, country (ISO 3166-1 alpha-2).",
    )
    meta_data = models.JSONField(default=dict, blank=True)

    tracker = FieldTracker()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def organization_id(self) -> int:
        """An organization owns itself: lets the webhooks pipeline treat it like any object."""
        return self.pk


class Role(models.TextChoices):
    """Each role may do what the ones below it may: viewers read; developers also manage webhooks
    and the network; admins also manage members and API keys."""

    ADMIN = "admin", "Admin"
    DEVELOPER = "developer", "Developer"
    VIEWER = "viewer", "Viewer"


ROLE_RANK = {Role.VIEWER: 0, Role.DEVELOPER: 1, Role.ADMIN: 2}


class Scope(models.TextChoices):
    """What an API key may do. Reading is GET, HEAD and OPTIONS; writing is every other method."""

    ALL = "*", "Everything, including what later scopes will cover"
    NETWORK_READ = "network:read", "Read the organization, locations, chargestations, rates, users, sessions"
    NETWORK_WRITE = "network:write", "Change them, start and stop sessions"
    WEBHOOKS_READ = "webhooks:read", "Read webhooks, their events and deliveries"
    WEBHOOKS_WRITE = "webhooks:write", "Register, change, test and delete webhooks; resend deliveries"
    SECRETS_READ = "secrets:read", "Reveal signing secrets and authorization keys"
    KEYS_WRITE = "keys:write", "Create, list and revoke API keys"


class Membership(models.Model):
    """A dashboard login's place in one organization, and what it may do there."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"

    def has_role(self, role: str) -> bool:
        """At least `role`: an admin has the developer's role too."""
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[Role(role)]

    @property
    def can_change(self) -> bool:
        """May manage webhooks and the network."""
        return self.has_role(Role.DEVELOPER)

    @property
    def is_admin(self) -> bool:
        """May manage members and API keys."""
        return self.has_role(Role.ADMIN)


def new_api_key_id() -> str:
    return "key_" + secrets.token_hex(12)


class ApiKey(models.Model):
    """An organization's API key. Only a SHA-256 digest of the key is stored; `prefix` is shown."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_keys")
    public_id = models.CharField(max_length=40, unique=True, default=new_api_key_id, editable=False)
    name = models.CharField(max_length=100, default="default")
    prefix = models.CharField(max_length=32, unique=True)
    key_hash = models.CharField(max_length=64, unique=True)
    # No scope by default: a key opens only what it was given (Scope values; "*" is everything).
    scopes = models.JSONField(default=list, blank=True, help_text="Scope names; * is everything.")
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.organization})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    def grants(self, scope: str) -> bool:
        return Scope.ALL in self.scopes or scope in self.scopes

    def scopes_lacking(self, scopes: Iterable[str]) -> list[str]:
        """Those of `scopes` this key does not hold: a key may give another only what it holds."""
        return [scope for scope in scopes if not self.grants(scope)]


class ActorType(models.TextChoices):
    USER = "user", "User"
    API_KEY = "api_key", "API key"
    SYSTEM = "system", "System"


class AuditEntryAppendOnly(Exception):
    """An audit entry, once written, is never changed or deleted."""


def new_audit_entry_id() -> str:
    return "aud_" + secrets.token_hex(12)


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: object) -> int:
        raise AuditEntryAppendOnly("Audit entries cannot be updated.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditEntryAppendOnly("Audit entries cannot be deleted.")


class AuditEntry(models.Model):
    """Who changed what in an organization, when, and from where: written in the change's transaction
    (organizations.audit.audit_record), never changed afterwards. Holds no secret, key or header value."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="audit_entries")
    public_id = models.CharField(max_length=40, unique=True, default=new_audit_entry_id, editable=False)
    action = models.CharField(max_length=64, help_text="e.g. webhook.created, api_key.revoked.")
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor_id = models.CharField(max_length=64, blank=True, help_text="A user's id or an API key's key_… id.")
    actor_name = models.CharField(max_length=150, blank=True)
    target_id = models.CharField(max_length=150, help_text="The public id of what changed.")
    changes = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    address = models.CharField(max_length=45, blank=True, help_text="The client's address.")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["organization", "-created_at"], name="audit_org_created")]

    def __str__(self) -> str:
        return f"{self.action} {self.target_id} by {self.actor_type} {self.actor_name}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditEntryAppendOnly("Audit entries cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AuditEntryAppendOnly("Audit entries cannot be deleted.")
