from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from organizations.audit import actor_of
from organizations.models import ApiKey, AuditEntry, Membership, Organization
from organizations.services import api_key_revoke, membership_remove, membership_role_change

PUBLIC_READONLY = ("public_id", "created_at", "updated_at")


class TenantOwnedAdmin(admin.ModelAdmin):
    """An object's organization is chosen once: moving it would strand what hangs off it (a
    location's stations, a driver's tags, a station's sessions) in the old tenant."""

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        readonly = tuple(super().get_readonly_fields(request, obj))
        return (*readonly, "organization") if obj is not None else readonly


class MembershipInline(admin.TabularInline):
    """The organization's members, to read: roles change on the membership's own page, through the
    services (MembershipAdmin)."""

    model = Membership
    extra = 0
    fields = ("user", "role", "created_at")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "plan", "email", "currency", "timezone", "public_id", "created_at")
    list_filter = ("plan", "currency")
    search_fields = ("name", "email", "public_id")
    readonly_fields = PUBLIC_READONLY
    inlines = (MembershipInline,)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    """Roles change and members leave through the same services as the dashboard's members page
    (the last admin stays one; each change is audited). Members are added there, or by
    `create_organization`: a membership is a login of the organization, not a row to type in."""

    list_display = ("user", "organization", "role", "created_at")
    list_filter = ("role",)
    list_select_related = ("user", "organization")
    search_fields = ("user__username", "user__email", "organization__name")
    fields = ("user", "organization", "role", "created_at")
    readonly_fields = ("user", "organization", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        stored = Membership.objects.get(pk=obj.pk)
        try:
            membership_role_change(membership=stored, role=obj.role, actor=actor_of(request))
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        self.delete_queryset(request, Membership.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        for membership in queryset.select_related("user", "organization"):
            try:
                membership_remove(membership=membership, actor=actor_of(request))
            except ValidationError as exc:
                self.message_user(request, f"{membership.user}: {' '.join(exc.messages)}", messages.ERROR)


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
