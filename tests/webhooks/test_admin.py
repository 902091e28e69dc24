"""The operators' admin for the outbox: pages render, actions act (with the permission they declare),
saving goes through the endpoint services, an endpoint stays in its organization, secrets stay masked."""

import json
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from organizations.models import Organization, Plan
from tests.factories import EndpointFactory, LocationFactory, OrganizationFactory, UserFactory
from tests.pipeline import fan_out_waiting
from webhooks.endpoints.services import DISABLED_BY_USER
from webhooks.models import Delivery, DeliveryStatus, Endpoint, Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(organization: Organization) -> Endpoint:
    endpoint = EndpointFactory.create(organization=organization)
    LocationFactory.create(organization=organization)
    fan_out_waiting()  # a worker writes the location.created event's delivery to the endpoint
    return endpoint


@pytest.mark.parametrize("model", ["endpoint", "event", "delivery"])
def test_changelists_and_change_pages_render(admin_client: Client, endpoint: Endpoint, model: str) -> None:
    obj = {"endpoint": endpoint, "event": Event.objects.first(), "delivery": Delivery.objects.first()}[model]
    assert obj is not None

    assert admin_client.get(reverse(f"admin:webhooks_{model}_changelist")).status_code == 200
    page = admin_client.get(reverse(f"admin:webhooks_{model}_change", args=[obj.pk]))

    assert page.status_code == 200
    assert endpoint.secret not in page.content.decode()


def test_the_secret_is_masked_on_the_endpoint_page(admin_client: Client, endpoint: Endpoint) -> None:
    page = admin_client.get(reverse("admin:webhooks_endpoint_change", args=[endpoint.pk])).content.decode()

    assert "whsec_…" in page
    assert endpoint.secret.removeprefix("whsec_")[:4] not in page  # not one character of the key


def test_a_secret_the_customer_chose_shows_nothing_of_itself(
    admin_client: Client, endpoint: Endpoint
) -> None:
    endpoint.secret = "my-own-chosen-secret-1234"
    endpoint.save(update_fields=["secret"])

    page = admin_client.get(reverse("admin:webhooks_endpoint_change", args=[endpoint.pk])).content.decode()

    assert "my-own" not in page and "set (hidden)" in page


def test_adding_an_endpoint_runs_the_ssrf_guard(
    admin_client: Client, organization: Organization, settings: object
) -> None:
    settings.WEBHOOKS_ALLOWED_NETWORKS = []  # type: ignore[attr-defined]
    response = admin_client.post(
        reverse("admin:webhooks_endpoint_add"),
        {
            "organization": organization.pk,
            "url": "http://10.0.0.1/hook",
            "events": '["location.created"]',
            "alert_emails": "[]",
            "active": "on",
        },
    )

    assert response.status_code == 200
    assert "This URL cannot receive webhooks: private address 10.0.0.1." in response.content.decode()
    assert not Endpoint.objects.exists()


def test_disable_enable_and_test_event_actions(admin_client: Client, endpoint: Endpoint) -> None:
    url = reverse("admin:webhooks_endpoint_changelist")

    admin_client.post(url, {"action": "disable", "_selected_action": [endpoint.pk]})
    endpoint.refresh_from_db()
    assert not endpoint.active and endpoint.disabled_reason

    admin_client.post(url, {"action": "enable", "_selected_action": [endpoint.pk]})
    endpoint.refresh_from_db()
    assert endpoint.active and not endpoint.disabled_reason

    admin_client.post(
        url, {"action": "send_test_event", "event_type": "session.started", "_selected_action": [endpoint.pk]}
    )
    test_event = Event.objects.get(is_test=True)
    assert test_event.type == "session.started"
    assert Delivery.objects.get(event=test_event).endpoint == endpoint


def test_resend_action_requeues_a_failed_delivery(admin_client: Client, endpoint: Endpoint) -> None:
    failed = Delivery.objects.get(endpoint=endpoint)
    Delivery.objects.filter(pk=failed.pk).update(status=DeliveryStatus.FAILED, next_attempt_at=None)

    admin_client.post(
        reverse("admin:webhooks_delivery_changelist"), {"action": "resend", "_selected_action": [failed.pk]}
    )

    failed.refresh_from_db()
    assert failed.status == DeliveryStatus.PENDING and failed.next_attempt_at is not None


def change_form(endpoint: Endpoint, **fields: Any) -> dict[str, Any]:
    """The endpoint's change form as the admin posts it (no `active`: the box is unticked)."""
    return {
        "url": endpoint.url,
        "events": json.dumps(endpoint.events),
        "alert_emails": "[]",
        "filter": "",
        "locations": "[]",
        "chargestations": "[]",
        "headers": "{}",
        **fields,
    }


