"""RabbitMQ endpoints through the three front doors: an amqp(s):// URL is validated alike by the API,
the dashboard and the admin; its password is encrypted at rest, shown as **** everywhere, and kept
when the masked URL comes back. Deliveries to the RabbitMQ of 127.0.0.1 are recorded as HTTP ones are."""

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from organizations.models import AuditEntry, Organization, Role
from tests.factories import EndpointFactory, LocationFactory, MembershipFactory, UserFactory
from tests.pipeline import deliver_waiting
from tests.rabbitmq import RabbitQueue, rabbit_queue, rabbitmq_connection, rabbitmq_missing
from webhooks.delivery.brokers import MASK
from webhooks.endpoints.validation import BROKER_PASSWORD_MASKED
from webhooks.models import Attempt, Delivery, DeliveryStatus, Endpoint, Event

pytestmark = pytest.mark.django_db

PASSWORD = "s3cret-broker-pass"  # what the tests look for everywhere
URL = f"amqps://billing:{PASSWORD}@93.184.215.14:5671/edrv?exchange=events&routing_key=edrv.all"
SHOWN = f"amqps://billing:{MASK}@93.184.215.14:5671/edrv?exchange=events&routing_key=edrv.all"


def webhook_create(api: APIClient, url: str = URL) -> Any:
    return api.post("/api/v1/webhooks", {"url": url, "events": ["location.created"]}, format="json")


def webhook_patch(api: APIClient, webhook_id: str, **fields: Any) -> Any:
    return api.patch(f"/api/v1/webhooks/{webhook_id}", fields, format="json")


