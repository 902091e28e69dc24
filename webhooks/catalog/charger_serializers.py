"""The `data` of charger-protocol events (envelope B), as serializers of the changed object.

eDRV events carry an object's API representation; charger-protocol events carry the protocol's own
compact shape (chargeBoxId, connectorId, transactionId...). These serializers produce it
(`webhooks.catalog.payloads.event_data`), and the same classes give it its JSON Schema, the way the API
objects get theirs (`webhooks.schemas.envelopes`).

Each serializes the event's changed object: the station (connection, boot), the connector (status),
or the session (transactions).
"""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chargestations.models import ConnectorStatus
from organizations.serializers import JsonObjectField
from sessions_app.serializers import CostSerializer, TransactionIdField


@extend_schema_field(OpenApiTypes.NUMBER)
class MeterValueField(serializers.Field):
    """A number the charger reported, passed on as it was stored (Wh: an int stays an int)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, allow_null=True, **kwargs)

    def to_representation(self, value: Any) -> Any:
        return value


def _charge_box_id(source: str) -> serializers.CharField:
    return serializers.CharField(source=source, help_text="The charger's OCPP identity (its endpoint).")


class ChargerSerializer(serializers.Serializer):
    """Which charger connected or disconnected."""

    chargeBoxId = _charge_box_id("endpoint")


class ChargerBootSerializer(ChargerSerializer):
    """What the charger said about itself in its BootNotification ("" when it did not say)."""

    chargePointVendor = serializers.CharField(source="vendor")
    chargePointModel = serializers.CharField(source="model")
    chargePointSerialNumber = serializers.CharField(source="charge_point_serial_number")
    chargeBoxSerialNumber = serializers.CharField(source="charge_box_serial_number")
    firmwareVersion = serializers.CharField(source="firmware_version")


class ConnectorStatusChangeSerializer(serializers.Serializer):
    """A connector's StatusNotification."""

    chargeBoxId = _charge_box_id("chargestation.endpoint")
    connectorId = serializers.IntegerField(source="connector_number")
    status = serializers.ChoiceField(choices=ConnectorStatus.choices)
    errorCode = serializers.CharField(source="error_code", help_text="OCPP 1.6 ChargePointErrorCode.")


class TransactionSerializer(serializers.Serializer):
    """A charging session as the charger knows it: a transaction on one of its connectors."""

    transactionId = TransactionIdField()
    chargeBoxId = _charge_box_id("chargestation.endpoint")
    connectorId = serializers.IntegerField(source="connector.connector_number", allow_null=True)
    idTag = serializers.CharField(source="id_tag", help_text="The token that authorized it.")
    meterStart = MeterValueField(source="metrics.meterStart", help_text="Wh on the meter at the start.")


class TransactionUpdateSerializer(TransactionSerializer):
    """A running transaction with the charger's latest meter reading."""

    energyReport = JsonObjectField(
        source="energy_report",
        allow_null=True,
        help_text="Latest meter reading: timestamp, current, power, energy_meter, state_of_charge.",
    )


class TransactionStopSerializer(TransactionSerializer):
    """A finished transaction: the meter at the stop, the energy delivered, what it cost."""

    meterStop = MeterValueField(source="metrics.meterStop", help_text="Wh on the meter at the stop.")
    energyConsumed = MeterValueField(source="metrics.energyConsumed", help_text="Wh delivered.")
    cost = CostSerializer(source="*", read_only=True)


CHARGER_SERIALIZERS: dict[str, type[serializers.Serializer]] = {
    "charger.connected": ChargerSerializer,
    "charger.disconnected": ChargerSerializer,
    "charger.boot": ChargerBootSerializer,
    "connector.status_changed": ConnectorStatusChangeSerializer,
    "transaction.started": TransactionSerializer,
    "transaction.updated": TransactionUpdateSerializer,
    "transaction.stopped": TransactionStopSerializer,
}
