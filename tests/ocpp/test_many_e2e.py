"""A hundred chargers at once, half OCPP 1.6J and half 2.0.1, each with its key: every station's
session completes, and no event is lost or reordered on its way to the receiver."""

import asyncio
from collections import defaultdict

import pytest

from chargestations.models import Chargestation, Protocol
from chargestations.services import chargestation_authorization_key_generate
from organizations.models import Organization
from tests.e2e.conftest import StartProcess
from tests.e2e.receiver import Receiver
from tests.factories import ChargestationFactory, ConnectorFactory, EndpointFactory
from tests.ocpp.inprocess import charger_at, run
from tests.ocpp.scenarios import (
    SESSION_EVENTS,
    Network,
    event_type,
    network_create,
    session_charge,
    station_of,
)
from tests.ocpp.scenarios_v201 import session_charge_v201, v201

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CHARGERS = 100


def networks_create(organization: Organization) -> list[Network]:
    """CHARGERS stations like `network_create`'s (one priced connector, a key each), every other one
    speaking 2.0.1; they share the first one's rate, driver and card."""
    first = network_create(organization)
    networks = [first]
    for index in range(1, CHARGERS):
        protocol = Protocol.OCPP201 if index % 2 else Protocol.OCPP16
        station = ChargestationFactory.create(location=first.station.location, protocol=protocol)
        connector = ConnectorFactory.create(chargestation=station, connector_number=1, rate=first.rate)
        key = chargestation_authorization_key_generate(chargestation=station)
        networks.append(Network(station, connector, first.rate, first.driver, first.tag, key))
    return networks


def test_a_hundred_chargers_of_both_protocols_each_complete_a_session_with_every_event_in_order(
    receiver: Receiver, celery_worker: StartProcess, organization: Organization
) -> None:
    # Given a hundred stations (half of them 2.0.1), a worker and an endpoint subscribed to everything
    networks = networks_create(organization)
    assert sum(n.station.protocol == Protocol.OCPP201 for n in networks) == CHARGERS // 2
    celery_worker(WEBHOOKS_RETRY_SCHEDULE="0,1,1", WEBHOOKS_SWEEP_INTERVAL="1", WEBHOOKS_CONCURRENCY="32")
    endpoint = EndpointFactory.create(organization=organization, url=receiver.url("/all"))
    receiver.expect_secrets("/all", [endpoint.secret])

    # When their chargers all connect, each with its station's key and protocol, and charge at once
    async def one(network: Network) -> str:
        if network.station.protocol == Protocol.OCPP201:
            async with charger_at(network.station.endpoint, **v201(network)) as charger:
                return await session_charge_v201(charger, network.tag)
        async with charger_at(
            network.station.endpoint, authorization_key=network.authorization_key
        ) as charger:
            return str(await session_charge(charger, network.tag))

    async def scenario() -> list[str]:
        return list(await asyncio.gather(*(one(network) for network in networks)))

    transactions = run(scenario)

    # Then every station's events arrived, each signed, in the order they happened there
    assert len(set(transactions)) == CHARGERS
    expected = CHARGERS * len(SESSION_EVENTS)
    requests = receiver.wait_for(expected, path="/all", timeout=300)
    assert len(requests) == expected
    assert all(r.verified for r in requests)
    endpoints = dict(Chargestation.objects.values_list("endpoint", "public_id"))
    per_station: dict[str, list[str]] = defaultdict(list)
    for request in requests:
        per_station[station_of(request, endpoints)].append(event_type(request))
    assert set(per_station) == {network.station.public_id for network in networks}
    for station, types in per_station.items():
        assert types == SESSION_EVENTS, station
