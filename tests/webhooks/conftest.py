"""Fixtures of the webhooks tests that run deliveries in this process."""

from collections.abc import Iterator

import pytest

from chargestations.models import Chargestation
from organizations.models import Organization
from tests.e2e.receiver import Receiver
from tests.factories import ChargestationFactory, LocationFactory


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A verifying HTTP receiver on 127.0.0.1 (tests/e2e/receiver.py)."""
    with Receiver() as receiver:
        yield receiver


@pytest.fixture
def station(organization: Organization) -> Chargestation:
    return ChargestationFactory.create(location=LocationFactory.create(organization=organization))
