"""The gateway in-process: handshake, malformed messages, connection state and its events."""

import asyncio
import json
from typing import Any

import pytest

from chargestations.models import Chargestation
from ocpp_gateway.simulator import SimulatedCharger
from tests.ocpp.inprocess import Closed, CommunicatorConnection, charger_at, communicator_for, in_db, run
from tests.ocpp.scenarios import Network
from webhooks.models import Event

pytestmark = pytest.mark.django_db(transaction=True)

# A refused consumer may wait on channels-redis's blocking read to end: cut the wait short.
REFUSED_CLEANUP = 2


@pytest.fixture(autouse=True)
def _only_the_gateways_events(network: Network) -> None:
    Event.objects.all().delete()  # those of building the network


def events(*types: str) -> list[str]:
    """The recorded event types, in order (only `types` when given)."""
    recorded = Event.objects.order_by("id").values_list("type", flat=True)
    return [t for t in recorded if not types or t in types]


def station_online(network: Network) -> bool:
    return Chargestation.objects.get(pk=network.station.pk).online


@pytest.mark.parametrize(
    ("endpoint", "subprotocols"),
    [("NO-SUCH-STATION", ("ocpp1.6",)), ("{station}", ()), ("{station}", ("ocpp2.0.1",))],
    ids=["unknown endpoint", "no subprotocol", "another protocol"],
)
def test_the_handshake_is_refused(network: Network, endpoint: str, subprotocols: tuple[str, ...]) -> None:
    # Given a path that is not an active station's, or a charger that does not speak OCPP 1.6 (each with
    # the station's key)
    path = endpoint.format(station=network.station.endpoint)

    # When it connects
    async def scenario() -> tuple[bool, object]:
        communicator = communicator_for(path, subprotocols, authorization_key=network.authorization_key)
        result = await communicator.connect(timeout=10)
        await communicator.disconnect(timeout=REFUSED_CLEANUP)
        return result

    accepted, _ = run(scenario)

    # Then the handshake is refused and nothing changed
    assert not accepted
    assert not station_online(network)


def test_an_inactive_station_is_refused(network: Network) -> None:
    Chargestation.objects.filter(pk=network.station.pk).update(active=False)

    async def scenario() -> bool:
        communicator = communicator_for(network.station.endpoint, authorization_key=network.authorization_key)
        accepted, _ = await communicator.connect(timeout=10)
        await communicator.disconnect(timeout=REFUSED_CLEANUP)
        return accepted

    assert run(scenario) is False


def test_connect_and_close_take_the_station_online_and_offline(network: Network) -> None:
    # Given a known, active station; when its charger connects with ocpp1.6
    async def scenario() -> bool:
        async with charger_at(
            network.station.endpoint, authorization_key=network.authorization_key
        ) as charger:
            await charger.heartbeat()
            return await in_db(station_online, network)

    online_while_connected = run(scenario)

    # Then it was online with its events, and is offline with theirs once the socket closed
    assert online_while_connected
    assert not station_online(network)
    assert events() == [
        "chargestation.online",
        "charger.connected",
        "chargestation.offline",
        "charger.disconnected",
    ]
    station = Chargestation.objects.get(pk=network.station.pk)
    assert station.last_connect_at is not None and station.last_disconnect_at is not None


def test_an_idle_connection_stays_up(network: Network) -> None:
    # Given a connected charger with nothing to say for longer than the channel layer blocks a read
    async def scenario() -> Any:
        async with charger_at(
            network.station.endpoint, authorization_key=network.authorization_key
        ) as charger:
            await asyncio.sleep(6)
            # When it finally speaks
            return await charger.heartbeat()

    # Then its connection is still there to answer it
    assert run(scenario).current_time
    assert events() == [
        "chargestation.online",
        "charger.connected",
        "chargestation.offline",
        "charger.disconnected",
    ]


def test_a_heartbeat_records_the_last_message_time(network: Network) -> None:
    # Given a station that heartbeats every 2 seconds, connected a moment ago
    Chargestation.objects.filter(pk=network.station.pk).update(heartbeat_interval=2)

    async def scenario() -> None:
        async with charger_at(
            network.station.endpoint, authorization_key=network.authorization_key
        ) as charger:
            await asyncio.sleep(1.1)
            # When its charger heartbeats
            await charger.heartbeat()

    run(scenario)

    # Then the heartbeat's time is recorded
    station = Chargestation.objects.get(pk=network.station.pk)
    assert station.last_connect_at is not None and station.last_message_at is not None
    assert (station.last_message_at - station.last_connect_at).total_seconds() >= 1


