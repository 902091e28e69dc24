"""Fifty chargers at once: each completes a session, and no event is lost or reordered."""

import asyncio
from collections import defaultdict
from typing import Any

import pytest

from chargestations.models import Chargestation
from chargestations.services import chargestation_authorization_key_generate
from organizations.models import Organization
from tests.e2e.conftest import StartProcess
from tests.e2e.receiver import Receiver
from tests.factories import ChargestationFactory, ConnectorFactory, EndpointFactory
from tests.ocpp.inprocess import charger_at, run
from tests.ocpp.scenarios import (
    SHORT_SESSION_EVENTS,
    Network,
    event_type,
    network_create,
    session_charge_short,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CHARGERS = 50


def station_of(request: Any, endpoints: dict[str, str]) -> str:
    """The public id of the station an event is about, in either envelope."""
    body = request.json
    if "event" in body:
        return endpoints[body["data"]["chargeBoxId"]]
    return str(body["data"]["_id"] if body["object"] == "chargestation" else body["data"]["chargestation"])


def test_fifty_chargers_each_complete_a_session_with_every_event_in_order(
    receiver: Receiver, celery_worker: StartProcess, organization: Organization
) -> None:
    # Given fifty stations, a worker and an endpoint subscribed to everything
    first = network_create(organization)
    networks = [first] + [
        Network(
            station,
            ConnectorFactory.create(chargestation=station, connector_number=1, rate=first.rate),
            first.rate,
            first.driver,
            first.tag,
            chargestation_authorization_key_generate(chargestation=station),
        )
        for station in ChargestationFactory.create_batch(CHARGERS - 1, location=first.station.location)
    ]
    celery_worker(WEBHOOKS_RETRY_SCHEDULE="0,1,1", WEBHOOKS_SWEEP_INTERVAL="1", WEBHOOKS_CONCURRENCY="32")
    endpoint = EndpointFactory.create(organization=organization, url=receiver.url("/all"))
    receiver.expect_secrets("/all", [endpoint.secret])

    # When their chargers all connect and charge at the same time
    async def one(network: Network) -> int:
        async with charger_at(
            network.station.endpoint, authorization_key=network.authorization_key
        ) as charger:
            return await session_charge_short(charger, network.tag)

    async def scenario() -> list[int]:
        return list(await asyncio.gather(*(one(network) for network in networks)))

    import time

    t = time.monotonic()
    transactions = run(scenario)
    print("GATEWAY", time.monotonic() - t)

    # Then every station's events arrived, each signed, in the order they happened there
    assert len(set(transactions)) == CHARGERS
    t = time.monotonic()
    requests = receiver.wait_for(CHARGERS * len(SHORT_SESSION_EVENTS), path="/all", timeout=100)
    print("DELIVERY", time.monotonic() - t)
    assert len(requests) == CHARGERS * len(SHORT_SESSION_EVENTS)
    assert all(r.verified for r in requests)
    endpoints = dict(Chargestation.objects.values_list("endpoint", "public_id"))
    per_station: dict[str, list[str]] = defaultdict(list)
    for request in requests:
        per_station[station_of(request, endpoints)].append(event_type(request))
    assert set(per_station) == {network.station.public_id for network in networks}
    for station, types in per_station.items():
        assert types == SHORT_SESSION_EVENTS, station
