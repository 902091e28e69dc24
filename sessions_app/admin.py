from typing import Any

from django import forms
from django.contrib import admin
from django.forms import BaseInlineFormSet

from organizations.admin import PUBLIC_READONLY, TenantOwnedAdmin
from sessions_app.models import Driver, IdTag, Session

DUPLICATE_TAG_MESSAGE = "This token is already used in this organization."


def _token_taken(*, organization_id: int, token: str, tag_pk: int | None) -> bool:
    tags = IdTag.objects.filter(organization_id=organization_id, token=token)
    if tag_pk is not None:
        tags = tags.exclude(pk=tag_pk)
    return tags.exists()


class IdTagFormSet(BaseInlineFormSet):
    """A tag's organization is always its driver's; it is set here, never chosen.

    The unique (organization, token) constraint is checked here by hand: Django skips constraints on
    fields a form does not show, and without the check a duplicate would be a 500.
    """

    def add_fields(self, form: Any, index: int | None) -> None:
        super().add_fields(form, index)
        form.instance.organization_id = self.instance.organization_id

    def clean(self) -> None:
        super().clean()
        seen: set[str] = set()
        for form in self.forms:
            token = form.cleaned_data.get("token") if hasattr(form, "cleaned_data") else None
            if not token or form.cleaned_data.get("DELETE"):
                continue
            organization_id = self.instance.organization_id
            if token in seen or (
                organization_id
                and _token_taken(organization_id=organization_id, token=token, tag_pk=form.instance.pk)
            ):
                form.add_error("token", DUPLICATE_TAG_MESSAGE)
            seen.add(token)


class IdTagInline(admin.TabularInline):
    model = IdTag
    formset = IdTagFormSet
    extra = 0
    fields = ("token", "type", "active")


@admin.register(Driver)
class DriverAdmin(TenantOwnedAdmin):
    list_display = ("__str__", "email", "phone", "organization", "active", "created_at")
    list_filter = ("active", "organization")
    list_select_related = ("organization",)
    search_fields = ("first_name", "last_name", "email", "phone", "public_id", "id_tags__token")
    autocomplete_fields = ("organization",)
    readonly_fields = PUBLIC_READONLY
    inlines = (IdTagInline,)


class IdTagForm(forms.ModelForm):
    class Meta:
        model = IdTag
        fields = ("driver", "token", "type", "active")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        driver, token = cleaned.get("driver"), cleaned.get("token")
        if driver and token:
            self.instance.organization_id = driver.organization_id
            if _token_taken(organization_id=driver.organization_id, token=token, tag_pk=self.instance.pk):
                self.add_error("token", DUPLICATE_TAG_MESSAGE)
        return cleaned


@admin.register(IdTag)
class IdTagAdmin(admin.ModelAdmin):
    form = IdTagForm
    list_display = ("token", "type", "active", "driver", "organization")
    list_filter = ("type", "active")
    list_select_related = ("driver", "organization")
    search_fields = ("token", "driver__email", "driver__last_name")
    autocomplete_fields = ("driver",)


class SessionForm(forms.ModelForm):
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        organization = cleaned.get("organization")
        organization_id = organization.pk if organization else self.instance.organization_id
        # The admin must not become the way to link objects across tenants.
        for name in ("driver", "chargestation", "rate"):
            related = cleaned.get(name)
            if organization_id and related and related.organization_id != organization_id:
                self.add_error(name, "This belongs to another organization.")
        station, connector = cleaned.get("chargestation"), cleaned.get("connector")
        if station and connector and connector.chargestation_id != station.pk:
            self.add_error("connector", "This connector belongs to another chargestation.")
        return cleaned


@admin.register(Session)
class SessionAdmin(TenantOwnedAdmin):
    form = SessionForm
    list_display = (
        "public_id",
        "status",
        "organization",
        "chargestation",
        "connector",
        "driver",
        "cost_amount",
        "currency",
        "created_at",
    )
    list_filter = ("status", "organization", "created_at")
    list_select_related = ("organization", "chargestation", "connector__chargestation", "driver")
    search_fields = ("public_id", "id_tag", "chargestation__endpoint", "driver__email")
    autocomplete_fields = ("organization", "driver", "chargestation", "connector", "rate")
    readonly_fields = PUBLIC_READONLY
    date_hierarchy = "created_at"
