"""The API representation shared by every object, and the Organization's own.

What these serializers output is also what webhooks carry as `data`, so `.data` must be
plain JSON (no Decimal, no datetime objects) and must not need a request in the context.
"""

import re
import zoneinfo
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from django.db import models
from django.db.models import Model, QuerySet
from django.utils import timezone
from rest_framework import serializers

from edrv_project.json_bounds import json_depth, json_size
from edrv_project.text import NUL_REFUSED, has_nul
from edrv_project.times import utc_timestamp
from organizations.models import ActorType, ApiKey, AuditEntry, Organization, Scope
from organizations.services import scopes_ordered

ISO_CURRENCY = re.compile(r"^[A-Z]{3}$")
ISO_COUNTRY = re.compile(r"^[A-Z]{2}$")


@cache
def _timezone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_timezone(value: str) -> None:
    if value not in _timezone_names():
        raise serializers.ValidationError(f'"{value}" is not an IANA time zone name (e.g. "Europe/Berlin").')


def validate_currency(value: str) -> None:
    if not ISO_CURRENCY.match(value):
        raise serializers.ValidationError(f'"{value}" is not an ISO 4217 currency code (e.g. "EUR").')


class ApiDateTimeField(serializers.DateTimeField):
    """eDRV's timestamps: UTC, milliseconds, `Z` (2021-10-04T08:34:10.863Z)."""

    def to_representation(self, value: datetime | None) -> str | None:  # type: ignore[override]
        if value is None:
            return None
        return utc_timestamp(value)


class NumberField(serializers.DecimalField):
    """A decimal that is a JSON number on the way out, so that `.data` is plain JSON."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("coerce_to_string", False)
        super().__init__(**kwargs)

    def to_representation(self, value: Decimal | None) -> float | None:  # type: ignore[override]
        return None if value is None else float(value)


# Free-form JSON of the network's objects (meta_data, opening_hours...) is copied into every event about
# them, and into every delivery of those: bounded, so that one object cannot make every event huge.
JSON_FIELD_MAX_BYTES = 16 * 1024
JSON_FIELD_MAX_DEPTH = 10


class JsonObjectField(serializers.DictField):
    """A JSON object (meta_data, opening_hours, metrics...): a list or a string is a 400, and so is one
    larger than JSON_FIELD_MAX_BYTES (compact UTF-8 JSON) or nested deeper than JSON_FIELD_MAX_DEPTH (the
    object itself is one level)."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        value: dict[str, Any] = super().to_internal_value(data)
        # Depth first: the other checks walk the value.
        if (depth := json_depth(value)) > JSON_FIELD_MAX_DEPTH:
            raise serializers.ValidationError(
                f"{self.field_name} nests {depth} levels deep; at most {JSON_FIELD_MAX_DEPTH} are allowed."
            )
        if has_nul(value):
            raise serializers.ValidationError(NUL_REFUSED)
        if (size := json_size(value)) > JSON_FIELD_MAX_BYTES:
            raise serializers.ValidationError(
                f"{self.field_name} is {size} bytes of JSON; at most {JSON_FIELD_MAX_BYTES} are allowed."
            )
        return value


class OrganizationScopedField(serializers.SlugRelatedField):
    """Another object referenced by its `_id`, looked up only in the caller's organization.

    An id of another organization reads as "not found", exactly like an id that does not exist.
    The organization comes from the serializer context (`context["organization"]`).
    """

    default_error_messages = {
        "does_not_exist": 'Not found: no {noun} with _id "{value}".',
        "invalid": "Invalid value: expected an _id string.",
    }

    def __init__(
        self,
        *,
        queryset: QuerySet[Any],
        organization_path: str = "organization",
        noun: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.scoped_queryset = queryset
        self.organization_path = organization_path
        self.noun = noun or queryset.model._meta.model_name
        super().__init__(slug_field="public_id", queryset=queryset, **kwargs)

    def get_queryset(self) -> QuerySet[Any]:
        organization = self.context.get("organization")
        if organization is None:
            raise AssertionError("Writing a reference needs `organization` in the serializer context.")
        return self.scoped_queryset.filter(**{self.organization_path: organization})

    def to_internal_value(self, data: Any) -> Model:
        if not isinstance(data, str) or has_nul(data):
            self.fail("invalid")
        found = self.get_queryset().filter(public_id=data).first()
        if found is None:
            self.fail("does_not_exist", noun=self.noun, value=data)
        return found


class AddressSerializer(serializers.Serializer):
    """eDRV's address object; only the keys that were given are stored and shown."""

    streetAndNumber = serializers.CharField(max_length=200, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    postalCode = serializers.CharField(max_length=20, required=False, allow_blank=True)
    state = serializers.CharField(max_length=100, required=False, allow_blank=True)
    country = serializers.RegexField(
        ISO_COUNTRY,
        required=False,
        error_messages={"invalid": "Use an ISO 3166-1 alpha-2 code in capitals (e.g. NL)."},
    )


class ApiModelSerializer(serializers.ModelSerializer):
    """eDRV's conventions for every model serializer.

    Decimals are JSON numbers, datetimes are eDRV's format, JSON fields are objects, and an
    unknown enum value is answered with the list of valid ones.
    """

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DecimalField: NumberField,
        models.DateTimeField: ApiDateTimeField,
        models.JSONField: JsonObjectField,
    }

    def build_standard_field(self, field_name: str, model_field: models.Field) -> tuple[type, dict[str, Any]]:
        field_class, field_kwargs = super().build_standard_field(field_name, model_field)
        if issubclass(field_class, JsonObjectField):
            field_kwargs.pop("encoder", None)
            field_kwargs.pop("decoder", None)
        if "choices" in field_kwargs:
            valid = ", ".join(str(value) for value in dict(field_kwargs["choices"]))
            field_kwargs["error_messages"] = {
                **field_kwargs.get("error_messages", {}),
                "invalid_choice": f'"{{input}}" is not a valid choice. Valid choices: {valid}.',
            }
        return field_class, field_kwargs


class PublicModelSerializer(ApiModelSerializer):
    # An object of the API: its `_id` (the public id, never the database key) and timestamps.
    # (A comment, not a docstring: the schema would show it as every subclass's description.)

    _id = serializers.CharField(source="public_id", read_only=True, label="_id", help_text="The object's id.")
    createdAt = ApiDateTimeField(source="created_at", read_only=True)
    updatedAt = ApiDateTimeField(source="updated_at", read_only=True)


class OrganizationSerializer(PublicModelSerializer):
    """The organization an API key belongs to. Its plan is read-only."""

    address = AddressSerializer(required=False)

    class Meta:
        model = Organization
        fields = [
            "_id",
            "name",
            "email",
            "plan",
            "currency",
            "timezone",
            "address",
            "meta_data",
            "createdAt",
            "updatedAt",
        ]
        # The plan is changed by the platform's operators (billing), never by the customer.
        read_only_fields = ["plan"]
        extra_kwargs = {
            "currency": {"validators": [validate_currency]},
            "timezone": {"validators": [validate_timezone]},
        }


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class ForbiddenSerializer(DetailSerializer):
    requiredScope = serializers.CharField(
        required=False, help_text="The scope this API key lacks for the operation, when that is why."
    )
    missingScopes = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Creating an API key: the scopes asked for that this key does not hold itself.",
    )