def test_unticking_active_disables_through_the_service(admin_client: Client, endpoint: Endpoint) -> None:
    # Given an active endpoint with a delivery waiting to be sent
    pending = Delivery.objects.get(endpoint=endpoint)
    assert pending.status == DeliveryStatus.PENDING
    # When an operator unticks "active" and saves
    response = admin_client.post(
        reverse("admin:webhooks_endpoint_change", args=[endpoint.pk]), change_form(endpoint)
    )
    # Then it is disabled as the API and the dashboard disable it: a reason, a time, the pending
    # delivery skipped
    assert response.status_code == 302, response.content.decode()
    endpoint.refresh_from_db()
    assert not endpoint.active
    assert endpoint.disabled_reason == DISABLED_BY_USER
    assert endpoint.disabled_at is not None
    pending.refresh_from_db()
    assert pending.status == DeliveryStatus.SKIPPED
    # And ticking it again enables it through the service, with a clean slate
    admin_client.post(
        reverse("admin:webhooks_endpoint_change", args=[endpoint.pk]), change_form(endpoint, active="on")
    )
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.disabled_reason == "" and endpoint.disabled_at is None


def test_an_endpoint_added_inactive_is_disabled_by_the_service(
    admin_client: Client, organization: Organization
) -> None:
    response = admin_client.post(
        reverse("admin:webhooks_endpoint_add"),
        {
            "organization": organization.pk,
            "url": "http://127.0.0.1:9/hook",
            "events": '["location.created"]',
            "alert_emails": "[]",
            "locations": "[]",
            "chargestations": "[]",
            "headers": "{}",
        },
    )

    assert response.status_code == 302, response.content.decode()
    endpoint = Endpoint.objects.get(organization=organization)
    assert endpoint.secret.startswith("whsec_")
    assert not endpoint.active and endpoint.disabled_reason == DISABLED_BY_USER


def test_the_organization_is_read_only_once_the_endpoint_exists(
    admin_client: Client, endpoint: Endpoint
) -> None:
    # Given an endpoint; when its change page is shown, then its organization is not a field there
    page = admin_client.get(reverse("admin:webhooks_endpoint_change", args=[endpoint.pk]))
    assert "organization" not in page.context["adminform"].form.fields
    # And when another organization is posted anyway, it is ignored
    other = OrganizationFactory.create()
    response = admin_client.post(
        reverse("admin:webhooks_endpoint_change", args=[endpoint.pk]),
        change_form(endpoint, active="on", organization=other.pk, description="moved?"),
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.organization_id != other.pk and endpoint.description == "moved?"


@pytest.fixture
def view_only_client() -> Client:
    """A staff login that may look at endpoints and deliveries, and change nothing."""
    user = UserFactory.create(is_staff=True, password=None)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_endpoint", "view_delivery", "view_event"])
    )
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("action", ["disable", "enable", "send_test_event"])
def test_endpoint_actions_need_the_change_permission(
    view_only_client: Client, endpoint: Endpoint, action: str
) -> None:
    url = reverse("admin:webhooks_endpoint_changelist")
    if action == "enable":
        Endpoint.objects.filter(pk=endpoint.pk).update(active=False, disabled_reason="x")
    before = (Endpoint.objects.filter(pk=endpoint.pk).values("active").get(), Event.objects.count())

    assert view_only_client.get(url).status_code == 200
    assert action not in view_only_client.get(url).content.decode()
    view_only_client.post(
        url, {"action": action, "event_type": "session.started", "_selected_action": [endpoint.pk]}
    )

    assert (Endpoint.objects.filter(pk=endpoint.pk).values("active").get(), Event.objects.count()) == before


def test_resending_needs_the_change_permission(view_only_client: Client, endpoint: Endpoint) -> None:
    failed = Delivery.objects.get(endpoint=endpoint)
    Delivery.objects.filter(pk=failed.pk).update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    url = reverse("admin:webhooks_delivery_changelist")

    assert "resend" not in view_only_client.get(url).content.decode()
    view_only_client.post(url, {"action": "resend", "_selected_action": [failed.pk]})

    failed.refresh_from_db()
    assert failed.status == DeliveryStatus.FAILED


def test_adding_past_the_plans_endpoint_limit_is_a_form_error(admin_client: Client) -> None:
    # Given a Free organization (no endpoint at all on its plan); when an operator adds one for it
    free = OrganizationFactory.create(plan=Plan.FREE)
    form = {"organization": free.pk, "url": "http://127.0.0.1:9/hook", "events": '["location.created"]'}
    response = admin_client.post(
        reverse("admin:webhooks_endpoint_add"),
        {
            **form,
            "alert_emails": "[]",
            "locations": "[]",
            "chargestations": "[]",
            "headers": "{}",
            "active": "on",
        },
    )
    # Then the form says why, as endpoint_create would, and nothing is added
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors()
    assert not Endpoint.objects.filter(organization=free).exists()