@pytest.mark.parametrize(
    ("frame", "error_code", "unique_id"),
    [
        (
            [2, "m1", "BootNotification", {"chargePointVendor": 42, "chargePointModel": "X"}],
            "TypeConstraintViolation",
            "m1",
        ),
        ([2, "m2", "BootNotification", {"chargePointVendor": "ACME"}], "ProtocolError", "m2"),
        (
            [2, "m3", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Sleeping"}],
            "FormatViolation",
            "m3",
        ),
        ([2, "m4", "NoSuchAction", {}], "NotSupported", "m4"),
        ([2, "m5", "DataTransfer", {"vendorId": "ACME"}], "NotImplemented", "m5"),
        ("this is not JSON", "FormatViolation", "-1"),
        ({"not": "a list"}, "ProtocolError", "-1"),
    ],
    ids=[
        "wrong type",
        "missing field",
        "unknown status",
        "unknown action",
        "unhandled action",
        "not json",
        "not a list",
    ],
)
def test_an_invalid_message_gets_a_call_error_and_the_connection_stays_up(
    network: Network, frame: object, error_code: str, unique_id: str
) -> None:
    # Given a connected charger
    async def scenario() -> tuple[list, list]:
        communicator = communicator_for(network.station.endpoint, authorization_key=network.authorization_key)
        await communicator.connect(timeout=10)
        # When it sends an invalid message
        await communicator.send_to(text_data=frame if isinstance(frame, str) else json.dumps(frame))
        error = json.loads(await communicator.receive_from(timeout=10))
        # Then a valid one still gets its answer on the same connection
        await communicator.send_to(text_data=json.dumps([2, "ok", "Heartbeat", {}]))
        answer = json.loads(await communicator.receive_from(timeout=10))
        await communicator.disconnect(timeout=10)
        return error, answer

    error, answer = run(scenario)

    assert error[:3] == [4, unique_id, error_code]
    assert answer[:2] == [3, "ok"] and "currentTime" in answer[2]


def test_a_silent_charger_is_taken_offline_after_twice_its_heartbeat(network: Network) -> None:
    # Given a station whose charger should heartbeat every second
    Chargestation.objects.filter(pk=network.station.pk).update(heartbeat_interval=1)

    # When its charger connects, boots and then says nothing
    async def scenario() -> tuple[float, bool]:
        loop = asyncio.get_running_loop()
        communicator = communicator_for(network.station.endpoint, authorization_key=network.authorization_key)
        await communicator.connect(timeout=10)
        charger = SimulatedCharger(network.station.endpoint, CommunicatorConnection(communicator))
        listening = asyncio.create_task(charger.start())
        await charger.boot()
        spoke = loop.time()
        with pytest.raises(Closed):
            await asyncio.wait_for(listening, timeout=10)
        silent_for = loop.time() - spoke
        await communicator.disconnect(timeout=10)
        return silent_for, await in_db(station_online, network)

    silent_for, online = run(scenario)

    # Then the gateway closed the connection after about two seconds, and the station is offline
    assert 2 <= silent_for < 4
    assert not online
    assert events("chargestation.offline", "charger.disconnected") == [
        "chargestation.offline",
        "charger.disconnected",
    ]


def test_a_charger_that_reconnects_replaces_its_old_connection_without_going_offline(
    network: Network,
) -> None:
    # Given a charger connected twice (its first connection never seen to close)
    async def scenario() -> tuple[bool, bool]:
        first = communicator_for(network.station.endpoint, authorization_key=network.authorization_key)
        await first.connect(timeout=10)
        async with charger_at(
            network.station.endpoint, authorization_key=network.authorization_key
        ) as charger:
            # Then the first is closed by the gateway and the station stays online
            closed = await first.receive_output(timeout=10)
            await first.disconnect(timeout=10)
            await charger.heartbeat()
            online = await in_db(station_online, network)
        return closed["type"] == "websocket.close", online

    first_closed, online = run(scenario)

    assert first_closed and online
    assert events() == [
        "chargestation.online",
        "charger.connected",
        "chargestation.offline",
        "charger.disconnected",
    ]
