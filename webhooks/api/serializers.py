"""The webhooks API's JSON: webhooks (endpoints), event types, events, deliveries and attempts.

What a client sends and what it is shown are separate serializers: a secret is written once and
shown only on request; ids, states and timestamps are the server's.
"""

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from chargestations.models import Chargestation, Location
from organizations.serializers import ApiDateTimeField
from webhooks.api.fields import (
    CHARGESTATIONS_HELP,
    FILTER_HELP,
    HEADERS_HELP,
    LOCATIONS_HELP,
    FilterField,
    HeadersField,
    ScopeField,
    cleaned,
)
from webhooks.endpoints import validation
from webhooks.endpoints.validation import EVENT_TYPES_ROUTE, MAX_ALERT_EMAILS, MAX_RATE_LIMIT
from webhooks.models import DeliveryStatus, Endpoint, SignatureScheme

_WEBHOOK = {
    "id": "wh_5f8d0d55b54764421b7156c9",
    "url": "https://example.com/webhooks/edrv",
    "events": ["session.ended", "session.started"],
    "active": True,
    "description": "Billing",
    "alertEmails": ["ops@example.com"],
    "rateLimit": 10,
    "filter": {"type": "session.ended", "data": {"cost": {"amount": {"$gte": 10}}}},
    "locations": ["6617a1c2e4b0a1b2c3d4e5f0"],
    "chargestations": [],
    "headers": {"x-tenant": "north"},
    "signatureScheme": "v1",
    "publicKey": None,
    "disabledReason": None,
    "disabledAt": None,
    "createdAt": "2026-02-06T14:30:00.000Z",
    "updatedAt": "2026-02-06T14:30:00.000Z",
}
_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105 - an example in the docs
_PUBLIC_KEY = "whpk_UJ7MC9O5gNhMxezQDRwY2dczUv9ktBTYzbQXJPYJECQ="
_SCHEME_HELP = (
    '"v1": HMAC-SHA256 with the shared `secret` (the default); "v1a": ed25519, verified with '
    "`publicKey` (the private key is never shown). Changing it generates a key of the new kind, which "
    "alone signs from then on."
)
_DELIVERY = {
    "id": "1042",
    "webhook": _WEBHOOK["id"],
    "event": {"id": "6617a1c2e4b0a1b2c3d4e5f6", "type": "session.started"},
    "status": "succeeded",
    "attemptCount": 1,
    "nextAttemptAt": None,
    "lastAttemptAt": "2026-02-06T14:30:01.120Z",
    "lastStatusCode": 200,
    "createdAt": "2026-02-06T14:30:01.000Z",
}
_EVENT_TYPE = {
    "name": "session.started",
    "object": "session",
    "category": "Synchronous events",
    "description": "A charging session started.",
    "envelope": "edrv",
    "subscribable": True,
}
_ATTEMPT = {
    "createdAt": "2026-02-06T14:30:01.000Z",
    "statusCode": 200,
    "durationMs": 118,
    "responseExcerpt": "ok",
    "error": "",
    "succeeded": True,
}


class _NullWhenBlank(serializers.CharField):
    def to_representation(self, value: Any) -> str | None:  # type: ignore[override]
        return str(value) if value else None


def _example(name: str, value: Any, **options: Any) -> OpenApiExample:
    return OpenApiExample(name, value=value, **options)


@extend_schema_serializer(examples=[_example("A webhook", _WEBHOOK)])
class WebhookSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id", help_text="The webhook's id (`wh_…`).")
    url = serializers.CharField()
    events = serializers.ListField(child=serializers.CharField(), help_text="Subscribed event types.")
    active = serializers.BooleanField()
    description = serializers.CharField()
    alertEmails = serializers.ListField(
        source="alert_emails", child=serializers.EmailField(), help_text="Also told when it is disabled."
    )
    rateLimit = serializers.IntegerField(
        source="rate_limit", allow_null=True, help_text="Deliveries per second; null: no limit."
    )
    filter = FilterField(allow_null=True, help_text=FILTER_HELP)
    locations = serializers.ListField(child=serializers.CharField(), help_text=LOCATIONS_HELP)
    chargestations = serializers.ListField(child=serializers.CharField(), help_text=CHARGESTATIONS_HELP)
    headers = serializers.DictField(child=serializers.CharField(), help_text=HEADERS_HELP)
    signatureScheme = serializers.ChoiceField(
        source="signature_scheme", choices=SignatureScheme.choices, help_text=_SCHEME_HELP
    )
    publicKey = serializers.CharField(
        source="public_key",
        allow_null=True,
        help_text="v1a: `whpk_` + base64 of the 32-byte ed25519 public key that verifies its deliveries; "
        "null under v1.",
    )
    disabledReason = _NullWhenBlank(
        source="disabled_reason", allow_null=True, help_text="Why it is disabled; null while active."
    )
    disabledAt = ApiDateTimeField(source="disabled_at", allow_null=True)
    createdAt = ApiDateTimeField(source="created_at")
    updatedAt = ApiDateTimeField(source="updated_at")


