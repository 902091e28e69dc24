from django.conf import settings
from django.db import models
from model_utils import FieldTracker

from edrv_project.db import PublicModel


class Plan(models.TextChoices):
    FREE = "free", "Free"
    STARTER = "starter", "Starter"
    PRO = "pro", "Pro"
    ENTERPRISE = "enterprise", "Enterprise"


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
    ADMIN = "admin", "Admin"
    DEVELOPER = "developer", "Developer"
    VIEWER = "viewer", "Viewer"


class Membership(models.Model):
    """A dashboard login's place in one organization, and what it may do there."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"

    @property
    def can_change(self) -> bool:
        return self.role in (Role.ADMIN, Role.DEVELOPER)


class ApiKey(models.Model):
    """An organization's API key. Only a SHA-256 digest of the key is stored; `prefix` is shown."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, default="default")
    prefix = models.CharField(max_length=32, unique=True)
    key_hash = models.CharField(max_length=64, unique=True)
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
