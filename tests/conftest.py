from collections.abc import Callable, Iterator

import pytest
from django.core.cache import cache
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from organizations.models import Organization
from organizations.services import api_key_create
from tests.factories import OrganizationFactory


@pytest.fixture
def organization() -> Organization:
    return OrganizationFactory.create()


@pytest.fixture
def client_for() -> Callable[[Organization], APIClient]:
    """An API client that authenticates with a fresh key of the given organization."""

    def make(organization: Organization) -> APIClient:
        _, raw_key = api_key_create(organization=organization)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        return client

    return make


@pytest.fixture
def api(organization: Organization, client_for: Callable[[Organization], APIClient]) -> APIClient:
    return client_for(organization)


@pytest.fixture(autouse=True)
def _loopback_destinations(settings: Settings) -> None:
    """Receivers in tests live on 127.0.0.1 over plain HTTP, as under `make run`."""
    settings.WEBHOOKS_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    settings.WEBHOOKS_ALLOW_HTTP = True


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Settings) -> None:
    """Logins in tests need no costly key stretching."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    # Throttle counters live in the cache keyed by API key id, and SQLite reuses ids after a
    # rolled-back test: a previous test's requests must not count against this one.
    cache.clear()
    yield
    cache.clear()