class ApiKeyRevokedSerializer(serializers.Serializer):
    message = serializers.CharField()


class ScopesField(serializers.ListField):
    """Scope names: unknown ones are a 400 that names them all (not one error per list index)."""

    child = serializers.ChoiceField(choices=Scope.choices)
    default_error_messages = {"empty": "Choose at least one scope."}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_empty", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[str]:
        if isinstance(data, list):
            unknown = [str(name) for name in data if not isinstance(name, str) or name not in Scope.values]
            if unknown:
                raise serializers.ValidationError(
                    f"Unknown scope{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. "
                    f"Valid scopes: {', '.join(Scope.values)}."
                )
        return scopes_ordered(super().to_internal_value(data))


class ApiKeySerializer(serializers.ModelSerializer):
    """An API key as listed: never the key itself, which only its creation answer shows."""

    id = serializers.CharField(source="public_id", read_only=True, help_text="`key_…`")
    prefix = serializers.CharField(read_only=True, help_text="The key's first characters, to recognise it.")
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=Scope.choices), read_only=True)
    expiresAt = ApiDateTimeField(source="expires_at", read_only=True, allow_null=True)
    createdAt = ApiDateTimeField(source="created_at", read_only=True)
    lastUsedAt = ApiDateTimeField(
        source="last_used_at", read_only=True, allow_null=True, help_text="To the minute; null: never used."
    )
    revokedAt = ApiDateTimeField(source="revoked_at", read_only=True, allow_null=True)

    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "scopes", "expiresAt", "createdAt", "lastUsedAt", "revokedAt"]
        read_only_fields = fields


class ApiKeyCreatedSerializer(serializers.ModelSerializer):
    key = serializers.SerializerMethodField(help_text="The key: shown in this answer only, never again.")
    id = serializers.CharField(source="public_id", read_only=True)
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=Scope.choices), read_only=True)
    expiresAt = ApiDateTimeField(source="expires_at", read_only=True, allow_null=True)
    createdAt = ApiDateTimeField(source="created_at", read_only=True)

    class Meta:
        model = ApiKey
        fields = ["key", "id", "name", "prefix", "scopes", "expiresAt", "createdAt"]
        read_only_fields = fields

    def get_key(self, api_key: ApiKey) -> str:
        raw_key: str = self.context["raw_key"]
        return raw_key


class ApiKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(
        max_length=ApiKey._meta.get_field("name").max_length,
        help_text="What uses it (e.g. billing service): so that you know which one to revoke.",
    )
    scopes = ScopesField(help_text="What the key may do; a key can only give the scopes it holds itself.")
    expiresAt = ApiDateTimeField(
        source="expires_at", required=False, allow_null=True, help_text="Omitted or null: never expires."
    )

    def validate_expiresAt(self, value: datetime | None) -> datetime | None:
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("Choose a moment in the future.")
        return value


class AuditActorSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=ActorType.choices, source="actor_type")
    id = serializers.CharField(
        source="actor_id", help_text="A user's id, an API key's `key_…` id; empty for system."
    )
    name = serializers.CharField(
        source="actor_name", help_text="The username, the API key's name, or system."
    )


class AuditEntrySerializer(serializers.ModelSerializer):
    """Who changed what, when and from where. `changes` holds new values, never a secret or a key."""

    id = serializers.CharField(source="public_id", read_only=True, help_text="`aud_…`")
    actor = AuditActorSerializer(source="*", read_only=True)
    targetId = serializers.CharField(
        source="target_id", read_only=True, help_text="The public id of what changed."
    )
    changes = serializers.DictField(read_only=True, help_text="Changed fields and their new values.")
    createdAt = ApiDateTimeField(source="created_at", read_only=True)

    class Meta:
        model = AuditEntry
        fields = ["id", "action", "actor", "targetId", "changes", "address", "createdAt"]
        read_only_fields = fields
