"""Developers > Webhooks: list, add, edit and look after endpoints; read and resend deliveries.

Views parse a form and call one service. Reading is open to every member; changes, their forms
and the secret need a developer or admin (each view's `read_role` / `change_role`, enforced by
organizations.views.MemberAccessMixin) and, webhooks being a Starter feature, an organization
above the Free tier, whose pages say so and offer no action.
"""

import json
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views import View

from organizations.audit import actor_of
from organizations.models import Plan, Role
from organizations.views import MemberAccessMixin
from webhooks.dashboard import selectors
from webhooks.dashboard.activity import endpoint_activity
from webhooks.dashboard.charts import endpoint_charts
from webhooks.dashboard.forms import DeliveryFilterForm, EndpointForm, RecoverForm, SendTestForm
from webhooks.endpoints.redelivery import delivery_resend, endpoint_recover
from webhooks.endpoints.services import (
    DISABLED_BY_USER,
    NoSharedSecret,
    endpoint_create,
    endpoint_delete,
    endpoint_disable,
    endpoint_enable,
    endpoint_rotate_secret,
    endpoint_secret_reveal,
    endpoint_update,
)
from webhooks.endpoints.test_events import endpoint_send_test
from webhooks.endpoints.validation import EndpointLimitReached
from webhooks.models import Endpoint, SignatureScheme
from webhooks.routing.scopes import scope_places

STARTER_REQUIRED = (
    "Webhooks need the Starter tier or above, and your organization is on the Free tier. "
    "Upgrade to Starter to add endpoints and receive events."
)
DISABLED_FIRST = "This endpoint is disabled: enable it first."
V1A_NOTHING_TO_REVEAL = (
    "This endpoint signs with ed25519 (v1a): it has no shared secret to show. "
    "Verify its deliveries with the public key on its page."
)
DELIVERIES_PER_PAGE = 25
# The type of the last test event sent, which the picker offers again (per browser session).
LAST_TEST_TYPE = "webhooks.last_test_type"


class WebhooksAccessMixin(MemberAccessMixin):
    read_role = Role.VIEWER
    change_role = Role.DEVELOPER

    def check_permissions(self, request: HttpRequest) -> None:
        changing = self.role_needed(request) != Role.VIEWER  # a change, or a page only for changing
        if changing and self.organization.plan == Plan.FREE:
            raise PermissionDenied(STARTER_REQUIRED)

    def get_endpoint(self, wh_id: str) -> Endpoint:
        endpoint = selectors.endpoint_get(organization=self.organization, public_id=wh_id)
        if endpoint is None:
            raise Http404("No such webhook endpoint.")
        return endpoint

    def webhooks_context(self, **extra: Any) -> dict[str, Any]:
        free = self.organization.plan == Plan.FREE
        return self.member_context(
            free_plan=free,
            starter_required=STARTER_REQUIRED,
            can_act=self.membership.can_change and not free,
            **extra,
        )


def endpoint_state(endpoint: Endpoint) -> str:
    """One of "active", "failing" (active, but no attempt has succeeded since `failing_since`),
    "disabled_by_user" and "disabled_for_failures"."""
    if endpoint.active:
        return "failing" if endpoint.failing_since else "active"
    return "disabled_by_user" if endpoint.disabled_reason == DISABLED_BY_USER else "disabled_for_failures"


