"""The API representation of drivers ("users") and sessions (also the `data` of their webhooks)."""

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
from sessions_app.models import Driver, IdTag, Session

MAX_ID_TAGS = 50


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
            "meta_data",
            "createdAt",
            "updatedAt",
        ]
        # The charger gateway writes what the charger reports: status, metering, cost.
        read_only_fields = ["status", "transaction_id", "metrics", "energy_report"]
        # One OCPP transaction id per station is the gateway's concern, not the API's.
        validators: list[Any] = []
