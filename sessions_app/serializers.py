"""The API representation of drivers ("users") and sessions (also the `data` of their webhooks)."""

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chargestations.models import Chargestation, Connector, Protocol, Rate
from chargestations.serializers import NestedListSerializer
from organizations.serializers import (
    ApiModelSerializer,
    NumberField,
    OrganizationScopedField,
    PublicModelSerializer,
)
from sessions_app.ceilings import KINDS
from sessions_app.models import Driver, IdTag, Session

MAX_ID_TAGS = 50
ID_TAG_16_LENGTH = 20  # OCPP 1.6J's idTag; 2.0.1's idToken has up to 36
MAX_ENERGY_CEILING = 10_000_000  # Wh: 10 MWh, past any battery
MAX_TIME_CEILING = 30 * 24 * 3600  # seconds: 30 days


class IdTagSerializer(ApiModelSerializer):
    """An RFID card or virtual token (the OCPP idTag); unique in the organization."""

    class Meta:
        model = IdTag
        fields = ["token", "type", "active"]
        list_serializer_class = NestedListSerializer


class DriverSerializer(PublicModelSerializer):
    """eDRV calls drivers "users": `/api/v1/users`, `user.*` events."""

    id_tags = IdTagSerializer(many=True, required=False)

    class Meta:
        model = Driver
        fields = [
            "_id",
            "first_name",
            "last_name",
            "email",
            "phone",
            "active",
            "id_tags",
            "meta_data",
            "createdAt",
            "updatedAt",
        ]

    def validate_id_tags(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if len(value) > MAX_ID_TAGS:  # every user event carries them all
            raise serializers.ValidationError(f"A user has at most {MAX_ID_TAGS} id tags.")
        seen: set[str] = set()
        for tag in value:
            # A PATCH is partial for the user, never for its tags: each replaces one whole.
            if "token" not in tag:
                raise serializers.ValidationError("Each id tag needs a token.")
            if tag["token"] in seen:
                raise serializers.ValidationError(f'Token "{tag["token"]}" is listed twice.')
            seen.add(tag["token"])
        return value


@extend_schema_field(
    {
        "oneOf": [{"type": "integer"}, {"type": "string", "maxLength": 36}],
        "nullable": True,
        "description": "The OCPP transaction id: an integer for OCPP 1.6J, the charger's string for 2.0.1.",
    }
)
class TransactionIdField(serializers.Field):
    """A session's OCPP transaction id as its charger's protocol writes it (null before it starts)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, session: Session) -> int | str | None:
        if session.transaction_id is None:
            return None
        value = str(session.transaction_id)
        if value.isdigit() and session.chargestation.protocol == Protocol.OCPP16:
            return int(value)
        return value


class CostSerializer(serializers.Serializer):
    """What the session costs so far, computed by the platform."""

    amount = NumberField(source="cost_amount", max_digits=12, decimal_places=2, read_only=True)
    currency = serializers.CharField(read_only=True)


_ABOVE_ZERO: dict[str, Any] = {"min_value": "A ceiling is more than 0."}


class CeilingsSerializer(serializers.Serializer):
    """Limits that stop the session once metering reaches them; each optional, only those set are shown.

    Each one reached raises its `session.stop_<kind>_ceiling_exceeded` once, and the chargestation is
    asked to stop the session.
    """

    energy = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ENERGY_CEILING,
        error_messages=_ABOVE_ZERO,
        help_text="Wh delivered (metrics.energyConsumed).",
    )
    time = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_TIME_CEILING,
        error_messages=_ABOVE_ZERO,
        help_text="Seconds since charging started (metrics.chargingStart).",
    )
    cost = NumberField(
        required=False,
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        error_messages=_ABOVE_ZERO,
        help_text="What the session costs (cost.amount), in its currency.",
    )

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise serializers.ValidationError(
                "Expected an object with energy, time and/or cost (null or {} for none)."
            )
        if unknown := sorted(str(key) for key in data if key not in KINDS):
            raise serializers.ValidationError(
                {key: ["Not a ceiling: the ceilings are energy, time and cost."] for key in unknown}
            )
        return super().to_internal_value(data)


class SessionSerializer(PublicModelSerializer):
    """A charging session. Status, metering and cost come from the charger, read-only here."""

    user = OrganizationScopedField(
        source="driver", queryset=Driver.objects.all(), noun="user", required=False, allow_null=True
    )
    chargestation = OrganizationScopedField(queryset=Chargestation.objects.all())
    connector = OrganizationScopedField(
        queryset=Connector.objects.all(),
        organization_path="chargestation__organization",
        required=False,
        allow_null=True,
    )
    rate = OrganizationScopedField(queryset=Rate.objects.all(), required=False, allow_null=True)
    cost = CostSerializer(source="*", read_only=True)
    transaction_id = TransactionIdField()
    ceilings = CeilingsSerializer(
        required=False,
        allow_null=True,
        help_text="Replaced whole on a PATCH (null or {} removes them); fixed once the session is over.",
    )

    class Meta:
        model = Session
        fields = [
            "_id",
            "user",
            "chargestation",
            "connector",
            "rate",
            "status",
            "failure_reason",
            "stop_failure_reason",
            "transaction_id",
            "id_tag",
            "metrics",
            "energy_report",
            "cost",
            "ev_charged_at",
            "ceilings",
            "energy_ceiling_exceeded_at",
            "time_ceiling_exceeded_at",
            "cost_ceiling_exceeded_at",
            "meta_data",
            "createdAt",
            "updatedAt",
        ]
        # The charger gateway writes what the charger reports (status, metering, cost) and when
        # metering reached a ceiling.
        read_only_fields = [
            "status",
            "transaction_id",
            "metrics",
            "energy_report",
            "energy_ceiling_exceeded_at",
            "time_ceiling_exceeded_at",
            "cost_ceiling_exceeded_at",
        ]
        extra_kwargs = {
            f"{kind}_ceiling_exceeded_at": {
                "help_text": f"When metering reached the {kind} ceiling; null: not yet."
            }
            for kind in KINDS
        }
        # One OCPP transaction id per station is the gateway's concern, not the API's.
        validators: list[Any] = []

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        station = attrs.get("chargestation") or getattr(self.instance, "chargestation", None)
        id_tag = attrs.get("id_tag") or ""
        if station is not None and station.protocol == Protocol.OCPP16 and len(id_tag) > ID_TAG_16_LENGTH:
            limit = f"An OCPP 1.6J chargestation takes idTags of at most {ID_TAG_16_LENGTH} characters."
            raise serializers.ValidationError({"id_tag": limit})
        return attrs
