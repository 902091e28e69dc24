"""Operational events at the three front doors: each one's changes raise them (all go through the
endpoint services), and the API, the dashboard and the admin show the new types like any other."""

import html
import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from jsonschema import Draft202012Validator
from rest_framework.test import APIClient

from organizations.models import Organization, Role
from tests.factories import EndpointFactory, MembershipFactory, UserFactory
from tests.metrics_samples import scrape, value
from tests.pipeline import fan_out_waiting
from webhooks.catalog.types import OPERATIONAL
from webhooks.models import Delivery, Endpoint, Event

pytestmark = pytest.mark.django_db

URL = "http://127.0.0.1:9/hooks"


@pytest.fixture
def developer(organization: Organization) -> Client:
    membership = MembershipFactory.create(
        user=UserFactory.create(password=None), organization=organization, role=Role.DEVELOPER
    )
    client = Client()
    client.force_login(membership.user)
    return client


def created_news() -> list[Event]:
    return list(Event.objects.filter(type="webhook.created"))


def test_the_api_raises_webhook_created_once_and_counts_it_once_committed(
    api: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    before = value(scrape(), "webhooks_events_total", type="webhook.created")

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/webhooks", {"url": URL, "events": ["session.started"]}, format="json")

    assert response.status_code == 201
    [created] = created_news()
    assert created.data["id"] == response.json()["id"] and response.json()["secret"] not in json.dumps(
        created.data
    )
    assert value(scrape(), "webhooks_events_total", type="webhook.created") == before + 1


def test_the_dashboard_raises_webhook_created_once(developer: Client) -> None:
    response = developer.post(
        "/developers/webhooks/new",
        {"url": URL, "alert_email": "ops@example.com", "events": ["webhook.disabled", "session.started"]},
    )

    assert response.status_code == 302
    [created] = created_news()
    assert created.data["events"] == ["session.started", "webhook.disabled"]


def test_the_admin_raises_webhook_created_once(admin_client: Client, organization: Organization) -> None:
    response = admin_client.post(
        reverse("admin:webhooks_endpoint_add"),
        {
            "organization": organization.pk,
            "url": URL,
            "events": '["delivery.exhausted"]',
            "alert_emails": "[]",
            "locations": "[]",
            "chargestations": "[]",
            "headers": "{}",
            "active": "on",
        },
    )

    assert response.status_code == 302, response.content.decode()
    [created] = created_news()
    assert created.data["events"] == ["delivery.exhausted"]


def test_the_api_lists_the_category_with_a_schema_and_an_example_per_type(api: APIClient) -> None:
    listed = api.get("/api/v1/event-types").json()["eventTypes"]
    operations = {t["name"]: t for t in listed if t["category"] == "Webhook operations"}

    assert set(operations) == OPERATIONAL
    assert {t["object"] for t in operations.values()} == {"webhook", "delivery"}
    disabled = api.get("/api/v1/event-types/webhook.disabled").json()
    assert disabled["example"]["data"]["active"] is False
    assert disabled["example"]["data"]["disabledReason"].startswith("No successful delivery since")
    assert disabled["example"]["data"]["lastError"]["statusCode"] == 503
    exhausted = api.get("/api/v1/event-types/delivery.exhausted").json()
    assert set(exhausted["example"]["data"]) == {
        "id", "webhook", "event", "status", "attemptCount", "nextAttemptAt", "lastAttemptAt",
        "lastStatusCode", "lastError", "createdAt",
    }  # fmt: skip
    webhook_data = disabled["schema"]["$defs"]["WebhookData"]["properties"]
    assert "secret" not in webhook_data and webhook_data["headers"]["items"] == {"type": "string"}


def test_the_dashboard_lists_the_category_and_documents_each_type(developer: Client) -> None:
    catalog = developer.get("/developers/event-types/").content.decode()

    assert "Webhook operations" in catalog
    for name in OPERATIONAL:
        assert f'href="/developers/event-types/{name}"' in catalog
        page = developer.get(f"/developers/event-types/{name}").content.decode()
        schema, example = (
            json.loads(
                html.unescape(re.findall(rf'<pre class="json {kind}-json">(.*?)</pre>', page, re.S)[0])
            )
            for kind in ("schema", "example")
        )
        Draft202012Validator(schema).validate(example)


def test_the_admin_shows_the_news_and_offers_them_as_test_events(
    admin_client: Client, organization: Organization
) -> None:
    endpoint = EndpointFactory.create(organization=organization, events=sorted(OPERATIONAL))
    admin_client.post(
        reverse("admin:webhooks_endpoint_changelist"),
        {"action": "send_test_event", "event_type": "webhook.disabled", "_selected_action": [endpoint.pk]},
    )
    admin_client.post(
        reverse("admin:webhooks_endpoint_changelist"),
        {"action": "disable", "_selected_action": [endpoint.pk]},
    )
    fan_out_waiting()

    events = admin_client.get(reverse("admin:webhooks_event_changelist")).content.decode()
    assert "webhook.disabled" in events and events.count("webhook.disabled") >= 2  # the test, the news
    form = admin_client.get(reverse("admin:webhooks_endpoint_changelist")).content.decode()
    assert all(f'<option value="{name}">' in form for name in OPERATIONAL)
    news = Event.objects.get(type="webhook.disabled", is_test=False)
    assert not Delivery.objects.filter(event=news).exists()  # about itself: not to itself
    assert Endpoint.objects.get(pk=endpoint.pk).active is False
