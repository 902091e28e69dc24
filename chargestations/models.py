from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from edrv_project.db import FieldTracker, PublicModel, SavedWithItsEvents
from organizations.models import Organization


class Location(PublicModel):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="locations")
    name = models.CharField(max_length=200)
    active = models.BooleanField(default=True)
    operator_name = models.CharField(max_length=200, blank=True)
    address = models.JSONField(
        default=dict,
        blank=True,
        help_text="streetAndNumber, city, postalCode, state, country (ISO 3166-1 alpha-2).",
    )
    latitude = models.DecimalField(
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
    )
    longitude = models.DecimalField(
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )
    timezone = models.CharField(max_length=64, default="UTC", help_text="IANA time zone name.")
    opening_hours = models.JSONField(
        default=dict,
        blank=True,
        help_text='OCPI Hours: {"twentyfourseven": true} or {"regular_hours": [...]}.',
    )
    meta_data = models.JSONField(default=dict, blank=True)

    tracker = FieldTracker()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class Protocol(models.TextChoices):
    OCPP16 = "ocpp1.6", "OCPP 1.6J"
    OCPP201 = "ocpp2.0.1", "OCPP 2.0.1"


MIN_HEARTBEAT_INTERVAL = 10  # seconds: every charger message is a database write at most this often


class Chargestation(PublicModel):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="chargestations")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="chargestations")
    name = models.CharField(max_length=200, blank=True)
    endpoint = models.CharField(
        max_length=100,
        unique=True,
        help_text="The OCPP identity the charger connects with (the last path segment of its URL).",
    )
    protocol = models.CharField(max_length=20, choices=Protocol.choices, default=Protocol.OCPP16)
    active = models.BooleanField(default=True, help_text="Inactive stations may not connect.")
    public = models.BooleanField(default=False, help_text="Visible to roaming partners and maps.")
    online = models.BooleanField(default=False)
    open_for_business = models.BooleanField(default=True)
    vendor = models.CharField(max_length=50, blank=True)
    model = models.CharField(max_length=50, blank=True)
    charge_point_serial_number = models.CharField(max_length=50, blank=True)
    charge_box_serial_number = models.CharField(max_length=50, blank=True)
    firmware_version = models.CharField(max_length=50, blank=True)
    heartbeat_interval = models.PositiveIntegerField(
        default=300,
        validators=[MinValueValidator(MIN_HEARTBEAT_INTERVAL)],
        help_text=f"Seconds between a charger's heartbeats, at least {MIN_HEARTBEAT_INTERVAL}.",
    )
    last_boot_at = models.DateTimeField(null=True, blank=True, help_text="Last BootNotification.")
    last_connect_at = models.DateTimeField(null=True, blank=True)
    last_disconnect_at = models.DateTimeField(null=True, blank=True)
    last_message_at = models.DateTimeField(null=True, blank=True)
    meta_data = models.JSONField(default=dict, blank=True)
    # OCPP security profiles 1 and 2: the password a charger connects with (HTTP Basic), stored as
    # its SHA-256 (the key is random and long: a slow hash would only slow every handshake down).
    authorization_key_hash = models.CharField(max_length=64, blank=True, editable=False)
    authorization_key_set_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the charger's authorization key was generated."
    )

    tracker = FieldTracker()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name or self.endpoint

    @property
    def has_authorization_key(self) -> bool:
        return bool(self.authorization_key_hash)


class ConnectorStatus(models.TextChoices):
    """The nine connector states of OCPP 1.6 StatusNotification."""

    AVAILABLE = "Available"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EVSE = "SuspendedEVSE"
    SUSPENDED_EV = "SuspendedEV"
    FINISHING = "Finishing"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"


class ConnectorType(models.TextChoices):
    """OCPI 2.2 ConnectorType, the values chargers in Europe and North America use."""

    TYPE2 = "IEC_62196_T2", "Type 2"
    CCS2 = "IEC_62196_T2_COMBO", "CCS 2"
    TYPE1 = "IEC_62196_T1", "Type 1"
    CCS1 = "IEC_62196_T1_COMBO", "CCS 1"
    CHADEMO = "CHADEMO", "CHAdeMO"
    DOMESTIC_F = "DOMESTIC_F", "Schuko"
    TESLA = "TESLA_S", "Tesla"