_V1A_WEBHOOK = {**_WEBHOOK, "signatureScheme": "v1a", "publicKey": _PUBLIC_KEY}


@extend_schema_serializer(
    examples=[
        _example("A new webhook", {**_WEBHOOK, "secret": _SECRET}),
        _example("A new v1a (ed25519) webhook", _V1A_WEBHOOK),
    ]
)
class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.CharField(
        required=False,
        help_text="v1: signs every delivery. Shown in full only here and on request. Absent under v1a.",
    )

    def to_representation(self, instance: Endpoint) -> dict[str, Any]:
        shown: dict[str, Any] = super().to_representation(instance)
        if instance.signature_scheme != SignatureScheme.V1:
            del shown["secret"]  # a v1a endpoint's is its private key
        return shown


# The fields' rules and messages are webhooks.endpoints.validation's: the dashboard and the admin say
# the same. The limits declared here (for the schema) are checked first, with its words.
class _WebhookInputSerializer(serializers.Serializer):
    url = serializers.CharField(
        max_length=validation.MAX_URL_LENGTH,
        help_text=validation.URL_HELP,
        error_messages={"max_length": validation.URL_TOO_LONG},
    )
    events = serializers.ListField(
        child=serializers.CharField(max_length=100),
        allow_empty=False,
        help_text=f"Event type names ({EVENT_TYPES_ROUTE}); duplicates are folded.",
        error_messages={"empty": validation.EVENTS_EMPTY},
    )
    description = serializers.CharField(
        max_length=validation.MAX_DESCRIPTION_LENGTH,
        allow_blank=True,
        required=False,
        error_messages={"max_length": validation.DESCRIPTION_TOO_LONG},
    )
    alertEmails = serializers.ListField(
        source="alert_emails",
        child=serializers.EmailField(error_messages={"invalid": validation.EMAIL_INVALID}),
        required=False,
        max_length=MAX_ALERT_EMAILS,
        help_text="Told, besides the organization's email, when the webhook is disabled.",
        error_messages={"max_length": validation.ALERT_EMAILS_TOO_MANY},
    )
    rateLimit = serializers.IntegerField(
        source="rate_limit",
        min_value=1,
        max_value=MAX_RATE_LIMIT,
        allow_null=True,
        required=False,
        help_text=f"At most this many deliveries per second (1 to {MAX_RATE_LIMIT}); null: no limit.",
        error_messages={
            "invalid": validation.RATE_LIMIT_NOT_INTEGER,
            "min_value": validation.RATE_LIMIT_TOO_LOW,
            "max_value": validation.RATE_LIMIT_TOO_HIGH,
        },
    )
    filter = FilterField(required=False, allow_null=True, help_text=FILTER_HELP)
    locations = ScopeField(model=Location, required=False, allow_null=True, help_text=LOCATIONS_HELP)
    chargestations = ScopeField(
        model=Chargestation, required=False, allow_null=True, help_text=CHARGESTATIONS_HELP
    )
    headers = HeadersField(required=False, allow_null=True, help_text=HEADERS_HELP)
    signatureScheme = serializers.ChoiceField(
        source="signature_scheme",
        choices=SignatureScheme.choices,
        required=False,
        help_text=_SCHEME_HELP,
        error_messages={"invalid_choice": validation.SIGNATURE_SCHEME_INVALID},
    )

    def validate_url(self, value: str) -> str:
        # The webhook being changed, if any (its stored broker password may be kept as ****).
        return cleaned(validation.url_clean, value, self.context.get("endpoint"))

    def validate_events(self, value: list[str]) -> list[str]:
        return cleaned(validation.events_clean, value)

    def validate_description(self, value: str) -> str:
        return cleaned(validation.description_clean, value)

    def validate_alertEmails(self, value: list[str]) -> list[str]:
        return cleaned(validation.alert_emails_clean, value)

    def validate_rateLimit(self, value: int | None) -> int | None:
        return cleaned(validation.rate_limit_clean, value)


