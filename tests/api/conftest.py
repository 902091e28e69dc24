from collections.abc import Callable, Iterator

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from organizations.models import Organization
from tests.factories import OrganizationFactory


@pytest.fixture(autouse=True)
def _fresh_throttle_history() -> Iterator[None]:
    # Throttle counters live in the cache, keyed by API key id; SQLite reuses ids after a
    # rolled-back test, so a previous test's requests would count against this one.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def other_organization() -> Organization:
    return OrganizationFactory.create(name="Someone else")


@pytest.fixture
def other_api(other_organization: Organization, client_for: Callable[[Organization], APIClient]) -> APIClient:
    """A client of a second organization: it must never see or touch the first one's objects."""
    return client_for(other_organization)
