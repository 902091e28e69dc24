"""The dashboard's shell: who may do what (every page goes through `MemberAccessMixin`), the
overview, API keys, members and the audit log.

Every page is scoped to the logged-in user's organization: objects are looked up within it, so
another organization's ids are 404. Roles: viewers read; developers also manage webhooks and the
network; admins also manage members and API keys.
"""

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import AccessMixin
from django.contrib.auth.views import LoginView
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views import View

from organizations.audit import actor_of
from organizations.forms import ApiKeyCreateForm, MemberAddForm, MemberRoleForm
from organizations.models import ApiKey, Membership, Organization, Role
from organizations.selectors import api_key_list, audit_entry_list, membership_get, membership_list
from organizations.services import (
    api_key_create,
    api_key_revoke,
    membership_create,
    membership_remove,
    membership_role_change,
)

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
WHO_MAY = {Role.VIEWER: "any member", Role.DEVELOPER: "a developer or an admin", Role.ADMIN: "an admin"}


class MemberAccessMixin(AccessMixin):
    """A logged-in member of an organization, whose role is the one the view names, or above.

    `read_role` opens the page (GET, HEAD, OPTIONS); `change_role` changes anything through it (any
    other method). By default every member reads and developers change; a form page names
    `read_role = Role.DEVELOPER` (a form its reader could not submit), the members' and keys' pages
    `change_role = Role.ADMIN`. Below it, the 403 page says which role it takes.
    """

    read_role: str = Role.VIEWER
    change_role: str = Role.DEVELOPER
    request: HttpRequest
    membership: Membership
    organization: Organization

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        membership = Membership.objects.select_related("organization").filter(user=request.user).first()
        if membership is None:
            raise PermissionDenied("Your login is not a member of any organization.")
        needed = self.role_needed(request)
        if not membership.has_role(needed):
            raise PermissionDenied(
                f"Only {WHO_MAY[Role(needed)]} may do this, and your role is "
                f"{membership.get_role_display().lower()}. "
                f"An admin of {membership.organization} can change it."
            )
        self.membership, self.organization = membership, membership.organization
        self.check_permissions(request)
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]

    def role_needed(self, request: HttpRequest) -> str:
        return self.read_role if request.method in SAFE_METHODS else self.change_role

    def check_permissions(self, request: HttpRequest) -> None:
        """Raise PermissionDenied for what this member may not do here; pages add their own rules."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context_data(**kwargs)  # type: ignore[misc]
        context.update(membership=self.membership, organization=self.organization)
        return context

    def member_context(self, **extra: Any) -> dict[str, Any]:
        """The context every page's template expects, for views that render by hand."""
        return {"membership": self.membership, "organization": self.organization, **extra}


class DashboardLoginView(LoginView):
    # Django's own login and its AuthenticationForm; a logged-in visitor goes straight in.
    redirect_authenticated_user = True


class ApiKeysView(MemberAccessMixin, View):
    """List keys by prefix with their scopes; an admin creates one (its raw value is shown in this
    response only)."""

    read_role = Role.VIEWER
    change_role = Role.ADMIN
    template_name = "dashboard/api_keys.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(ApiKeyCreateForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ApiKeyCreateForm(request.POST)
        if not form.is_valid():
            return self._render(form, status=400)
        api_key, raw_key = api_key_create(
            organization=self.organization,
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            expires_at=form.cleaned_data["expires_at"],
            actor=actor_of(request),
        )
        return self._render(ApiKeyCreateForm(), created=api_key, raw_key=raw_key)

    def _render(self, form: forms.Form, *, status: int = 200, **extra: Any) -> HttpResponse:
        keys = api_key_list(organization=self.organization)
        context = self.member_context(form=form, api_keys=keys, now=timezone.now(), **extra)
        response = render(self.request, self.template_name, context, status=status)
        # A raw key may be on this page: never keep it in a cache.
        response["Cache-Control"] = "no-store"
        return response


class ApiKeyRevokeView(MemberAccessMixin, View):
    change_role = Role.ADMIN
    http_method_names = ["post"]

    def post(self, request: HttpRequest, key_id: str) -> HttpResponse:
        api_key = get_object_or_404(ApiKey, pk=int(key_id), organization=self.organization)
        api_key_revoke(api_key=api_key, actor=actor_of(request))
        messages.success(request, f"API key {api_key.prefix}… revoked: it no longer works.")
        return redirect("api-keys")


class MembersView(MemberAccessMixin, View):
    """Who is in the organization, with which role; an admin adds members."""

    read_role = Role.VIEWER
    change_role = Role.ADMIN
    template_name = "dashboard/members.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(MemberAddForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = MemberAddForm(request.POST)
        if not form.is_valid():
            return self._render(form, status=400)
        membership = membership_create(
            organization=self.organization, actor=actor_of(request), **form.cleaned_data
        )
        messages.success(
            request, f"{membership.user.username} added as {membership.get_role_display().lower()}."
        )
        return redirect("members")

    def _render(self, form: forms.Form, *, status: int = 200) -> HttpResponse:
        members = membership_list(organization=self.organization)
        context = self.member_context(form=form, members=members, roles=Role.choices)
        return render(self.request, self.template_name, context, status=status)


class MemberAction(MemberAccessMixin, View):
    """A POST an admin makes about one member; a refusal (the last admin) is said on the page."""

    change_role = Role.ADMIN
    http_method_names = ["post"]

    def post(self, request: HttpRequest, member_id: str) -> HttpResponse:
        membership = membership_get(organization=self.organization, membership_id=int(member_id))
        if membership is None:
            raise Http404("No such member.")
        try:
            self.act(request, membership)
        except ValidationError as refused:
            messages.error(request, " ".join(refused.messages))
        return redirect("members")

    def act(self, request: HttpRequest, membership: Membership) -> None:
        raise NotImplementedError


class MemberRoleView(MemberAction):
    def act(self, request: HttpRequest, membership: Membership) -> None:
        form = MemberRoleForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose a role.")
            return
        membership_role_change(membership=membership, role=form.cleaned_data["role"], actor=actor_of(request))
        messages.success(
            request, f"{membership.user.username} is now {membership.get_role_display().lower()}."
        )


class MemberRemoveView(MemberAction):
    def act(self, request: HttpRequest, membership: Membership) -> None:
        membership_remove(membership=membership, actor=actor_of(request))
        messages.success(request, f"{membership.user.username} removed: their login no longer works.")


class AuditLogView(MemberAccessMixin, View):
    """Who changed what: admins only, as it tells what every member and key did."""

    read_role = Role.ADMIN
    change_role = Role.ADMIN
    http_method_names = ["get"]
    per_page = 50

    def get(self, request: HttpRequest) -> HttpResponse:
        action = request.GET.get("action", "")
        entries = audit_entry_list(organization=self.organization, action=action)
        page = Paginator(entries, self.per_page).get_page(request.GET.get("page"))
        query = urlencode({"action": action}) if action else ""
        context = self.member_context(page=page, action=action, query=query)
        return render(request, "dashboard/audit_log.html", context)
