"""The operators' view of the outbox: endpoints to act on, events and deliveries to inspect.

The admin writes through the same services as the API and the dashboard: saving an endpoint is
`endpoint_create` / `endpoint_update` (so unticking `active` is `endpoint_disable`: its pending
deliveries are skipped and the reason is set), and every action declares the permission it needs.
"""

from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import QuerySet
from django.http import HttpRequest

from chargestations.models import Chargestation, Location
from organizations.admin import TenantOwnedAdmin
from organizations.audit import actor_of
from webhooks import signing
from webhooks.catalog.types import SUBSCRIBABLE
from webhooks.endpoints import validation
from webhooks.endpoints.redelivery import delivery_resend
from webhooks.endpoints.services import (
    DISABLED_BY_USER,
    endpoint_create,
    endpoint_disable,
    endpoint_enable,
    endpoint_update,
)
from webhooks.endpoints.test_events import endpoint_send_test
from webhooks.models import Attempt, Delivery, Endpoint, Event, SignatureScheme

T = TypeVar("T")
# What the form edits, as endpoint_create / endpoint_update take it.
SERVICE_FIELDS = (
    "url", "events", "description", "active", "alert_emails", "rate_limit", "filter", "locations",
    "chargestations", "headers", "signature_scheme",
)  # fmt: skip


def _cleaned(clean: Callable[..., T], *args: Any) -> T:
    """`clean(*args)`, a FieldInvalid becoming the field's form error."""
    try:
        return clean(*args)
    except validation.FieldInvalid as exc:
        raise forms.ValidationError(exc.messages) from None


class ReadOnlyAdmin(admin.ModelAdmin):
    """The outbox is written by the pipeline alone: operators read it and act through actions."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EndpointActionForm(ActionForm):
    event_type = forms.ChoiceField(
        required=False,
        label="Test event type",
        choices=[("", "---------"), *((name, name) for name in sorted(SUBSCRIBABLE))],
    )


class EndpointForm(forms.ModelForm):
    """Validated by webhooks.endpoints.validation, with the API's and the dashboard's rules and words:
    a destination the SSRF guard accepts, subscribable event types, valid alert emails, rate limit,
    filter and headers, scopes of the endpoint's own organization."""

    url = forms.CharField(
        max_length=validation.MAX_URL_LENGTH,
        widget=forms.URLInput(attrs={"class": "vURLField"}),
        error_messages={"max_length": validation.URL_TOO_LONG},
        help_text=validation.URL_HELP,
    )
    # Blank is not "required" here: validation.events_clean says what an empty list says everywhere.
    events = forms.JSONField(required=False, help_text="Subscribed event type names.")
    description = forms.CharField(
        max_length=validation.MAX_DESCRIPTION_LENGTH,
        required=False,
        widget=forms.TextInput(attrs={"class": "vTextField"}),
        error_messages={"max_length": validation.DESCRIPTION_TOO_LONG},
    )
    rate_limit = forms.IntegerField(
        required=False,
        help_text=f"Deliveries per second (1 to {validation.MAX_RATE_LIMIT}); empty: no limit.",
        error_messages={"invalid": validation.RATE_LIMIT_NOT_INTEGER},
    )
    signature_scheme = forms.ChoiceField(
        choices=SignatureScheme.choices,
        initial=SignatureScheme.V1,
        required=False,  # left out: the endpoint's own (v1 for a new one)
        error_messages={"invalid_choice": validation.SIGNATURE_SCHEME_INVALID},
        help_text=(
            "v1: HMAC with a shared secret; v1a: ed25519, receivers verify with the public key. Changing it "
            "generates a key of the new kind, which alone signs from then on."
        ),
    )

    class Meta:
        model = Endpoint
        fields = [
            "organization", "url", "events", "description", "active", "alert_emails", "rate_limit",
            "filter", "locations", "chargestations", "headers", "signature_scheme",
        ]  # fmt: skip

    def clean_url(self) -> str:
        changed = self.instance if self.instance.pk else None  # its stored broker password may stay ****
        return _cleaned(validation.url_clean, self.cleaned_data["url"], changed)

    def clean_events(self) -> list[str]:
        events = self.cleaned_data["events"]
        return _cleaned(validation.events_clean, [] if events is None else events)

    def clean_description(self) -> str:
        return _cleaned(validation.description_clean, self.cleaned_data["description"])

    def clean_alert_emails(self) -> list[str]:
        return _cleaned(validation.alert_emails_clean, self.cleaned_data["alert_emails"])

    def clean_rate_limit(self) -> int | None:
        return _cleaned(validation.rate_limit_clean, self.cleaned_data["rate_limit"])

    def clean_filter(self) -> dict[str, Any] | None:
        return _cleaned(validation.filter_clean, self.cleaned_data["filter"])

    def clean_headers(self) -> dict[str, str]:
        return _cleaned(validation.headers_clean, self.cleaned_data["headers"])

    def clean_signature_scheme(self) -> str:
        scheme = self.cleaned_data["signature_scheme"] or self.instance.signature_scheme
        return _cleaned(validation.signature_scheme_clean, scheme)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        # Chosen when the endpoint is added, then read-only (EndpointAdmin): the instance's own.
        organization = self.instance.organization if self.instance.pk else cleaned.get("organization")
        if self.instance.pk is None and organization is not None:
            try:
                validation.endpoint_limit_check(organization=organization)
            except forms.ValidationError as exc:
                self.add_error(None, exc)
        for name, model in (("locations", Location), ("chargestations", Chargestation)):
            if name not in cleaned:
                continue
            ids = cleaned[name]
            if organization is None:  # itself in error: the scopes are checked once it is chosen
                cleaned[name] = ids or []
                continue
            try:
                cleaned[name] = validation.scope_clean(organization.pk, model, ids)
            except validation.FieldInvalid as exc:
                self.add_error(name, exc.messages)
        return cleaned