def _secret_field() -> serializers.CharField:
    return serializers.CharField(
        required=False,
        trim_whitespace=False,
        help_text=(
            "Optional, v1 only: by default one is generated (`whsec_` + base64 of 24 random bytes). "
            "Under v1a the key pair is always generated."
        ),
    )


def _refuse_secret_under_v1a(scheme: str, attrs: dict[str, Any]) -> None:
    if scheme == SignatureScheme.V1A and "secret" in attrs:
        raise serializers.ValidationError({"secret": [validation.V1A_KEYS_ARE_GENERATED]})


@extend_schema_serializer(
    examples=[
        _example(
            "Subscribe to sessions",
            {"url": _WEBHOOK["url"], "events": _WEBHOOK["events"], "description": "Billing"},
        ),
        _example(
            "Signed with ed25519 (v1a)",
            {"url": _WEBHOOK["url"], "events": _WEBHOOK["events"], "signatureScheme": "v1a"},
        ),
    ]
)
class WebhookCreateSerializer(_WebhookInputSerializer):
    secret = _secret_field()

    def validate_secret(self, value: str) -> str:
        if self.initial_data.get("signatureScheme") == SignatureScheme.V1A:
            return value  # refused whatever it is (validate): its rules would only confuse
        return cleaned(validation.secret_clean, value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        _refuse_secret_under_v1a(attrs.get("signature_scheme", SignatureScheme.V1), attrs)
        return attrs


@extend_schema_serializer(examples=[_example("Pause it", {"active": False})])
class WebhookUpdateSerializer(_WebhookInputSerializer):
    active = serializers.BooleanField(
        required=False, help_text="false disables it (deliveries are skipped); true re-enables it."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Ignoring a secret here would leave the client verifying with one that signs nothing.
        if "secret" in self.initial_data:
            message = "The secret is changed with POST /api/v1/webhooks/{id}/rotate-secret."
            raise serializers.ValidationError({"secret": [message]})
        return attrs


@extend_schema_serializer(examples=[_example("Rotate to a generated secret", {})])
class RotateSecretSerializer(serializers.Serializer):
    """Needs the `endpoint` in its context: under v1a no secret may be given."""

    secret = _secret_field()

    def validate_secret(self, value: str) -> str:
        if self.context["endpoint"].signature_scheme == SignatureScheme.V1A:
            return value  # refused whatever it is (validate): its rules would only confuse
        return cleaned(validation.secret_clean, value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        _refuse_secret_under_v1a(self.context["endpoint"].signature_scheme, attrs)
        return attrs


@extend_schema_serializer(examples=[_example("The secret", {"secret": _SECRET})])
class WebhookSecretSerializer(serializers.Serializer):
    secret = serializers.CharField()


@extend_schema_serializer(
    examples=[
        _example(
            "Rotated",
            {"secret": _SECRET, "previousSecretExpiresAt": "2026-02-07T14:30:00.000Z"},
        ),
        _example(
            "Rotated under v1a",
            {"publicKey": _PUBLIC_KEY, "previousSecretExpiresAt": "2026-02-07T14:30:00.000Z"},
        ),
    ]
)
class RotatedSecretSerializer(serializers.Serializer):
    secret = serializers.CharField(required=False, help_text="v1: the new secret.")
    publicKey = serializers.CharField(
        source="public_key", required=False, help_text="v1a: the new key pair's public key."
    )
    previousSecretExpiresAt = ApiDateTimeField(
        source="previous_secret_expires_at", help_text="Until then the old secret signs beside the new one."
    )

    def to_representation(self, instance: Endpoint) -> dict[str, Any]:
        shown: dict[str, Any] = super().to_representation(instance)
        # One of the two: a v1a endpoint's secret is its private key, a v1 endpoint has no public key.
        del shown["secret" if instance.signature_scheme != SignatureScheme.V1 else "publicKey"]
        return shown


@extend_schema_serializer(
    examples=[
        _example(
            "A v1a webhook",
            {
                "detail": "This webhook signs with ed25519 (v1a): it has no shared secret to show. "
                "Verify its deliveries with its publicKey.",
                "publicKey": _PUBLIC_KEY,
            },
            status_codes=[409],
        )
    ]
)
class NoSharedSecretSerializer(serializers.Serializer):
    detail = serializers.CharField()
    publicKey = serializers.CharField(help_text="What its deliveries verify with.")


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


@extend_schema_serializer(examples=[_example("Deleted", {"message": "Webhook deleted successfully"})])
class MessageSerializer(serializers.Serializer):
    message = serializers.CharField()


class EventTypeSerializer(serializers.Serializer):
    name = serializers.CharField()
    object = serializers.CharField(help_text="What `data` is.")
    category = serializers.CharField()
    description = serializers.CharField()
    envelope = serializers.CharField(
        help_text='"edrv": {_id, data, object, type, createdAt}; "charger": {event, timestamp, data}.'
    )
    subscribable = serializers.BooleanField(help_text="false: coming soon.")


# many=False: the list action returns one object (a named list), not an array of them.
@extend_schema_serializer(many=False, examples=[_example("The catalog", {"eventTypes": [_EVENT_TYPE]})])
class EventTypeListSerializer(serializers.Serializer):
    eventTypes = EventTypeSerializer(many=True)


@extend_schema_serializer(
    examples=[
        _example(
            "An event",
            {
                "id": "6617a1c2e4b0a1b2c3d4e5f6",
                "type": "location.created",
                "object": "location",
                "data": {"_id": "6617a1c2e4b0a1b2c3d4e5f0", "name": "Example Plaza"},
                "createdAt": "2026-02-06T14:30:00.000Z",
                "test": False,
            },
        )
    ]
)
class EventSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id", help_text="Also the `webhook-id` of its deliveries.")
    type = serializers.CharField()
    object = serializers.CharField()
    # Declared fields leave the class (DRF's metaclass): `.data` stays the serializer's output.
    data = serializers.JSONField(  # type: ignore[assignment]
        help_text="The object as the API shows it, at the moment of the change."
    )
    createdAt = ApiDateTimeField(source="created_at")
    test = serializers.BooleanField(source="is_test", help_text="A test event sent on request.")


class DeliveryEventSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    type = serializers.CharField()


@extend_schema_serializer(examples=[_example("A delivery", _DELIVERY)])
class DeliverySerializer(serializers.Serializer):
    id = serializers.CharField(source="pk")
    webhook = serializers.CharField(source="endpoint.public_id", help_text="The webhook's id.")
    event = DeliveryEventSerializer()
    # A string, not an enum, in the schema: its name would collide with other APIs' `status` enums.
    status = serializers.CharField(help_text=f"One of: {', '.join(DeliveryStatus.values)}.")
    attemptCount = serializers.IntegerField(source="attempt_count")
    nextAttemptAt = ApiDateTimeField(source="next_attempt_at", allow_null=True)
    lastAttemptAt = ApiDateTimeField(source="last_attempt_at", allow_null=True)
    lastStatusCode = serializers.IntegerField(source="last_status_code", allow_null=True)
    createdAt = ApiDateTimeField(source="created_at")


class AttemptSerializer(serializers.Serializer):
    createdAt = ApiDateTimeField(source="created_at")
    statusCode = serializers.IntegerField(source="status_code", allow_null=True)
    durationMs = serializers.IntegerField(source="duration_ms")
    responseExcerpt = serializers.CharField(source="response_excerpt")
    error = serializers.CharField(help_text='Why no answer came ("" when one did).')
    succeeded = serializers.BooleanField()


@extend_schema_serializer(
    examples=[_example("With its attempts", {**_DELIVERY, "attempts": [_ATTEMPT]}, status_codes=[200, 202])]
)
class DeliveryDetailSerializer(DeliverySerializer):
    attempts = AttemptSerializer(many=True, help_text="Newest first.")


@extend_schema_serializer(examples=[_example("Since an outage began", {"since": "2026-02-06T08:00:00Z"})])
class RecoverSerializer(serializers.Serializer):
    since = serializers.DateTimeField(help_text="ISO 8601; failed and skipped deliveries since then.")

    def validate_since(self, value: Any) -> Any:
        if value > timezone.now():
            raise serializers.ValidationError("Must not be in the future.")
        return value


@extend_schema_serializer(examples=[_example("Recovered", {"recovered": 12}, status_codes=[202])])
class RecoveredSerializer(serializers.Serializer):
    recovered = serializers.IntegerField(help_text="How many deliveries were queued again.")


@extend_schema_serializer(examples=[_example("A test session.started", {"type": "session.started"})])
class TestEventSerializer(serializers.Serializer):
    type = serializers.CharField(max_length=100, help_text="Any subscribable event type.")

    def validate_type(self, value: str) -> str:
        return cleaned(validation.event_type_clean, value)
