"""Who may call what: no key is 401, a Free organization is 403, another organization's ids are 404."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db.models import Model
from django.utils import timezone
from rest_framework.test import APIClient

from organizations.models import Organization
from tests.factories import EndpointFactory
from tests.pipeline import fan_out_waiting
from webhooks.models import Delivery, Endpoint, Event, IdempotencyRecord

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Objects:
    """One organization's webhook, an event and its delivery to that webhook."""

    webhook: str
    event: str
    delivery: str


def objects_of(organization: Organization) -> Objects:
    endpoint = EndpointFactory.create(organization=organization)
    organization.name = f"{organization.name} renamed"  # raises organization.updated
    organization.save()
    fan_out_waiting()  # a worker writes the event's delivery to the webhook
    delivery = Delivery.objects.select_related("event").get(endpoint=endpoint)
    return Objects(webhook=endpoint.public_id, event=delivery.event.public_id, delivery=str(delivery.pk))


# Every route that takes an id: method, path (filled from Objects) and a body that would be valid.
ID_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("get", "/api/v1/webhooks/{o.webhook}", None),
    ("patch", "/api/v1/webhooks/{o.webhook}", {"active": False, "description": "hijacked"}),
    ("delete", "/api/v1/webhooks/{o.webhook}", None),
    ("get", "/api/v1/webhooks/{o.webhook}/deliveries", None),
    ("post", "/api/v1/webhooks/{o.webhook}/recover", {"since": "2020-01-01T00:00:00Z"}),
    ("post", "/api/v1/webhooks/{o.webhook}/test", {"type": "location.created"}),
    ("get", "/api/v1/webhooks/{o.webhook}/secret", None),
    ("post", "/api/v1/webhooks/{o.webhook}/rotate-secret", {}),
    ("get", "/api/v1/events/{o.event}", None),
    ("get", "/api/v1/deliveries/{o.delivery}", None),
    ("post", "/api/v1/deliveries/{o.delivery}/resend", None),
]
LIST_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("get", "/api/v1/webhooks", None),
    ("post", "/api/v1/webhooks", {"url": "https://93.184.215.14/x", "events": ["session.started"]}),
    ("get", "/api/v1/events", None),
]
WEBHOOK_ROUTES = LIST_ROUTES + ID_ROUTES


def call(client: APIClient, method: str, path: str, body: dict[str, Any] | None) -> Any:
    return getattr(client, method)(path, body, format="json")


def snapshot() -> dict[str, list[Any]]:
    models: tuple[type[Model], ...] = (Endpoint, Event, Delivery, IdempotencyRecord)
    return {model.__name__: list(model._default_manager.order_by("pk").values()) for model in models}


@pytest.mark.parametrize(("method", "path", "body"), ID_ROUTES, ids=[f"{m} {p}" for m, p, _ in ID_ROUTES])
def test_another_organizations_id_is_404_and_nothing_changes(
    method: str, path: str, body: dict[str, Any] | None, organization: Organization, other_api: APIClient
) -> None:
    mine = objects_of(organization)
    before = snapshot()

    response = call(other_api, method, path.format(o=mine), body)

    noun = "delivery" if "deliveries/{" in path else "event" if "events/{" in path else "webhook"
    assert (response.status_code, response.json()) == (404, {"detail": f"No {noun} with this id."})
    assert snapshot() == before


@pytest.mark.parametrize(("method", "path", "body"), ID_ROUTES, ids=[f"{m} {p}" for m, p, _ in ID_ROUTES])
def test_another_organizations_id_reads_exactly_like_an_unknown_one(
    method: str,
    path: str,
    body: dict[str, Any] | None,
    organization: Organization,
    other_organization: Organization,
    other_api: APIClient,
) -> None:
    mine = objects_of(organization)
    unknown = Objects(webhook="wh_" + "f" * 24, event="f" * 24, delivery="999999999")
    objects_of(other_organization)  # the caller has objects of its own: still 404 for mine

    foreign = call(other_api, method, path.format(o=mine), body)
    missing = call(other_api, method, path.format(o=unknown), body)

    assert (foreign.status_code, foreign.json()) == (missing.status_code, missing.json())
    assert foreign.status_code == 404


@pytest.mark.parametrize("delivery_id", ["abc", "1.5", "-1", "99999999999999999999999", "١٢"])
def test_a_delivery_id_that_cannot_be_one_is_404(delivery_id: str, api: APIClient) -> None:
    assert api.get(f"/api/v1/deliveries/{delivery_id}").status_code == 404


def test_lists_show_only_the_callers_objects(
    organization: Organization, other_organization: Organization, other_api: APIClient
) -> None:
    objects_of(organization)
    theirs = objects_of(other_organization)

    webhooks = other_api.get("/api/v1/webhooks").json()["webhooks"]
    events = other_api.get("/api/v1/events").json()["events"]
    deliveries = other_api.get(f"/api/v1/webhooks/{theirs.webhook}/deliveries").json()["deliveries"]

    assert [w["id"] for w in webhooks] == [theirs.webhook]
    assert [e["id"] for e in events] == [theirs.event]
    assert [d["id"] for d in deliveries] == [theirs.delivery]


@pytest.mark.parametrize(
    ("method", "path", "body"), WEBHOOK_ROUTES, ids=[f"{m} {p}" for m, p, _ in WEBHOOK_ROUTES]
)
def test_a_free_organization_is_refused_on_every_webhook_route_naming_the_starter_tier(
    method: str,
    path: str,
    body: dict[str, Any] | None,
    organization: Organization,
    client_for: Callable[[Organization], APIClient],
) -> None:
    mine = objects_of(organization)
    organization.plan = "free"
    organization.save()
    before = snapshot()

    response = call(client_for(organization), method, path.format(o=mine), body)

    assert response.status_code == 403
    assert response.json() == {
        "detail": "Webhooks require the Starter tier or above, and this organization is on the Free tier. "
        "Upgrade to Starter to use webhooks."
    }
    assert snapshot() == before


def test_a_free_organization_may_read_the_event_catalog(free_api: APIClient) -> None:
    assert free_api.get("/api/v1/event-types").status_code == 200


def test_moving_back_up_from_free_gives_the_webhooks_back(
    organization: Organization, client_for: Callable[[Organization], APIClient]
) -> None:
    mine = objects_of(organization)
    client = client_for(organization)
    organization.plan = "free"
    organization.save()
    assert client.get(f"/api/v1/webhooks/{mine.webhook}").status_code == 403

    organization.plan = "starter"
    organization.save()

    assert client.get(f"/api/v1/webhooks/{mine.webhook}").json()["id"] == mine.webhook


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [*WEBHOOK_ROUTES, ("get", "/api/v1/event-types", None)],
    ids=[f"{m} {p}" for m, p, _ in [*WEBHOOK_ROUTES, ("get", "/api/v1/event-types", None)]],
)
@pytest.mark.parametrize("authorization", [None, "Bearer not-a-key", "Token abc"])
def test_no_valid_api_key_is_401(
    method: str, path: str, body: dict[str, Any] | None, authorization: str | None, organization: Organization
) -> None:
    mine = objects_of(organization)
    client = APIClient()
    if authorization:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    before = snapshot()

    response = call(client, method, path.format(o=mine), body)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    assert snapshot() == before


def test_a_revoked_key_is_401(organization: Organization, api: APIClient) -> None:
    organization.api_keys.update(revoked_at=timezone.now())

    assert api.get("/api/v1/webhooks").status_code == 401
