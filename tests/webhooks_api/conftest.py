from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from organizations.models import Organization, Plan
from tests.e2e.conftest import (  # noqa: F401 - fixtures (and the report hook) for test_e2e.py
    artifacts_dir,
    celery_broker,
    celery_worker,
    pytest_runtest_makereport,
    receiver,
)
from tests.factories import OrganizationFactory


@pytest.fixture
def other_organization() -> Organization:
    return OrganizationFactory.create(name="Someone else")


@pytest.fixture
def other_api(other_organization: Organization, client_for: Callable[[Organization], APIClient]) -> APIClient:
    """A client of a second organization: it must never see or touch the first one's objects."""
    return client_for(other_organization)


@pytest.fixture
def free_api(client_for: Callable[[Organization], APIClient]) -> APIClient:
    """A client of an organization on the Free tier, which has no webhooks."""
    return client_for(OrganizationFactory.create(name="Free rider", plan=Plan.FREE))
