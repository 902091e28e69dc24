from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from organizations.models import Organization
from tests.factories import OrganizationFactory


@pytest.fixture
def other_organization() -> Organization:
    return OrganizationFactory.create(name="Someone else")


@pytest.fixture
def other_api(other_organization: Organization, client_for: Callable[[Organization], APIClient]) -> APIClient:
    """A client of a second organization: it must never see or touch the first one's objects."""
    return client_for(other_organization)
