"""The operators' view of the outbox: endpoints to act on, events and deliveries to inspect."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import QuerySet
from django.http import HttpRequest

from chargestations.models import Chargestation, Location
from webhooks.catalog.types import SUBSCRIBABLE
from webhooks.delivery.destinations import DestinationRefused, destination_check
from webhooks.endpoints.headers import HeaderError, headers_validate
from webhooks.endpoints.redelivery import delivery_resend
from webhooks.endpoints.services import DISABLED_BY_USER, endpoint_disable, endpoint_enable
from webhooks.endpoints.test_events import endpoint_send_test
from webhooks.models import Attempt, Delivery, Endpoint, Event
from webhooks.routing.filters import FilterError, filter_validate
from webhooks.routing.scopes import scope_ids_check


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
    """The same rules as the API: a destination the SSRF guard accepts, known event types, valid
    filter and headers, scopes of the endpoint's own organization."""

    url = forms.URLField(max_length=2048, assume_scheme="https")

    class Meta:
        model = Endpoint
        fields = [
            "organization", "url", "events", "description", "active", "alert_emails", "rate_limit",
            "filter", "locations", "chargestations", "headers",
        ]  # fmt: skip

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"]
        try:
            destination_check(url)
        except DestinationRefused as exc:
            raise forms.ValidationError(f"This destination is refused: {exc.reason}.") from exc
        return url

    def clean_events(self) -> list[str]:
        events = self.cleaned_data["events"]
        if not isinstance(events, list) or not events:
            raise forms.ValidationError("Give a list of at least one event type.")
        unknown = sorted(set(events) - SUBSCRIBABLE)
        if unknown:
            raise forms.ValidationError(f"Not subscribable event types: {', '.join(map(str, unknown))}.")
        return sorted(set(events))

    def clean_filter(self) -> dict[str, Any] | None:
        value = self.cleaned_data["filter"]
        try:
            filter_validate(value if value is not None else {})
        except FilterError as exc:
            raise forms.ValidationError(str(exc)) from None
        return value or None

    def clean_headers(self) -> dict[str, str]:
        try:
            return headers_validate(self.cleaned_data["headers"] or {})
        except HeaderError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        organization = cleaned.get("organization")
        for name, model in (("locations", Location), ("chargestations", Chargestation)):
            if name not in cleaned:
                continue
            ids = cleaned[name] or []
            if organization is None:
                cleaned[name] = ids
                continue
            try:
                cleaned[name] = scope_ids_check(organization_id=organization.pk, model=model, public_ids=ids)
            except ValueError as exc:
                self.add_error(name, str(exc))
        return cleaned


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    action_form = EndpointActionForm
    list_display = ["public_id", "url", "organization", "active", "consecutive_failures", "created_at"]
    list_filter = ["active", "organization__plan"]
    list_select_related = ["organization"]
    search_fields = ["public_id", "url", "organization__name", "description"]
    readonly_fields = [
        "public_id", "masked_secret", "previous_secret_expires_at", "disabled_reason", "disabled_at",
        "failing_since", "consecutive_failures", "created_at", "updated_at",
    ]  # fmt: skip
    actions = ["send_test_event", "disable", "enable"]

    @admin.display(description="Secret")
    def masked_secret(self, endpoint: Endpoint) -> str:
        return f"{endpoint.secret[:10]}…" if endpoint.secret else ""

    @admin.action(description="Send a test event (choose its type above)")
    def send_test_event(self, request: HttpRequest, queryset: QuerySet[Endpoint]) -> None:
        type_name = request.POST.get("event_type", "")
        if type_name not in SUBSCRIBABLE:
            self.message_user(request, "Choose the test event's type first.", messages.ERROR)
            return
        for endpoint in queryset.select_related("organization"):
            endpoint_send_test(endpoint=endpoint, type_name=type_name)
        self.message_user(request, f"Queued a {type_name} test event for {queryset.count()} endpoint(s).")

    @admin.action(description="Disable selected endpoints")
    def disable(self, request: HttpRequest, queryset: QuerySet[Endpoint]) -> None:
        count = sum(
            endpoint_disable(endpoint_id=pk, reason=DISABLED_BY_USER)
            for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(request, f"Disabled {count} endpoint(s).")

    @admin.action(description="Enable selected endpoints")
    def enable(self, request: HttpRequest, queryset: QuerySet[Endpoint]) -> None:
        for endpoint in queryset.filter(active=False):
            endpoint_enable(endpoint=endpoint)
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

    @admin.action(description="Resend selected deliveries now")
    def resend(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        for delivery in queryset:
            delivery_resend(delivery=delivery)
        self.message_user(request, f"Queued {queryset.count()} delivery(ies) to be sent again.")
