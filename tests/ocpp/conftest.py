"""The gateway's tests: the end-to-end fixtures (a real worker, broker and receiver) and a network."""

import pytest

from organizations.models import Organization
from tests.e2e.conftest import (  # noqa: F401 - fixtures and the report hook, for the e2e tests here
    artifacts_dir,
    celery_broker,
    celery_worker,
    pytest_runtest_makereport,
    receiver,
)
from tests.ocpp.scenarios import Network, network_create


@pytest.fixture
def network(organization: Organization) -> Network:
    return network_create(organization)
