from django.db import models

from chargestations.models import Chargestation, Connector, Rate
from edrv_project.db import FieldTracker, PublicModel, SavedWithItsEvents
from organizations.models import Organization


class Driver(PublicModel):
    """A person who charges: eDRV calls drivers "users", and their events are `user.*`."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="drivers")
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True)
    active = models.BooleanField(default=True)
    meta_data = models.JSONField(default=dict, blank=True)

    tracker = FieldTracker()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email or self.public_id


class TokenType(models.TextChoices):
    RFID = "RFID"
    VIRTUAL = "VIRTUAL"


class IdTag(SavedWithItsEvents):
    """An RFID card or virtual token a driver identifies with (OCPP idTag, at most 20 chars)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="id_tags")
    driver = models.ForeignKey(Driver, on_delete=models.CASCADE, related_name="id_tags")
    token = models.CharField(max_length=20)
    type = models.CharField(max_length=10, choices=TokenType.choices, default=TokenType.RFID)
    active = models.BooleanField(default=True)

    tracker = FieldTracker()

    class Meta:
        ordering = ["token"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "token"], name="unique_id_tag_per_org"),
        ]

    def __str__(self) -> str:
        return self.token


class SessionStatus(models.TextChoices):
    CREATED = "created"
    STARTED = "started"
    ENDED = "ended"
    CANCELLED = "cancelled"
    START_FAILED = "start_failed"


class Session(PublicModel):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="sessions")
    driver = models.ForeignKey(
        Driver, on_delete=models.SET_NULL, null=True, blank=True, related_name="sessions"
    )
    chargestation = models.ForeignKey(Chargestation, on_delete=models.PROTECT, related_name="sessions")
    connector = models.ForeignKey(
        Connector, on_delete=models.SET_NULL, null=True, blank=True, related_name="sessions"
    )
    rate = models.ForeignKey(Rate, on_delete=models.SET_NULL, null=True, blank=True, related_name="sessions")
    status = models.CharField(max_length=20, choices=SessionStatus.choices, default=SessionStatus.CREATED)
    failure_reason = models.CharField(
        max_length=200, blank=True, help_text="Why the session failed to start (status start_failed)."
    )
    stop_failure_reason = models.CharField(
        max_length=200, blank=True, help_text="Why the last attempt to stop it failed."
    )
    stop_failed_at = models.DateTimeField(null=True, blank=True)
    transaction_id = models.CharField(
        max_length=36,
        null=True,
        blank=True,
        help_text="The OCPP transaction id: ours for OCPP 1.6J (an integer), the charger's for 2.0.1.",
    )
    id_tag = models.CharField(
        max_length=36,
        blank=True,
        help_text="The token it runs under: an OCPP 1.6J idTag (at most 20 characters) or a 2.0.1 idToken.",
    )
    metrics = models.JSONField(
        default=dict,
        blank=True,
        help_text="chargingStart, chargingStop, meterStart, meterStop, energyPeriod, energyConsumed.",
    )
    energy_report = models.JSONField(
        default=dict,
        blank=True,
        help_text="Latest meter reading: timestamp, current, power, energy_meter, state_of_charge.",
    )
    cost_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, default="EUR")
    ev_charged_at = models.DateTimeField(
        null=True, blank=True, help_text="When the car first stopped drawing power while plugged in."
    )
    ceilings = models.JSONField(
        default=dict,
        blank=True,
        help_text="Limits that stop the session: energy (Wh), time (seconds), cost (the session's currency).",
    )
    energy_ceiling_exceeded_at = models.DateTimeField(null=True, blank=True)
    time_ceiling_exceeded_at = models.DateTimeField(null=True, blank=True)
    cost_ceiling_exceeded_at = models.DateTimeField(null=True, blank=True)
    meta_data = models.JSONField(default=dict, blank=True)

    tracker = FieldTracker()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["chargestation", "transaction_id"], name="unique_transaction_per_station"
            ),
        ]

    def __str__(self) -> str:
        return f"Session {self.public_id} ({self.status})"
