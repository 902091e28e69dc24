"""A webhook's delivery options as API fields: content filter, network scopes, custom headers.

Each is validated by the same code the dashboard and the admin use (webhooks.routing.filters,
webhooks.routing.scopes, webhooks.endpoints.headers); a problem is a 400 on its field that says what is wrong.
Scope ids are looked up in the caller's organization, given as `context["organization"]`.
"""

from typing import Any

from django.db.models import Model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from webhooks.endpoints.headers import MAX_HEADERS, HeaderError, headers_validate
from webhooks.routing.filters import FilterError, filter_validate
from webhooks.routing.scopes import MAX_SCOPE_IDS, scope_ids_check

FILTER_HELP = (
    "Only events whose envelope matches are delivered, in the language of Hookdeck Outpost's "
    "destination filters: exact values, nested objects, arrays that contain a value, and the operators "
    "$eq $neq $gt $gte $lt $lte $in $nin $startsWith $endsWith $exist $and $or $not. "
    'E.g. {"data": {"cost": {"amount": {"$gte": 10}}}}. {} or null: no filter.'
)
LOCATIONS_HELP = (
    f"Location ids (at most {MAX_SCOPE_IDS}): only events about these locations (their chargestations, "
    "connectors and sessions included) are delivered, besides events about no place (organization, "
    "user, rate). [] or none: no restriction."
)
CHARGESTATIONS_HELP = (
    f"Chargestation ids (at most {MAX_SCOPE_IDS}): only events about these stations (their connectors "
    "and sessions included) are delivered, besides events about no place. With locations too, an event "
    "about either is delivered. [] or none: no restriction."
)
HEADERS_HELP = (
    f"Extra HTTP headers sent with every delivery (at most {MAX_HEADERS}; names are stored lower-cased). "
    "Content-Type, Content-Length, Host, User-Agent, webhook-*, edrv-signature, edrv-test and "
    "connection headers are reserved. {}: none."
)


@extend_schema_field(OpenApiTypes.OBJECT)
class FilterField(serializers.JSONField):
    """A content filter, validated (webhooks.routing.filters) on the way in; `{}` reads as no filter."""

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        if value == {}:
            return None
        try:
            filter_validate(value)
        except FilterError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value


class ScopeField(serializers.ListField):
    """Ids of the caller's own locations or chargestations; repeats are folded."""

    def __init__(self, *, model: type[Model], **kwargs: Any) -> None:
        self.model = model
        kwargs.setdefault("child", serializers.CharField(max_length=40))
        super().__init__(max_length=MAX_SCOPE_IDS, **kwargs)

    def to_internal_value(self, data: Any) -> list[str]:
        ids: list[str] = super().to_internal_value(data)
        if not ids:
            return []
        organization = self.context.get("organization")
        if organization is None:
            raise AssertionError("Checking scope ids needs `organization` in the serializer context.")
        try:
            return scope_ids_check(organization_id=organization.pk, model=self.model, public_ids=ids)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None


class HeadersField(serializers.DictField):
    """Custom headers: names are checked and lower-cased, values checked (webhooks.endpoints.headers)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("child", serializers.CharField(allow_blank=True, trim_whitespace=False))
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> dict[str, str]:
        try:
            return headers_validate(super().to_internal_value(data))
        except HeaderError as exc:
            raise serializers.ValidationError(str(exc)) from None
