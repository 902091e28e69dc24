"""The `data` of operational events (`webhook.*`, `delivery.exhausted`): a webhook, or a delivery.

What the API shows of them (webhooks.api.serializers: WebhookSerializer, DeliverySerializer), field
for field and under the same names, without anything secret: never a signing secret (under v1a, the
private key) and custom headers by name only, their values being often the customer's own API keys.
The fields are listed here, not inherited, so that a field the API gains reaches events only when
someone decides it may. Both add what the news is about: the webhook's failure streak, and the
failed attempt that the event reports (`lastError`).

A `lastError` is the unsaved or saved Attempt set on the instance by `with_last_error`; without it,
null. The classes give the schemas too (webhooks.schemas.envelopes), as the other objects' do.
"""

from typing import Any, TypeVar

from django.db.models import Model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from organizations.serializers import ApiDateTimeField
from webhooks.models import Attempt, DeliveryStatus

M = TypeVar("M", bound=Model)


def with_last_error(instance: M, attempt: Attempt | None) -> M:
    """`instance` (an Endpoint or a Delivery) carrying the failed attempt its event reports."""
    instance.last_error = attempt  # type: ignore[attr-defined]
    return instance


def webhook_of(object_name: str, data: Any) -> str | None:
    """The id (`wh_…`) of the webhook an operational event's `data` is about; None for other objects."""
    if not isinstance(data, dict):
        return None
    if object_name == "webhook":
        return data.get("id")
    if object_name == "delivery":
        return data.get("webhook")
    return None


class _NullWhenBlank(serializers.CharField):
    def to_representation(self, value: Any) -> str | None:  # type: ignore[override]
        return str(value) if value else None


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class HeaderNamesField(serializers.Field):
    """A webhook's custom headers, by name only."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value: dict[str, str]) -> list[str]:
        return sorted(value)


class FailedAttemptSerializer(serializers.Serializer):
    """A failed attempt: when, what came back (or why nothing did), how long it took."""

    createdAt = ApiDateTimeField(source="created_at")
    statusCode = serializers.IntegerField(
        source="status_code", allow_null=True, help_text="null: no HTTP answer (see `error`)."
    )
    error = serializers.CharField(help_text='Why no answer came ("" when one did).')
    responseExcerpt = serializers.CharField(source="response_excerpt", help_text="The answer's first bytes.")
    durationMs = serializers.IntegerField(source="duration_ms")


_LAST_ERROR_HELP = (
    "The failed attempt this news is about (webhook.disabled, webhook.failing: the webhook's last attempt, "
    "when it failed; delivery.exhausted: the delivery's last attempt); null otherwise."
)


class WebhookDataSerializer(serializers.Serializer):
    """A webhook as the API shows it, without its secret and with its headers' names only."""

    id = serializers.CharField(source="public_id", help_text="The webhook's id (`wh_…`).")
    url = serializers.CharField()
    events = serializers.ListField(child=serializers.CharField(), help_text="Subscribed event types.")
    active = serializers.BooleanField()
    description = serializers.CharField()
    alertEmails = serializers.ListField(source="alert_emails", child=serializers.EmailField())
    rateLimit = serializers.IntegerField(
        source="rate_limit", allow_null=True, help_text="Deliveries per second; null: no limit."
    )
    filter = serializers.DictField(allow_null=True, help_text="Its content filter; null: none.")
    locations = serializers.ListField(
        child=serializers.CharField(), help_text="Location ids it is scoped to."
    )
    chargestations = serializers.ListField(
        child=serializers.CharField(), help_text="Chargestation ids it is scoped to."
    )
    headers = HeaderNamesField(help_text="The names of its custom headers (never their values).")
    signatureScheme = serializers.CharField(
        source="signature_scheme", help_text='"v1" (HMAC) or "v1a" (ed25519).'
    )
    publicKey = serializers.CharField(
        source="public_key",
        allow_null=True,
        help_text="v1a: the key its deliveries verify with; null under v1.",
    )
    disabledReason = _NullWhenBlank(
        source="disabled_reason", allow_null=True, help_text="Why it is disabled; null while active."
    )
    disabledAt = ApiDateTimeField(source="disabled_at", allow_null=True)
    failingSince = ApiDateTimeField(
        source="failing_since",
        allow_null=True,
        help_text="Its first failure in a row; null: its last attempt succeeded.",
    )
    consecutiveFailures = serializers.IntegerField(
        source="consecutive_failures", help_text="Attempts failed in a row since its last success."
    )
    lastError = FailedAttemptSerializer(source="last_error", allow_null=True, help_text=_LAST_ERROR_HELP)
    createdAt = ApiDateTimeField(source="created_at")
    updatedAt = ApiDateTimeField(source="updated_at")


class DeliveryEventRefSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id", help_text="The event's id: GET /api/v1/events/{id}.")
    type = serializers.CharField()


class DeliveryDataSerializer(serializers.Serializer):
    """A delivery as the API shows it (GET /api/v1/deliveries/{id}), with its last failed attempt."""

    id = serializers.CharField(
        source="pk", help_text="The delivery's id: POST /api/v1/deliveries/{id}/resend."
    )
    webhook = serializers.CharField(source="endpoint.public_id", help_text="The webhook's id.")
    event = DeliveryEventRefSerializer()
    status = serializers.CharField(help_text=f"One of: {', '.join(DeliveryStatus.values)}.")
    attemptCount = serializers.IntegerField(source="attempt_count")
    nextAttemptAt = ApiDateTimeField(source="next_attempt_at", allow_null=True)
    lastAttemptAt = ApiDateTimeField(source="last_attempt_at", allow_null=True)
    lastStatusCode = serializers.IntegerField(source="last_status_code", allow_null=True)
    lastError = FailedAttemptSerializer(source="last_error", allow_null=True, help_text=_LAST_ERROR_HELP)
    createdAt = ApiDateTimeField(source="created_at")