class EndpointListView(WebhooksAccessMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        rows = selectors.endpoint_list_with_health(organization=self.organization)
        states = [(row, endpoint_state(row.endpoint)) for row in rows]
        return render(request, "webhooks/list.html", self.webhooks_context(rows=states))


class EndpointCreateView(WebhooksAccessMixin, View):
    read_role = Role.DEVELOPER

    def get(self, request: HttpRequest) -> HttpResponse:
        initial = {"alert_email": selectors.alert_email_default(organization=self.organization)}
        return self._render(EndpointForm(initial=initial, organization_id=self.organization.pk))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = EndpointForm(request.POST, organization_id=self.organization.pk)
        if not form.is_valid():
            return self._render(form, status=400)
        try:
            endpoint = endpoint_create(
                organization=self.organization, actor=actor_of(request), **form.service_arguments()
            )
        except EndpointLimitReached as refused:
            form.add_error(None, refused)
            return self._render(form, status=400)
        v1a = endpoint.signature_scheme == SignatureScheme.V1A
        verify_with = "Copy its public key" if v1a else "Reveal its signing secret"
        messages.success(request, f"Endpoint added. {verify_with} below to verify deliveries.")
        return redirect("dashboard-webhook", wh_id=endpoint.public_id)

    def _render(self, form: EndpointForm, status: int = 200) -> HttpResponse:
        context = self.webhooks_context(form=form, endpoint=None)
        return render(self.request, "webhooks/form.html", context, status=status)


class EndpointEditView(WebhooksAccessMixin, View):
    read_role = Role.DEVELOPER

    def get(self, request: HttpRequest, wh_id: str) -> HttpResponse:
        endpoint = self.get_endpoint(wh_id)
        return self._render(EndpointForm.for_endpoint(endpoint), endpoint)

    def post(self, request: HttpRequest, wh_id: str) -> HttpResponse:
        endpoint = self.get_endpoint(wh_id)
        form = EndpointForm.for_endpoint(endpoint, request.POST)
        if not form.is_valid():
            return self._render(form, endpoint, status=400)
        scheme = endpoint.signature_scheme
        endpoint_update(endpoint=endpoint, actor=actor_of(request), **form.service_arguments())
        switched = (
            f" It now signs with {endpoint.get_signature_scheme_display()} and a new key, the only one that "
            "signs: update your receiver."
            if endpoint.signature_scheme != scheme
            else ""
        )
        messages.success(request, f"Endpoint saved.{switched}")
        return redirect("dashboard-webhook", wh_id=endpoint.public_id)

    def _render(self, form: EndpointForm, endpoint: Endpoint, status: int = 200) -> HttpResponse:
        context = self.webhooks_context(form=form, endpoint=endpoint)
        return render(self.request, "webhooks/form.html", context, status=status)


class EndpointDetailView(WebhooksAccessMixin, View):
    def get(self, request: HttpRequest, wh_id: str) -> HttpResponse:
        health = selectors.endpoint_get_with_health(organization=self.organization, public_id=wh_id)
        if health is None:
            raise Http404("No such webhook endpoint.")
        endpoint = health.endpoint
        filters = DeliveryFilterForm(request.GET)
        chosen = filters.filters()
        deliveries = selectors.delivery_log(endpoint=endpoint, **chosen)
        page = Paginator(deliveries, DELIVERIES_PER_PAGE).get_page(request.GET.get("page"))
        test_type = request.session.get(LAST_TEST_TYPE) or (endpoint.events[0] if endpoint.events else None)
        grace_until = endpoint.previous_secret_expires_at
        scoped_locations, scoped_stations = (
            scope_places(
                organization_id=endpoint.organization_id,
                locations=endpoint.locations,
                chargestations=endpoint.chargestations,
            )
            if endpoint.locations or endpoint.chargestations
            else ([], [])
        )
        context = self.webhooks_context(
            health=health,
            endpoint=endpoint,
            state=endpoint_state(endpoint),
            page=page,
            filter_form=filters,
            filter_query=urlencode({k: v for k, v in chosen.items() if v}),
            send_test_form=SendTestForm(initial={"type": test_type}),
            recover_form=RecoverForm(initial={"since": timezone.now().date() - timedelta(days=1)}),
            grace_until=grace_until if grace_until and grace_until > timezone.now() else None,
            filter_json=json.dumps(endpoint.filter, indent=2) if endpoint.filter else "",
            scoped_locations=scoped_locations,
            scoped_stations=scoped_stations,
            charts=endpoint_charts(endpoint_activity(endpoint=endpoint)),
            time_zone=timezone.get_current_timezone_name(),
        )
        return render(request, "webhooks/detail.html", context)


class EndpointSecretView(WebhooksAccessMixin, View):
    """The secret, on request only; as plain text for the page's "click to reveal" script."""

    read_role = Role.DEVELOPER

    def get(self, request: HttpRequest, wh_id: str) -> HttpResponse:
        endpoint = self.get_endpoint(wh_id)
        try:
            secret = endpoint_secret_reveal(endpoint=endpoint, actor=actor_of(request))
        except NoSharedSecret:
            return HttpResponse(V1A_NOTHING_TO_REVEAL, status=409, content_type="text/plain; charset=utf-8")
        if request.headers.get("X-Requested-With") == "fetch":
            response = HttpResponse(secret, content_type="text/plain; charset=utf-8")
        else:
            response = render(request, "webhooks/secret.html", self.webhooks_context(endpoint=endpoint))
        response["Cache-Control"] = "no-store"
        return response


class EndpointAction(WebhooksAccessMixin, View):
    """A POST that changes one endpoint, then goes back to its page (or where `act` says)."""

    http_method_names = ["post"]
    needs_active = False

    def post(self, request: HttpRequest, wh_id: str, **kwargs: Any) -> HttpResponse:
        endpoint = self.get_endpoint(wh_id)
        if self.needs_active and not endpoint.active:
            messages.error(request, DISABLED_FIRST)
        else:
            response = self.act(request, endpoint, **kwargs)
            if response is not None:
                return response
        return redirect("dashboard-webhook", wh_id=endpoint.public_id)

    def act(self, request: HttpRequest, endpoint: Endpoint, **kwargs: Any) -> HttpResponse | None:
        raise NotImplementedError


class EndpointRotateSecretView(EndpointAction):
    def act(self, request: HttpRequest, endpoint: Endpoint, **kwargs: Any) -> None:
        endpoint_rotate_secret(endpoint=endpoint, actor=actor_of(request))
        until = endpoint.previous_secret_expires_at
        rotated = "Key" if endpoint.signature_scheme == SignatureScheme.V1A else "Secret"
        messages.success(
            request,
            f"{rotated} rotated. The previous one keeps signing beside it until {until:%Y-%m-%d %H:%M} UTC.",
        )


class EndpointSendTestView(EndpointAction):
    needs_active = True

    def act(self, request: HttpRequest, endpoint: Endpoint, **kwargs: Any) -> None:
        form = SendTestForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose an event type to send.")
            return
        endpoint_send_test(endpoint=endpoint, type_name=form.cleaned_data["type"])
        request.session[LAST_TEST_TYPE] = form.cleaned_data["type"]
        messages.success(request, f"Test {form.cleaned_data['type']} event queued: watch the log below.")


class EndpointDisableView(EndpointAction):
    def act(self, request: HttpRequest, endpoint: Endpoint, **kwargs: Any) -> None:
        endpoint_disable(endpoint_id=endpoint.pk, reason=DISABLED_BY_USER, actor=actor_of(request))
        messages.success(request, "Endpoint disabled: new events are kept as skipped until you enable it.")


class EndpointEnableView(EndpointAction):
    def act(self, request: HttpRequest, endpoint: Endpoint, **kwargs: Any) -> None:
        if not endpoint.active:
            endpoint_enable(endpoint=endpoint, actor=actor_of(request))
        messages.success(request, "Endpoint enabled. Recover what it missed with “Recover failed since”.")


class EndpointDeleteView(EndpointAction):
    def act(self, request: HttpRequest, endpoint: Endpoint, **kwargs: Any) -> HttpResponse:
        endpoint_delete(endpoint=endpoint, actor=actor_of(request))
        messages.success(request, f"Endpoint {endpoint.url} deleted.")
        return redirect("dashboard-webhooks")


class EndpointRecoverView(EndpointAction):
    needs_active = True

    def act(self, request: HttpRequest, endpoint: Endpoint, **kwargs: Any) -> None:
        form = RecoverForm(request.POST)
        if not form.is_valid():
            messages.error(request, " ".join(map(str, form.errors.get("since", ["Choose a day."]))))
            return
        count = endpoint_recover(endpoint=endpoint, since=form.cleaned_data["since"])
        messages.success(request, f"{count} failed or skipped deliveries queued again.")


class DeliveryResendView(EndpointAction):
    needs_active = True

    def act(self, request: HttpRequest, endpoint: Endpoint, **kwargs: Any) -> None:
        delivery = selectors.delivery_get(endpoint=endpoint, delivery_id=int(kwargs["delivery_id"]))
        if delivery is None:
            raise Http404("No such delivery.")
        delivery_resend(delivery=delivery)
        messages.success(request, f"Delivery {delivery.pk} queued again.")
