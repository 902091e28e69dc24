"""The outbox: Endpoint (where), Event (what happened), Delivery (one event to one endpoint),
Attempt (one try of a delivery)."""

import secrets

from django.db import models
from django.utils import timezone

from edrv_project.db import new_object_id
from edrv_project.encryption import EncryptedJSONField, EncryptedTextField
from organizations.models import Organization, Plan
from webhooks import signing
from webhooks.signing import secret_generate


def new_endpoint_id() -> str:
    return "wh_" + secrets.token_hex(12)


class SignatureScheme(models.TextChoices):
    """Standard Webhooks' schemes: `v1` HMAC-SHA256 with a shared secret, `v1a` ed25519 signatures."""

    V1 = "v1", "HMAC-SHA256 (v1)"
    V1A = "v1a", "Ed25519 (v1a)"


class Endpoint(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="endpoints")
    public_id = models.CharField(max_length=40, unique=True, default=new_endpoint_id, editable=False)
    # Not a URLField: webhooks.endpoints.validation alone says which URLs are good, amqp(s):// included.
    # Such a URL is stored with its password as `****` (what every page, answer and log shows); the
    # password itself is url_password, encrypted at rest (webhooks/delivery/brokers.py).
    url = models.CharField(max_length=2048)
    url_password = EncryptedTextField(
        blank=True, help_text="The password of an amqp(s):// URL, shown there as ****."
    )
    events = models.JSONField(default=list, help_text="Subscribed event type names.")
    description = models.CharField(max_length=500, blank=True)
    signature_scheme = models.CharField(
        max_length=3,
        choices=SignatureScheme.choices,
        default=SignatureScheme.V1,
        help_text="v1: HMAC with the shared secret; v1a: ed25519, the secret being the private key.",
    )
    # Encrypted at rest (edrv_project/encryption.py); read and written as plain text. Under v1a the
    # secret is the endpoint's ed25519 private key (its public key is shown, never the secret).
    secret = EncryptedTextField(default=secret_generate, help_text="Signs every delivery.")
    previous_secret = EncryptedTextField(blank=True)
    previous_secret_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Until then the previous secret signs beside the new one."
    )
    active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=500, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    alert_emails = models.JSONField(default=list, blank=True, help_text="Also told when it is disabled.")
    rate_limit = models.PositiveIntegerField(null=True, blank=True, help_text="Deliveries per second.")
    filter = models.JSONField(
        null=True, blank=True, help_text="Only events whose envelope matches this filter are delivered."
    )
    locations = models.JSONField(
        default=list, blank=True, help_text="Location ids: only events about these places (none: all)."
    )
    chargestations = models.JSONField(
        default=list, blank=True, help_text="Chargestation ids: only events about these places (none: all)."
    )
    # Encrypted whole: their values are often the customer's own API keys.
    headers = EncryptedJSONField(
        default=dict, blank=True, help_text="Extra HTTP headers sent with every delivery."
    )
    failing_since = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    failing_warned_at = models.DateTimeField(
        null=True, blank=True, help_text="When the owners were warned of this failure streak."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.public_id} {self.url}"

    def deliverable(self, plan: str) -> bool:
        """Its deliveries go out: it is active, and its organization's `plan` has webhooks (Starter up)."""
        return self.active and plan != Plan.FREE

    def live_secrets(self) -> list[str]:
        """The secrets that sign now: the current one, and a rotated-out one in its grace period."""
        secrets = [self.secret]
        expires = self.previous_secret_expires_at
        if self.previous_secret and expires and expires > timezone.now():
            secrets.append(self.previous_secret)
        return secrets

    @property
    def public_key(self) -> str | None:
        """Under v1a, the `whpk_` key its deliveries verify with; None under v1 (a shared secret)."""
        return signing.public_key(self.secret) if self.signature_scheme == SignatureScheme.V1A else None


class Event(models.Model):
    # Every index and check here is paid by every change of the network: only those a query needs.
    # The organization's lookups use the composite indexes below, whose first column it is; no
    # database constraint (its check would lock the organization's row at every commit): the
    # events come from the organization's own objects, and go with it (on_delete, in Django).
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="events", db_index=False, db_constraint=False
    )
    public_id = models.CharField(max_length=40, default=new_object_id, editable=False)
    type = models.CharField(max_length=100)
    object = models.CharField(max_length=50)
    data = models.JSONField()
    ordering_key = models.CharField(
        max_length=64, blank=True, help_text="Events with the same key reach an endpoint in order."
    )
    is_test = models.BooleanField(default=False)
    # Where the event happened, as it was at commit: network scopes are matched against it.
    location_pk = models.BigIntegerField(null=True, blank=True)
    chargestation_pk = models.BigIntegerField(null=True, blank=True)
    fanned_out = models.BooleanField(
        default=False, help_text="Its deliveries are written (a worker matched it against the endpoints)."
    )
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A constraint, not `unique=True`: on PostgreSQL that adds a second (LIKE) index.
            models.UniqueConstraint(fields=["public_id"], name="event_public_id_unique"),
        ]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="event_org_recent"),
            models.Index(fields=["organization", "type", "-created_at"], name="event_org_type_recent"),
            models.Index(fields=["id"], name="event_fan_out_due", condition=models.Q(fanned_out=False)),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.public_id}"


# The columns an event's INSERT writes (webhooks.rows), wherever it is recorded.
EVENT_COLUMNS = (
    "public_id",
    "organization",
    "type",
    "object",
    "data",
    "ordering_key",
    "is_test",
    "location_pk",
    "chargestation_pk",
    "fanned_out",
    "created_at",
)


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    EXPIRED = "expired"  # still undelivered when its event reached the end of the retention period


class Delivery(models.Model):
    # Every index here is written for every delivery, twice (its row, then its outcome): the keys'
    # own indexes would repeat the leading columns of the unique (event, endpoint) and of
    # delivery_endpoint_recent, which serve their lookups.
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    endpoint = models.ForeignKey(
        Endpoint, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    status = models.CharField(max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    ordering_key = models.CharField(max_length=64, blank=True)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(
        null=True, blank=True, help_text="A worker holds it until then; after, anyone may take it."
    )
    claim_token = models.UUIDField(
        null=True, blank=True, help_text="The claim that holds it: only that claim may record an outcome."
    )
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="delivery_one_per_event_endpoint"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_due",
                condition=models.Q(status="pending"),
            ),
            models.Index(fields=["endpoint", "-created_at"], name="delivery_endpoint_recent"),
            models.Index(
                fields=["endpoint", "ordering_key", "id"],
                name="delivery_fifo",
                condition=models.Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} ({self.status})"


class Attempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    created_at = models.DateTimeField(db_index=True)
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)
    succeeded = models.BooleanField(default=False)
    # What the delivery page shows of the exchange (webhooks.delivery.outcomes.exchange_headers):
    # {"request": [[name, value], ...] as sent, custom headers' values null (they may be secrets),
    #  "response": [[name, value], ...] bounded by webhooks.delivery.http, "response_truncated": bool}.
    # The body is not stored: it is the event's envelope, rebuilt byte for byte (webhooks.catalog.payloads).
    headers = models.JSONField(default=dict, blank=True, help_text="Request and response headers.")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"attempt {self.pk} ({self.status_code or self.error})"


class IdempotencyRecord(models.Model):
    """The first answer to a POST sent with an `Idempotency-Key`, replayed for repeats of it."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="unique_idempotency_key"),
        ]

    def __str__(self) -> str:
        return self.key
