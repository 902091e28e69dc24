from typing import Any

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from organizations.audit import actor_of
from organizations.models import ApiKey, AuditEntry, Membership, Organization
from organizations.services import api_key_revoke

PUBLIC_READONLY = ("public_id", "created_at", "updated_at")


class TenantOwnedAdmin(admin.ModelAdmin):
    """An object's organization is chosen once: moving it would strand what hangs off it (a
    location's stations, a driver's tags, a station's sessions) in the old tenant."""

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        readonly = tuple(super().get_readonly_fields(request, obj))
        return (*readonly, "organization") if obj is not None else readonly


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)
    readonly_fields = ("created_at",)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "plan", "email", "currency", "timezone", "public_id", "created_at")
    list_filter = ("plan", "currency")
    search_fields = ("name", "email", "public_id")
    readonly_fields = PUBLIC_READONLY
    inlines = (MembershipInline,)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "organization", "role", "created_at")
    list_filter = ("role",)
    list_select_related = ("user", "organization")
    search_fields = ("user__username", "user__email", "organization__name")
    autocomplete_fields = ("user", "organization")
    readonly_fields = ("created_at",)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are read-only here: they are created by `create_organization` or the dashboard, which
    can show the secret once; the admin could not. Revoking is the one change an operator makes."""

    list_display = (
        "prefix", "name", "organization", "scopes", "created_at", "last_used_at", "expires_at", "revoked",
    )  # fmt: skip
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), "created_at")
    list_select_related = ("organization",)
    search_fields = ("prefix", "public_id", "name", "organization__name")
    # key_hash is neither shown nor editable: it is useless to read and dangerous to change.
    fields = (
        "organization", "public_id", "name", "prefix", "scopes", "created_at", "last_used_at", "expires_at",
        "revoked_at",
    )  # fmt: skip
    readonly_fields = fields
    actions = ("revoke_selected",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(boolean=True, description="Revoked", ordering="revoked_at")
    def revoked(self, api_key: ApiKey) -> bool:
        return not api_key.is_active

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        keys = list(queryset.filter(revoked_at__isnull=True))
        actor = actor_of(request)
        for api_key in keys:
            api_key_revoke(api_key=api_key, actor=actor)
        self.message_user(request, f"Revoked {len(keys)} API key(s).", messages.SUCCESS)


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the audit log is append-only, written by the services only."""

    list_display = (
        "created_at",
        "organization",
        "action",
        "actor_type",
        "actor_name",
        "target_id",
        "address",
    )
    list_filter = ("action", "actor_type")
    list_select_related = ("organization",)
    search_fields = ("public_id", "target_id", "actor_id", "actor_name", "organization__name")
    fields = (
        "public_id", "organization", "action", "actor_type", "actor_id", "actor_name", "target_id", "changes",
        "address", "created_at",
    )  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
