"""The dashboard's shell: who may see what (every page goes through `MemberAccessMixin`), the
overview, and API keys.

Every page is scoped to the logged-in user's organization: objects are looked up within it, so
another organization's ids are 404. Viewers read; only developers and admins may change anything.
"""

from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import AccessMixin
from django.contrib.auth.views import LoginView
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from chargestations.selectors import chargestation_list, location_list
from organizations.forms import ApiKeyCreateForm
from organizations.models import ApiKey, Membership, Organization
from organizations.services import api_key_create, api_key_revoke
from sessions_app.selectors import session_list

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class MemberAccessMixin(AccessMixin):
    """A logged-in member of an organization; changes (any unsafe method) need a changing role.

    `change_only` also closes the page itself to viewers: a form they could not submit.
    """

    change_only = False
    request: HttpRequest
    membership: Membership
    organization: Organization

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        membership = Membership.objects.select_related("organization").filter(user=request.user).first()
        if membership is None:
            raise PermissionDenied("Your login is not a member of any organization.")
        if (self.change_only or request.method not in SAFE_METHODS) and not membership.can_change:
            raise PermissionDenied("Your role (viewer) can look but not change anything.")
        self.membership, self.organization = membership, membership.organization
        self.check_permissions(request)
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]

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


def _start_of_today(organization: Organization) -> datetime:
    # "Today" is the operator's day, not UTC's.
    try:
        zone = ZoneInfo(organization.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.combine(timezone.now().astimezone(zone).date(), time.min, tzinfo=zone)


class OverviewView(MemberAccessMixin, TemplateView):
    template_name = "dashboard/overview.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        stations = chargestation_list(organization=self.organization).order_by()
        return super().get_context_data(
            locations=location_list(organization=self.organization).count(),
            chargestations=stations.count(),
            chargestations_online=stations.filter(online=True).count(),
            sessions_today=session_list(organization=self.organization)
            .filter(created_at__gte=_start_of_today(self.organization))
            .count(),
            **kwargs,
        )


class ApiKeysView(MemberAccessMixin, View):
    """List keys by prefix; create one (its raw value is shown in this response only)."""

    template_name = "dashboard/api_keys.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(ApiKeyCreateForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ApiKeyCreateForm(request.POST)
        if not form.is_valid():
            return self._render(form, status=400)
        api_key, raw_key = api_key_create(organization=self.organization, name=form.cleaned_data["name"])
        return self._render(ApiKeyCreateForm(), created=api_key, raw_key=raw_key)

    def _render(self, form: forms.Form, *, status: int = 200, **extra: Any) -> HttpResponse:
        keys = ApiKey.objects.filter(organization=self.organization).order_by("revoked_at", "-created_at")
        context = self.member_context(form=form, api_keys=keys, **extra)
        response = render(self.request, self.template_name, context, status=status)
        # A raw key may be on this page: never keep it in a cache.
        response["Cache-Control"] = "no-store"
        return response


class ApiKeyRevokeView(MemberAccessMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, key_id: int) -> HttpResponse:
        api_key = get_object_or_404(ApiKey, pk=key_id, organization=self.organization)
        api_key_revoke(api_key=api_key)
        messages.success(request, f"API key {api_key.prefix}… revoked: it no longer works.")
        return redirect("api-keys")