def columns(endpoint_id: str) -> tuple[str, str]:
    """The url and url_password columns as stored, read past the ORM."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT url, url_password FROM {Endpoint._meta.db_table} WHERE public_id = %s", [endpoint_id]
        )
        return cursor.fetchone()


@pytest.fixture
def member(organization: Organization) -> Client:
    """A developer of the organization, logged in to the dashboard."""
    user = UserFactory.create(password=None)
    MembershipFactory.create(user=user, organization=organization, role=Role.DEVELOPER)
    client = Client()
    client.force_login(user)
    return client


# --- The API ---------------------------------------------------------------------------------------


def test_a_broker_url_is_registered_with_its_password_encrypted_and_masked(api: APIClient) -> None:
    # When a webhook is registered with a broker's URL
    response = webhook_create(api)

    # Then the answer shows the URL with its password masked, as every later read does
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["url"] == SHOWN
    assert api.get(f"/api/v1/webhooks/{created['id']}").json()["url"] == SHOWN
    assert api.get("/api/v1/webhooks").json()["webhooks"][0]["url"] == SHOWN
    # And the database holds the masked URL and the password encrypted: no column has it in the clear
    url_column, password_column = columns(created["id"])
    assert url_column == SHOWN
    assert PASSWORD not in password_column and password_column.startswith("gAAAA")  # a Fernet token
    assert Endpoint.objects.get().url_password == PASSWORD
    # And the audit log records the URL as shown; no event (operational ones included) carries it
    entry = AuditEntry.objects.get(action="webhook.created")
    assert entry.changes["url"] == SHOWN and PASSWORD not in str(entry.changes)
    assert PASSWORD not in str(list(Event.objects.values_list("data", flat=True)))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "amqps://u:p@93.184.215.14/",
            "This URL cannot receive webhooks: the exchange is missing: add ?exchange=NAME.",
        ),
        (
            "amqps://u:p@93.184.215.14/?exchange=e&ttl=5",
            "This URL cannot receive webhooks: unknown parameter 'ttl': only exchange and routing_key are.",
        ),
        ("amqps://u:p@10.0.0.5/?exchange=e", "This URL cannot receive webhooks: private address 10.0.0.5."),
        (
            "amqp://u:p@93.184.215.14/?exchange=e",
            "This URL cannot receive webhooks: TLS is required: use amqps://.",
        ),
        (f"amqps://u:{MASK}@93.184.215.14/?exchange=e", BROKER_PASSWORD_MASKED),
    ],
)
def test_a_bad_broker_url_is_a_400_naming_the_field(
    api: APIClient, settings: Settings, url: str, message: str
) -> None:
    # Given production's rules: no development networks, TLS only
    settings.WEBHOOKS_ALLOWED_NETWORKS, settings.WEBHOOKS_ALLOW_HTTP, settings.DEBUG = [], False, False

    response = webhook_create(api, url)

    assert response.status_code == 400
    assert response.json() == {"url": [message]}
    assert not Endpoint.objects.exists()


def test_the_masked_url_given_back_keeps_the_stored_password(api: APIClient) -> None:
    # Given a webhook to a broker
    webhook_id = webhook_create(api).json()["id"]
    # When the URL it shows comes back, with another routing key
    response = webhook_patch(api, webhook_id, url=SHOWN.replace("edrv.all", "edrv.sessions"))
    # Then the password is still the one given at first
    assert response.status_code == 200, response.content
    endpoint = Endpoint.objects.get()
    assert endpoint.url == SHOWN.replace("edrv.all", "edrv.sessions")
    assert endpoint.url_password == PASSWORD
    # And a new password replaces it, and is masked in its turn
    response = webhook_patch(api, webhook_id, url=URL.replace(PASSWORD, "n%3Aw-pass"))
    assert response.json()["url"] == SHOWN
    assert Endpoint.objects.get().url_password == "n:w-pass"
    changes = [entry.changes for entry in AuditEntry.objects.filter(action="webhook.updated").order_by("id")]
    assert changes == [{"url": SHOWN.replace("edrv.all", "edrv.sessions")}, {"url": SHOWN}]


@pytest.mark.parametrize(
    "elsewhere",
    [
        SHOWN.replace("93.184.215.14", "93.184.215.15"),  # another host
        SHOWN.replace(":5671", ":5999"),  # another port
        SHOWN.replace("billing:", "admin:"),  # another user
    ],
)
def test_the_mask_never_takes_the_stored_password_to_another_broker(api: APIClient, elsewhere: str) -> None:
    webhook_id = webhook_create(api).json()["id"]

    response = webhook_patch(api, webhook_id, url=elsewhere)

    assert response.status_code == 400
    assert response.json() == {"url": [BROKER_PASSWORD_MASKED]}
    assert Endpoint.objects.get().url == SHOWN


def test_an_https_url_replacing_a_broker_drops_its_password(api: APIClient) -> None:
    webhook_id = webhook_create(api).json()["id"]

    webhook_patch(api, webhook_id, url="https://93.184.215.14/hooks")

    endpoint = Endpoint.objects.get()
    assert (endpoint.url, endpoint.url_password) == ("https://93.184.215.14/hooks", "")


# --- The dashboard ---------------------------------------------------------------------------------


def test_the_dashboard_adds_and_edits_a_broker_endpoint_never_showing_its_password(
    member: Client, organization: Organization
) -> None:
    # Given the form, which says what a broker URL looks like
    assert (
        "amqps://user:password@host/vhost?exchange=NAME"
        in member.get("/developers/webhooks/new").content.decode()
    )
    # When a developer adds a broker endpoint
    response = member.post("/developers/webhooks/new", {"url": URL, "events": ["location.created"]})
    assert response.status_code == 302, response.content.decode()
    endpoint = Endpoint.objects.get(organization=organization)
    assert (endpoint.url, endpoint.url_password) == (SHOWN, PASSWORD)
    # Then its pages show the URL masked, and nowhere the password
    page = f"/developers/webhooks/{endpoint.public_id}/"
    for path in ("/developers/webhooks/", page, page + "edit"):
        html = member.get(path).content.decode()
        assert SHOWN.replace("&", "&amp;") in html, path
        assert PASSWORD not in html, path
    # And saving the edit form as shown (another description) keeps the password
    response = member.post(page + "edit", {"url": SHOWN, "events": ["location.created"], "description": "B"})
    assert response.status_code == 302, response.content.decode()
    endpoint.refresh_from_db()
    assert (endpoint.description, endpoint.url_password) == ("B", PASSWORD)


def test_the_dashboard_form_says_what_is_wrong_with_a_broker_url(member: Client) -> None:
    response = member.post(
        "/developers/webhooks/new", {"url": "amqps://u:p@93.184.215.14/", "events": ["location.created"]}
    )

    assert response.status_code == 400
    assert "the exchange is missing: add ?exchange=NAME" in response.content.decode()


# --- The admin -------------------------------------------------------------------------------------


def admin_form(url: str, **fields: Any) -> dict[str, Any]:
    return {
        "url": url,
        "events": '["location.created"]',
        "active": "on",
        "alert_emails": "[]",
        "locations": "[]",
        "chargestations": "[]",
        "headers": "{}",
        **fields,
    }


def test_the_admin_adds_and_changes_a_broker_endpoint_never_showing_its_password(
    admin_client: Client, organization: Organization
) -> None:
    # Given the add form, which says what a broker URL looks like
    add_page = admin_client.get(reverse("admin:webhooks_endpoint_add")).content.decode()
    assert "amqps://user:password@host:port/vhost?exchange=NAME" in add_page.replace("&amp;", "&")
    # When an operator adds a broker endpoint
    response = admin_client.post(
        reverse("admin:webhooks_endpoint_add"), admin_form(URL, organization=organization.pk)
    )
    assert response.status_code == 302, response.content.decode()
    endpoint = Endpoint.objects.get()
    assert (endpoint.url, endpoint.url_password) == (SHOWN, PASSWORD)
    # Then the list, the change page and the history show the URL masked, never the password
    change = reverse("admin:webhooks_endpoint_change", args=[endpoint.pk])
    history = reverse("admin:webhooks_endpoint_history", args=[endpoint.pk])
    for path in (reverse("admin:webhooks_endpoint_changelist"), change, history):
        html = admin_client.get(path).content.decode()
        assert PASSWORD not in html, path
    assert SHOWN.replace("&", "&amp;") in admin_client.get(change).content.decode()
    # And saving the change form as shown keeps the password
    response = admin_client.post(change, admin_form(SHOWN, description="kept"))
    assert response.status_code == 302, response.content.decode()
    endpoint.refresh_from_db()
    assert (endpoint.description, endpoint.url_password) == ("kept", PASSWORD)
    # While the shown URL pointed at another host is refused, as by the API
    response = admin_client.post(change, admin_form(SHOWN.replace("93.184.215.14", "93.184.215.15")))
    assert response.status_code == 200
    assert BROKER_PASSWORD_MASKED in response.content.decode().replace("&#x27;", "'")


# --- Deliveries to the RabbitMQ of 127.0.0.1 ----------------------------------------------------------


@pytest.fixture
def rabbit() -> Iterator[RabbitQueue]:
    try:
        rabbitmq_connection().close()
    except OSError:
        rabbitmq_missing()
    with rabbit_queue() as queue:
        yield queue


def test_a_delivery_to_a_broker_is_recorded_as_an_http_one_and_logs_no_password(
    api: APIClient, member: Client, rabbit: RabbitQueue, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # Given a webhook to the exchange, registered through the API
    webhook_id = webhook_create(api, rabbit.url()).json()["id"]
    endpoint = Endpoint.objects.get(public_id=webhook_id)
    # When an event is delivered
    LocationFactory.create(organization=endpoint.organization)
    assert deliver_waiting() == 1
    # Then the message is in the queue, and the attempt succeeded with the broker's confirm
    [message] = rabbit.wait_for(1)
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert message.properties["message_id"] == delivery.event.public_id
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.last_status_code == 200
    # And the delivery's page and the API show it with the URL masked; no log line holds the password
    password = rabbit.url().split(":")[2].split("@")[0]
    page = member.get(f"/developers/webhooks/{webhook_id}/deliveries/{delivery.pk}/").content.decode()
    assert page.count(MASK) >= 1 and f":{password}@" not in page
    assert f":{password}@" not in api.get(f"/api/v1/deliveries/{delivery.pk}").content.decode()
    assert f":{password}@" not in caplog.text


def test_a_missing_exchange_is_a_failed_attempt_retried_later(
    organization: Organization, rabbit: RabbitQueue
) -> None:
    # Given an endpoint whose exchange does not exist (yet)
    endpoint = EndpointFactory.create(
        organization=organization, url=rabbit.url().replace(rabbit.exchange, "gone")
    )
    endpoint.url, endpoint.url_password = endpoint.url.replace(":guest@", f":{MASK}@"), "guest"
    endpoint.save(update_fields=["url", "url_password"])
    # When an event is delivered
    LocationFactory.create(organization=organization)
    deliver_waiting()
    # Then the attempt failed saying why, and is retried on the schedule; the endpoint is not disabled
    attempt = Attempt.objects.get()
    assert (attempt.succeeded, attempt.status_code) == (False, 404)
    assert attempt.error == "exchange not found: 'gone' in vhost '/'"
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at is not None
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.consecutive_failures == 1
