import pytest

from tests.factories import ChargestationFactory, ConnectorFactory

pytestmark = pytest.mark.django_db


def test_factories_build_a_station_with_a_connector() -> None:
    connector = ConnectorFactory.create(chargestation=ChargestationFactory.create())
    assert connector.organization_id == connector.chargestation.organization_id
