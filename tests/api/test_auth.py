from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from organizations.models import ApiKey, Organization
from organizations.services import api_key_create, api_key_revoke

pytestmark = pytest.mark.django_db

ROUTES = [
    "/api/v1/organization",
    "/api/v1/locations",
    "/api/v1/chargestations",
    "/api/v1/connectors",
    "/api/v1/rates",
    "/api/v1/users",
    "/api/v1/sessions",
]


def client_with(header: str | None) -> Client:
    client = Client()
    if header is not None:
        client.defaults["HTTP_AUTHORIZATION"] = header
    return client


@pytest.mark.parametrize("route", ROUTES)
def test_no_key_is_a_401_that_says_how_to_authenticate(route: str) -> None:
    response = client_with(None).get(route)

    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ("Bearer", "Malformed Authorization header: use 'Bearer <API key>'."),
        ("Bearer two parts", "Malformed Authorization header: use 'Bearer <API key>'."),
        ("Bearer edrv_00000000_not-a-real-key", "Invalid API key."),
    ],
)
def test_a_malformed_or_unknown_key_is_a_401(header: str, detail: str) -> None:
    response = client_with(header).get("/api/v1/locations")

    assert response.status_code == 401
    assert response.json() == {"detail": detail}


def test_another_scheme_is_a_401(organization: Organization) -> None:
    _, raw_key = api_key_create(organization=organization)

    response = client_with(f"Token {raw_key}").get("/api/v1/locations")

    assert response.status_code == 401


def test_a_revoked_key_is_a_401(organization: Organization) -> None:
    api_key, raw_key = api_key_create(organization=organization)
    api_key_revoke(api_key=api_key)

    response = client_with(f"Bearer {raw_key}").post(
        "/api/v1/locations", {"name": "X"}, content_type="application/json"
    )

    assert response.status_code == 401
    assert response.json() == {"detail": "This API key has been revoked."}
    assert not organization.locations.exists()


def test_a_valid_key_records_its_use(organization: Organization) -> None:
    api_key, raw_key = api_key_create(organization=organization)

    response = client_with(f"Bearer {raw_key}").get("/api/v1/locations")

    assert response.status_code == 200
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at is not None


def test_requests_over_the_rate_are_a_429_per_key(
    settings: Settings,
    organization: Organization,
    client_for: Callable[[Organization], APIClient],
) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": "3/min"}}
    busy = client_for(organization)
    quiet = client_for(organization)

    statuses = [busy.get("/api/v1/locations").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    response = busy.get("/api/v1/locations")
    assert response.json()["detail"].startswith("Request was throttled.")
    assert int(response["Retry-After"]) > 0
    assert quiet.get("/api/v1/locations").status_code == 200


ABSURD_HEADERS = {
    "10 KB key": "Bearer " + "k" * 10_240,
    "10 KB without a scheme": "x" * 10_240,
    "10 KB of spaces": "Bearer" + " " * 10_240 + "edrv_0_key",
    "many spaces between many words": "Bearer " + "a " * 5_000,
    "binary": "Bearer \xff\xfe\x00\x01\x7f\x80\x9b",
    "NUL in the key": "Bearer edrv_00000000_\x00key",
    "beyond Latin-1": "Bearer ключ-🔑",
    "control characters": "Bearer \x1b[31mred\x1b[0m",
    "only spaces": " " * 10_240,
}


@pytest.mark.parametrize("header", ABSURD_HEADERS.values(), ids=ABSURD_HEADERS.keys())
def test_an_absurd_authorization_header_is_a_401_in_json(header: str) -> None:
    # Given a header no client of ours sends; when it calls the API; then a plain 401, never a 500
    response = client_with(header).get("/api/v1/locations")

    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"detail"}


def test_an_absurd_header_is_not_looked_up(organization: Organization) -> None:
    with CaptureQueriesContext(connection) as queries:
        response = client_with("Bearer " + "k" * 10_240).get("/api/v1/locations")

    assert response.status_code == 401
    assert not [query for query in queries if "organizations_apikey" in query["sql"]]
