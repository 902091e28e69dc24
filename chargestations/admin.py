from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from chargestations.models import Chargestation, Connector, Location, PriceComponent, Rate
from organizations.admin import PUBLIC_READONLY, TenantOwnedAdmin


@admin.register(Location)
class LocationAdmin(TenantOwnedAdmin):
    list_display = ("name", "organization", "active", "operator_name", "timezone", "stations", "created_at")
    list_filter = ("active", "organization")
    list_select_related = ("organization",)
    search_fields = ("name", "operator_name", "public_id", "organization__name")
    autocomplete_fields = ("organization",)
    readonly_fields = PUBLIC_READONLY

    def get_queryset(self, request: HttpRequest) -> QuerySet[Location]:
        return super().get_queryset(request).annotate(station_count=Count("chargestations"))

    @admin.display(description="Stations", ordering="station_count")
    def stations(self, location: Location) -> int:
        return location.station_count  # type: ignore[attr-defined]


class ConnectorInline(admin.TabularInline):
    model = Connector
    extra = 0
    fields = (
        "connector_number",
        "status",
        "error_code",
        "active",
        "type",
        "format",
        "power_type",
        "power",
        "rate",
    )
    autocomplete_fields = ("rate",)
    show_change_link = True


class ChargestationForm(forms.ModelForm):
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        organization = cleaned.get("organization")
        organization_id = organization.pk if organization else self.instance.organization_id
        location = cleaned.get("location")
        # The API guarantees this; the admin must not become the way to cross tenants.
        if organization_id and location and location.organization_id != organization_id:
            self.add_error("location", "This location belongs to another organization.")
        return cleaned


@admin.register(Chargestation)
class ChargestationAdmin(TenantOwnedAdmin):
    """The key a charger connects with is never shown here, nor its hash: only whether there is one and
    since when. Its organization's developers generate it (API, dashboard), where it is shown once; the
    platform's operators have no business holding a customer's charger secrets."""

    form = ChargestationForm
    list_display = (
        "endpoint",
        "name",
        "organization",
        "location",
        "online",
        "active",
        "public",
        "open_for_business",
        "last_message_at",
    )
    list_filter = ("online", "active", "public", "open_for_business", "protocol", "organization")
    list_select_related = ("organization", "location")
    search_fields = ("endpoint", "name", "public_id", "vendor", "model", "charge_point_serial_number")
    autocomplete_fields = ("organization", "location")
    readonly_fields = (
        *PUBLIC_READONLY,
        "last_boot_at",
        "last_connect_at",
        "last_disconnect_at",
        "last_message_at",
        "authorization_key",
        "authorization_key_set_at",
    )
    inlines = (ConnectorInline,)

    @admin.display(description="Authorization key", boolean=True)
    def authorization_key(self, station: Chargestation) -> bool:
        return station.has_authorization_key


@admin.register(Connector)
class ConnectorAdmin(admin.ModelAdmin):
    list_display = ("__str__", "status", "error_code", "active", "type", "power_type", "power", "rate")
    list_filter = ("status", "active", "type", "power_type")
    list_select_related = ("chargestation", "rate")
    search_fields = ("chargestation__endpoint", "chargestation__name", "public_id")
    autocomplete_fields = ("chargestation", "rate")
    readonly_fields = PUBLIC_READONLY


class PriceComponentInline(admin.TabularInline):
    model = PriceComponent
    extra = 0


@admin.register(Rate)
class RateAdmin(TenantOwnedAdmin):
    list_display = ("name", "organization", "currency", "active", "minimum_amount", "created_at")
    list_filter = ("active", "currency", "organization")
    list_select_related = ("organization",)
    search_fields = ("name", "public_id", "organization__name")
    autocomplete_fields = ("organization",)
    readonly_fields = PUBLIC_READONLY
    inlines = (PriceComponentInline,)


@admin.register(PriceComponent)
class PriceComponentAdmin(admin.ModelAdmin):
    list_display = ("rate", "type", "price", "tax", "step_size", "grace_period")
    list_filter = ("type",)
    list_select_related = ("rate",)
    search_fields = ("rate__name",)
    autocomplete_fields = ("rate",)