@admin.register(Endpoint)
class EndpointAdmin(TenantOwnedAdmin):
    form = EndpointForm
    action_form = EndpointActionForm
    list_display = ["public_id", "url", "organization", "active", "consecutive_failures", "created_at"]
    list_filter = ["active", "organization__plan"]
    list_select_related = ["organization"]
    search_fields = ["public_id", "url", "organization__name", "description"]
    readonly_fields = [
        "public_id", "masked_secret", "public_key", "previous_secret_expires_at", "disabled_reason",
        "disabled_at", "failing_since", "consecutive_failures", "created_at", "updated_at",
    ]  # fmt: skip
    actions = ["send_test_event", "disable", "enable"]

    @admin.display(description="Secret")
    def masked_secret(self, endpoint: Endpoint) -> str:
        # Never a character of the secret itself: a secret a customer chose has no public prefix.
        if not endpoint.secret:
            return ""
        if signing.is_private_key(endpoint.secret):
            return "ed25519 private key (v1a, never shown)"
        return "whsec_…" if endpoint.secret.startswith("whsec_") else "set (hidden)"

    @admin.display(description="Public key")
    def public_key(self, endpoint: Endpoint) -> str:
        # The stored key's, whatever a form being corrected says the scheme is: v1 has none.
        return signing.public_key(endpoint.secret) if signing.is_private_key(endpoint.secret) else "—"

    def save_model(self, request: HttpRequest, obj: Endpoint, form: forms.ModelForm, change: bool) -> None:
        # `obj` already holds the form's values: the service is given the stored endpoint and what
        # differs from it (not form.changed_data, which trusts the form's posted initial values).
        given = {name: form.cleaned_data[name] for name in SERVICE_FIELDS if name in form.cleaned_data}
        actor = actor_of(request)
        if change:
            stored = Endpoint.objects.get(pk=obj.pk)
            changes = {name: value for name, value in given.items() if getattr(stored, name) != value}
            endpoint = endpoint_update(endpoint=stored, actor=actor, **changes)
        else:
            active = given.pop("active", True)
            endpoint = endpoint_create(organization=form.cleaned_data["organization"], actor=actor, **given)
            if not active:
                endpoint = endpoint_update(endpoint=endpoint, active=False, actor=actor)
        obj.pk = endpoint.pk
        obj.refresh_from_db()

    @admin.action(description="Send a test event (choose its type above)", permissions=["change"])
    def send_test_event(self, request: HttpRequest, queryset: QuerySet[Endpoint]) -> None:
        type_name = request.POST.get("event_type", "")
        if type_name not in SUBSCRIBABLE:
            self.message_user(request, "Choose the test event's type first.", messages.ERROR)
            return
        for endpoint in queryset.select_related("organization"):
            endpoint_send_test(endpoint=endpoint, type_name=type_name)
        self.message_user(request, f"Queued a {type_name} test event for {queryset.count()} endpoint(s).")

    @admin.action(description="Disable selected endpoints", permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet[Endpoint]) -> None:
        actor = actor_of(request)
        count = sum(
            endpoint_disable(endpoint_id=pk, reason=DISABLED_BY_USER, actor=actor)
            for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(request, f"Disabled {count} endpoint(s).")

    @admin.action(description="Enable selected endpoints", permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet[Endpoint]) -> None:
        actor = actor_of(request)
        for endpoint in queryset.filter(active=False):
            endpoint_enable(endpoint=endpoint, actor=actor)
        self.message_user(request, "Enabled the selected endpoints.")


class DeliveryInline(ReadOnlyInline):
    model = Delivery
    fields = ("endpoint", "status", "attempt_count", "last_status_code", "next_attempt_at")
    readonly_fields = fields


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "type", "organization", "is_test", "created_at"]
    list_filter = ["type", "is_test"]
    list_select_related = ["organization"]
    search_fields = ["public_id", "type", "organization__name"]
    date_hierarchy = "created_at"
    inlines = [DeliveryInline]


class AttemptInline(ReadOnlyInline):
    model = Attempt
    fields = ("created_at", "status_code", "duration_ms", "error", "response_excerpt", "succeeded")
    readonly_fields = fields
    show_change_link = False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["pk", "event", "endpoint", "status", "attempt_count", "last_status_code", "created_at"]
    list_filter = ["status"]
    list_select_related = ["event", "endpoint"]
    search_fields = ["event__public_id", "endpoint__public_id", "endpoint__url"]
    date_hierarchy = "created_at"
    inlines = [AttemptInline]
    actions = ["resend"]

    def has_resend_permission(self, request: HttpRequest) -> bool:
        # The rows are the pipeline's (no change form), but sending one again is a change all the same.
        return request.user.has_perm("webhooks.change_delivery")

    @admin.action(description="Resend selected deliveries now", permissions=["resend"])
    def resend(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        for delivery in queryset:
            delivery_resend(delivery=delivery)
        self.message_user(request, f"Queued {queryset.count()} delivery(ies) to be sent again.")
