"""A session's energy ceiling through a real ASGI server, for each protocol: uvicorn on 127.0.0.1, the `ocpp`
package's ChargePoint (1.6J or 2.0.1) on a `websockets` client, with its station's key.

The session is started through the API in this process (its ceiling in the request), its meter values
reach the ceiling in the server process, and the stop comes back over the wire: RemoteStopTransaction to a
1.6J charger, RequestStopTransaction to a 2.0.1 one. test_ceilings.py covers every ceiling in-process.
"""

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient

from ocpp_gateway.simulator_v201 import SimulatedCharger201
from organizations.models import Organization
from sessions_app.models import Session
from tests.ocpp.asgi_server import AsgiServer, charger_over
from tests.ocpp.inprocess import in_db, run
from tests.ocpp.scenarios import T0, network_create
from tests.ocpp.scenarios_v201 import v201
from webhooks.models import Event

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Long enough for a second stop, were the gateway to send one, to reach the charger.
QUIET = 1.0


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def commands_received(frames: list[str]) -> list[str]:
    """The actions of the CALLs the charger received (OCPP-J: [2, id, action, payload])."""
    return [message[2] for message in map(json.loads, frames) if message[0] == 2]


async def transaction_start(charger: Any, start: dict[str, Any]) -> Any:
    """The charger starts the transaction it was asked to, as its protocol says it."""
    if isinstance(charger, SimulatedCharger201):
        return await charger.start_transaction(
            start["id_token"]["id_token"], at=T0, remote_start_id=start["remote_start_id"]
        )
    return await charger.start_transaction(start["id_tag"], start["connector_id"], at=T0)


@pytest.mark.parametrize(
    ("protocol", "start_action", "stop_action"),
    [
        ("ocpp1.6", "RemoteStartTransaction", "RemoteStopTransaction"),
        ("ocpp2.0.1", "RequestStartTransaction", "RequestStopTransaction"),
    ],
)
def test_an_energy_ceiling_reached_by_meter_values_raises_its_event_once_and_the_charger_gets_the_stop(
    server: AsgiServer,
    organization: Organization,
    api: APIClient,
    protocol: str,
    start_action: str,
    stop_action: str,
) -> None:
    # Given a station of the protocol, its charger connected with its key, and a session started through
    # the API with a 5 kWh ceiling
    network = network_create(organization, protocol=protocol)
    if protocol == "ocpp2.0.1":
        options = v201(network)
    else:
        options = {"authorization_key": network.authorization_key, "subprotocol": protocol}
    frames: list[str] = []

    async def scenario() -> tuple[Any, dict[str, Any], list[dict[str, Any]]]:
        async with charger_over(server, network.station.endpoint, received=frames, **options) as charger:
            await charger.boot()
            body = {
                "chargestation": network.station.public_id,
                "connector": network.connector.public_id,
                "user": network.driver.public_id,
                "ceilings": {"energy": 5000},
            }
            created = await in_db(api.post, "/api/v1/sessions", body, format="json")
            assert created.status_code == 201, created.json()
            start = await asyncio.wait_for(charger.remote_starts.get(), 10)
            transaction_id = await transaction_start(charger, start)
            # When the meter passes 5 kWh at 14:30, and once more before the charger stops
            await charger.meter(transaction_id, energy_wh=3000, power_w=11000, at=T0 + minutes(15))
            await charger.meter(transaction_id, energy_wh=5500, power_w=11000, at=T0 + minutes(30))
            stop = await asyncio.wait_for(charger.remote_stops.get(), 10)
            await charger.meter(transaction_id, energy_wh=6000, power_w=11000, at=T0 + minutes(33))
            await asyncio.sleep(QUIET)
            more = []
            while not charger.remote_stops.empty():
                more.append(charger.remote_stops.get_nowait())
            await charger.stop_transaction(transaction_id, 6000, reason="Remote", at=T0 + minutes(35))
            return transaction_id, stop, more

    transaction_id, stop, more = run(scenario)

    # Then the charger received its protocol's stop once, for its transaction
    assert (stop, more) == ({"transaction_id": transaction_id}, [])
    assert commands_received(frames) == [start_action, stop_action]

    # and the ceiling's event was raised once, by the reading at 14:30, and the session ended as usual
    session = Session.objects.get()
    assert (session.status, session.transaction_id) == ("ended", str(transaction_id))
    assert session.energy_ceiling_exceeded_at == T0 + minutes(30)
    assert (session.time_ceiling_exceeded_at, session.cost_ceiling_exceeded_at) == (None, None)
    session_events = Event.objects.filter(type__startswith="session.").order_by("id")
    assert list(session_events.values_list("type", flat=True)) == [
        "session.created",
        "session.started",
        "session.updated",
        "session.updated",
        "session.stop_energy_ceiling_exceeded",
        "session.updated",
        "session.ended",
    ]
    data = Event.objects.get(type="session.stop_energy_ceiling_exceeded").data
    assert (data["ceilings"], data["energy_ceiling_exceeded_at"], data["metrics"]["energyConsumed"]) == (
        {"energy": 5000},
        "2026-02-06T14:30:00.000Z",
        5500,
    )
