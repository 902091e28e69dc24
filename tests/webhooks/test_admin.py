"""The operators' admin for the outbox: pages render, actions act, secrets stay masked."""

import pytest
from django.test import Client
from django.urls import reverse

from organizations.models import Organization
from tests.factories import EndpointFactory, LocationFactory
from tests.pipeline import fan_out_waiting
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

    assert endpoint.secret[:10] + "…" in page


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