class ConnectorFormat(models.TextChoices):
    SOCKET = "SOCKET", "Socket"
    CABLE = "CABLE", "Cable"


class PowerType(models.TextChoices):
    AC_1_PHASE = "AC_1_PHASE", "AC single phase"
    AC_3_PHASE = "AC_3_PHASE", "AC three phase"
    DC = "DC", "DC"


class Rate(PublicModel):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="rates")
    name = models.CharField(max_length=200)
    currency = models.CharField(max_length=3, default="EUR", help_text="ISO 4217 code.")
    active = models.BooleanField(default=True)
    minimum_amount = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        default=0,
        validators=[MinValueValidator(0)],
        help_text="A session never costs less than this (before nothing was charged, it is 0).",
    )
    meta_data = models.JSONField(default=dict, blank=True)

    tracker = FieldTracker()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class PriceComponentType(models.TextChoices):
    FLAT = "FLAT"
    ENERGY = "ENERGY"
    TIME = "TIME"
    PARKING_TIME = "PARKING_TIME"


class PriceComponent(SavedWithItsEvents):
    """One part of a rate's price (OCPI PriceComponent); a rate has at most one of each type."""

    rate = models.ForeignKey(Rate, on_delete=models.CASCADE, related_name="price_components")
    type = models.CharField(max_length=20, choices=PriceComponentType.choices)
    price = models.DecimalField(
        max_digits=10,
        decimal_places=4,
        validators=[MinValueValidator(0)],
        help_text="Excl. tax: per kWh (ENERGY), per hour (TIME, PARKING_TIME) or per session (FLAT).",
    )
    tax = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="Percent.",
    )
    step_size = models.PositiveIntegerField(
        default=1,
        validators=[MinValueValidator(1)],
        help_text="Billing granularity: Wh for ENERGY, seconds for TIME and PARKING_TIME.",
    )
    grace_period = models.PositiveIntegerField(
        default=0, help_text="Minutes free of charge before PARKING_TIME starts to count."
    )

    tracker = FieldTracker()

    class Meta:
        ordering = ["rate", "type"]
        constraints = [
            models.UniqueConstraint(fields=["rate", "type"], name="unique_price_component_type"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.price}"


class Connector(PublicModel):
    chargestation = models.ForeignKey(Chargestation, on_delete=models.CASCADE, related_name="connectors")
    connector_number = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    status = models.CharField(
        max_length=20, choices=ConnectorStatus.choices, default=ConnectorStatus.UNAVAILABLE
    )
    error_code = models.CharField(
        max_length=50, default="NoError", help_text="OCPP 1.6 ChargePointErrorCode."
    )
    active = models.BooleanField(default=True)
    type = models.CharField(max_length=30, choices=ConnectorType.choices, default=ConnectorType.TYPE2)
    format = models.CharField(max_length=10, choices=ConnectorFormat.choices, default=ConnectorFormat.SOCKET)
    power_type = models.CharField(max_length=20, choices=PowerType.choices, default=PowerType.AC_3_PHASE)
    power = models.DecimalField(
        max_digits=7, decimal_places=2, default=22, validators=[MinValueValidator(0)], help_text="kW."
    )
    rate = models.ForeignKey(
        Rate, on_delete=models.SET_NULL, null=True, blank=True, related_name="connectors"
    )

    tracker = FieldTracker()

    class Meta:
        ordering = ["chargestation", "connector_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["chargestation", "connector_number"], name="unique_connector_number"
            ),
            models.CheckConstraint(
                condition=models.Q(connector_number__gte=1), name="connector_number_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.chargestation} #{self.connector_number}"

    @property
    def organization_id(self) -> int:
        return self.chargestation.organization_id
