"""A webhook's fields as the API reads them, validated by webhooks.endpoints.validation.

The rules and their messages are those of the dashboard and the admin (one module owns them); here
a FieldInvalid becomes a 400 on its field that says what is wrong. This module adds the API's own
fields: content filter, network scopes, custom headers. Scope ids are looked up in the caller's
organization, given as `context["organization"]`.
"""

from collections.abc import Callable
from typing import Any, TypeVar

from django.db.models import Model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from webhooks.endpoints import validation
from webhooks.endpoints.headers import MAX_HEADERS
from webhooks.routing.scopes import MAX_SCOPE_IDS

T = TypeVar("T")

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


def field_error(exc: validation.FieldInvalid) -> serializers.ValidationError:
    """The DRF error on the field: its messages, keyed by the list item's index when one is at fault."""
    if exc.index is not None:
        return serializers.ValidationError({str(exc.index): exc.messages})
    return serializers.ValidationError(exc.messages)


def cleaned(clean: Callable[..., T], *args: Any) -> T:
    """`clean(*args)`, a FieldInvalid becoming the field's 400."""
    try:
        return clean(*args)
    except validation.FieldInvalid as exc:
        raise field_error(exc) from None


@extend_schema_field(OpenApiTypes.OBJECT)
class FilterField(serializers.JSONField):
    """A content filter, validated (webhooks.routing.filters) on the way in; `{}` reads as no filter."""

    def to_internal_value(self, data: Any) -> Any:
        return cleaned(validation.filter_clean, super().to_internal_value(data))


class ScopeField(serializers.ListField):
    """Ids of the caller's own locations or chargestations; repeats are folded."""

    def __init__(self, *, model: type[Model], **kwargs: Any) -> None:
        self.model = model
        kwargs.setdefault("child", serializers.CharField(max_length=40))
        kwargs.setdefault("error_messages", {"max_length": validation.scope_too_many(model)})
        super().__init__(max_length=MAX_SCOPE_IDS, **kwargs)

    def to_internal_value(self, data: Any) -> list[str]:
        ids: list[str] = super().to_internal_value(data)
        if not ids:
            return []
        organization = self.context.get("organization")
        if organization is None:
            raise AssertionError("Checking scope ids needs `organization` in the serializer context.")
        return cleaned(validation.scope_clean, organization.pk, self.model, ids)


class HeadersField(serializers.DictField):
    """Custom headers: names are checked and lower-cased, values checked (webhooks.endpoints.headers)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("child", serializers.CharField(allow_blank=True, trim_whitespace=False))
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> dict[str, str]:
        return cleaned(validation.headers_clean, super().to_internal_value(data))
