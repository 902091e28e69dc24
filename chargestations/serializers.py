"""The API representation of the network's objects (also the `data` of their webhooks)."""

from typing import Any

from django.core.validators import RegexValidator
from django.db.models import Model
from rest_framework import serializers

from chargestations.models import Chargestation, Connector, Location, PriceComponent, Rate
from organizations.serializers import (
    AddressSerializer,
    ApiModelSerializer,
    NumberField,
    OrganizationScopedField,
    PublicModelSerializer,
    validate_currency,
    validate_timezone,
)

# An OCPP identity is the last segment of the charger's websocket URL.
endpoint_validator = RegexValidator(
    r"^[A-Za-z0-9._\-:*+|@]+$",
    message="Use letters, digits and . _ - : * + | @ only (it is the last segment of the charger's URL).",
)


class NestedListSerializer(serializers.ListSerializer):
    """An object's nested list (connectors, price components, id tags), never cached on the object.

    It uses the rows a selector prefetched; otherwise it reads them afresh, in one query (with the
    child's `Meta.select_related`). Webhooks serialize the same instance again after each change to
    its children: a list cached by the previous snapshot would make the next one stale.
    """

    def get_attribute(self, instance: Model) -> Any:
        name = str(self.source)
        prefetched = getattr(instance, "_prefetched_objects_cache", {})
        if name in prefetched:
            return prefetched[name]
        select_related = getattr(self.child.Meta, "select_related", ())  # type: ignore[union-attr]
        return getattr(instance, name).select_related(*select_related)


class CoordinatesSerializer(serializers.Serializer):
    """WGS 84 degrees; both numbers, or both null."""

    latitude = NumberField(max_digits=9, decimal_places=6, min_value=-90, max_value=90, allow_null=True)
    longitude = NumberField(max_digits=9, decimal_places=6, min_value=-180, max_value=180, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if set(attrs) != {"latitude", "longitude"}:
            raise serializers.ValidationError("Give both latitude and longitude (null for both to clear).")
        if (attrs["latitude"] is None) != (attrs["longitude"] is None):
            raise serializers.ValidationError("Latitude and longitude are both numbers or both null.")
        return attrs


class LocationSerializer(PublicModelSerializer):
    """A site with chargestations. Only `name` is required."""

    address = AddressSerializer(required=False)
    coordinates = CoordinatesSerializer(source="*", required=False)

    class Meta:
        model = Location
        fields = [
            "_id",
            "name",
            "active",
            "operator_name",
            "address",
            "coordinates",
            "timezone",
            "opening_hours",
            "meta_data",
            "createdAt",
            "updatedAt",
        ]
        extra_kwargs = {"timezone": {"validators": [validate_timezone]}}


class ConnectorSerializer(PublicModelSerializer):
    """One plug of a chargestation; `connector_number` is unique on its station (1, 2, ...)."""

    chargestation = OrganizationScopedField(queryset=Chargestation.objects.all())
    rate = OrganizationScopedField(queryset=Rate.objects.all(), required=False, allow_null=True)

    class Meta:
        model = Connector
        fields = [
            "_id",
            "chargestation",
            "connector_number",
            "status",
            "error_code",
            "active",
            "type",
            "format",
            "power_type",
            "power",
            "rate",
            "createdAt",
            "updatedAt",
        ]
        # A duplicate connector number is checked by the service, with a message that names it.
        validators: list[Any] = []
        list_serializer_class = NestedListSerializer
        select_related = ("rate",)


class ChargestationSerializer(PublicModelSerializer):
    """A charger. `online`, boot info and the last_* times are reported by the charger itself."""

    location = OrganizationScopedField(queryset=Location.objects.all())
    connectors = ConnectorSerializer(many=True, read_only=True)
    has_authorization_key = serializers.BooleanField(
        read_only=True,
        help_text="Whether the charger must connect with an authorization key (HTTP Basic password). "
        "The key itself is shown once, by `POST /chargestations/:id/authorization-key`.",
    )

    class Meta:
        model = Chargestation
        fields = [
            "_id",
            "name",
            "location",
            "endpoint",
            "protocol",
            "active",
            "public",
            "online",
            "open_for_business",
            "vendor",
            "model",
            "charge_point_serial_number",
            "charge_box_serial_number",
            "firmware_version",
            "heartbeat_interval",
            "last_boot_at",
            "last_connect_at",
            "last_disconnect_at",
            "last_message_at",
            "has_authorization_key",
            "authorization_key_set_at",
            "meta_data",
            "connectors",
            "createdAt",
            "updatedAt",
        ]
        # Only the charger gateway knows these: whether it is connected and what it said at boot.
        read_only_fields = [
            "online",
            "vendor",
            "model",
            "charge_point_serial_number",
            "charge_box_serial_number",
            "firmware_version",
            "last_boot_at",
            "last_connect_at",
            "last_disconnect_at",
            "last_message_at",
            "authorization_key_set_at",
        ]
        # Endpoint uniqueness is global and checked by the service ("already in use").
        extra_kwargs = {"endpoint": {"validators": [endpoint_validator]}}


class AuthorizationKeySerializer(serializers.Serializer):
    authorizationKey = serializers.CharField(
        read_only=True,
        help_text="20 letters and digits: the charger's HTTP Basic password. Shown in this answer only.",
    )


class PriceComponentSerializer(ApiModelSerializer):
    """One part of a price (OCPI): price excl. tax, tax in percent."""

    class Meta:
        model = PriceComponent
        fields = ["type", "price", "tax", "step_size", "grace_period"]
        list_serializer_class = NestedListSerializer


class RateSerializer(PublicModelSerializer):
    """A tariff; `price_components` has at most one component of each type."""

    price_components = PriceComponentSerializer(many=True, required=False)

    class Meta:
        model = Rate
        fields = [
            "_id",
            "name",
            "currency",
            "active",
            "minimum_amount",
            "price_components",
            "meta_data",
            "createdAt",
            "updatedAt",
        ]
        extra_kwargs = {"currency": {"validators": [validate_currency]}}

    def validate_price_components(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        seen: set[str] = set()
        for component in value:
            # A PATCH is partial for the rate, never for its components: each replaces one whole.
            if "type" not in component or "price" not in component:
                raise serializers.ValidationError("Each price component needs a type and a price.")
            if component["type"] in seen:
                raise serializers.ValidationError(
                    f"Duplicate price component type {component['type']}: "
                    "a rate has at most one of each type."
                )
            seen.add(component["type"])
        return value
