"""Hostile input answered cleanly (issue 17, section 5): a JSON answer of the right status, never a 500
or Django's debug page, and nothing stored past the limits of what an event carries."""

from typing import Any

import pytest
from django.test import Client
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from organizations.models import ENDPOINT_LIMITS, Organization, Plan
from organizations.serializers import JSON_FIELD_MAX_BYTES, JSON_FIELD_MAX_DEPTH
from tests.factories import EndpointFactory, MembershipFactory
from webhooks.models import Endpoint

pytestmark = pytest.mark.django_db

# One route of each kind: a router's, one with DRF's JSONParser of its own (webhooks, the organization),
# a detail route, and one that is no route at all.
ROUTES = [
    ("post", "/api/v1/locations"),
    ("post", "/api/v1/webhooks"),
    ("patch", "/api/v1/organization"),
    ("patch", "/api/v1/chargestations/missing"),
    ("post", "/api/v1/no-such-thing"),
]
NESTED_50_000_DEEP = "[" * 50_000 + "]" * 50_000


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_json_nested_50_000_deep_is_a_400_in_json(api: APIClient, method: str, path: str) -> None:
    response = getattr(api, method)(path, NESTED_50_000_DEEP, content_type="application/json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "nested deeper than" in response.json()["detail"]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_a_body_over_the_limit_is_a_413_in_json(
    api: APIClient, settings: Settings, method: str, path: str
) -> None:
    # Given the default limit, 1 MiB; When a body one byte larger comes, valid JSON as it is
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 1024 * 1024
    padding = settings.DATA_UPLOAD_MAX_MEMORY_SIZE - len('{"name": ""}') + 1
    body = '{"name": "' + "x" * padding + '"}'

    response = getattr(api, method)(path, body, content_type="application/json")

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "The request body is larger than 1048576 bytes."}


@pytest.mark.parametrize("debug", [True, False])
def test_an_unknown_api_path_is_a_json_404_with_debug_on_too(
    api: APIClient, settings: Settings, debug: bool
) -> None:
    settings.DEBUG = debug

    responses = [api.get("/api/v1/no-such-thing"), api.get("/api/nothing/here/"), APIClient().get("/api/v2")]

    for response in responses:
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert "no such API route" in response.json()["detail"]
    # Outside /api/ the dashboard's own 404 page stays.
    assert Client().get("/no-such-page/")["Content-Type"].startswith("text/html")


def _nested(depth: int) -> dict[str, Any]:
    """An object `depth` levels deep (the object itself is one)."""
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("post", "/api/v1/locations", "meta_data"),
        ("post", "/api/v1/locations", "opening_hours"),
        ("patch", "/api/v1/organization", "meta_data"),
        ("post", "/api/v1/users", "meta_data"),
        ("post", "/api/v1/rates", "meta_data"),
    ],
)
def test_free_form_json_past_its_limits_is_a_400_naming_the_field(
    api: APIClient, method: str, path: str, field: str
) -> None:
    base = {"name": "Depot", "first_name": "Ada", "currency": "EUR"} if method == "post" else {}
    largest = {"blob": "x" * (JSON_FIELD_MAX_BYTES - len('{"blob":""}'))}
    too_large = {"blob": "x" * (JSON_FIELD_MAX_BYTES - len('{"blob":""}') + 1)}

    deep = getattr(api, method)(path, {**base, field: _nested(JSON_FIELD_MAX_DEPTH + 1)}, format="json")
    large = getattr(api, method)(path, {**base, field: too_large}, format="json")
    at_the_limits = getattr(api, method)(path, {**base, field: largest}, format="json")
    deepest = getattr(api, method)(path, {**base, field: _nested(JSON_FIELD_MAX_DEPTH)}, format="json")

    assert deep.status_code == 400
    assert deep.json() == {field: [f"{field} nests 11 levels deep; at most 10 are allowed."]}
    assert large.status_code == 400
    assert large.json() == {field: [f"{field} is 16385 bytes of JSON; at most 16384 are allowed."]}
    assert at_the_limits.status_code in (200, 201), at_the_limits.json()
    assert deepest.status_code in (200, 201), deepest.json()


def test_an_address_is_bounded_by_its_fields(api: APIClient) -> None:
    # Its fields have a length each; anything else is not kept.
    address = {"streetAndNumber": "x" * 201, "unknown": "y" * 100_000}

    response = api.post("/api/v1/locations", {"name": "Depot", "address": address}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["address"]
    assert list(response.json()["address"]) == ["streetAndNumber"]


def test_past_the_plans_endpoint_limit_a_new_webhook_is_a_400(
    api: APIClient, organization: Organization
) -> None:
    # Given a Starter organization with as many endpoints as its plan allows
    limit = ENDPOINT_LIMITS[Plan.STARTER]
    assert organization.plan == Plan.STARTER
    EndpointFactory.create_batch(limit, organization=organization)
    body = {"url": "http://127.0.0.1:9/one-more", "events": ["session.started"]}

    # When one more is registered through the API and through the dashboard
    response = api.post("/api/v1/webhooks", body, format="json")
    dashboard = Client()
    dashboard.force_login(MembershipFactory.create(organization=organization).user)
    page = dashboard.post("/developers/webhooks/new", {"url": body["url"], "events": body["events"]})

    # Then both refuse it, saying why, and nothing is stored
    message = "This organization has 20 webhook endpoints, the most its Starter plan allows (20)."
    assert response.status_code == 400
    assert response.json()["non_field_errors"][0].startswith(message)
    assert page.status_code == 400
    assert message in page.content.decode()
    assert Endpoint.objects.filter(organization=organization).count() == limit
