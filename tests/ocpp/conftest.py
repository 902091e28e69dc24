"""The gateway's tests: the end-to-end fixtures (a real worker, broker and receiver, the gateway served by
a real ASGI server) and a network."""

import shutil
from collections.abc import Iterator

import pytest
from django.conf import settings as project_settings

from organizations.models import Organization
from tests.e2e.broker import PrivateRedis
from tests.e2e.conftest import (  # noqa: F401 - fixtures and the report hook, for the e2e tests here
    artifacts_dir,
    celery_broker,
    celery_worker,
    pytest_runtest_makereport,
    receiver,
)
from tests.ocpp.asgi_server import server  # noqa: F401 - a fixture
from tests.ocpp.scenarios import Network, network_create


@pytest.fixture
def network(organization: Organization) -> Network:
    return network_create(organization)


@pytest.fixture
def channel_layer_url() -> Iterator[str]:
    """A Redis for a channel layer: a private redis-server when there is one, else the project's."""
    if shutil.which("redis-server"):
        with PrivateRedis(shutil.which("redis-server") or "") as redis:
            yield redis.url
    elif project_settings.REDIS_URL:
        yield project_settings.REDIS_URL
    else:
        pytest.skip("a channel layer between processes needs Redis: REDIS_URL or a redis-server")
