"""OCPP 2.0.1 through a real ASGI server: uvicorn on 127.0.0.1, the `ocpp` package's v2.0.1 ChargePoint on a
`websockets` client (subprotocol `ocpp2.0.1`), a real worker and a real receiver that checks signatures.

A 2.0.1 station proves who it is as a 1.6J one does (HTTP Basic, its endpoint and its key): anything else
is a 401 before the socket opens, with no event and no password in the log.
"""

import asyncio
import time
from collections import defaultdict
from functools import partial

import pytest

from chargestations.models import Chargestation
from chargestations.services import chargestation_authorization_key_generate
from ocpp_gateway.simulator_v201 import SimulatedCharger201
from organizations.models import Organization
from sessions_app.models import Session
from tests.e2e.conftest import StartProcess
from tests.e2e.receiver import Receiver
from tests.factories import ChargestationFactory, EndpointFactory
from tests.ocpp.asgi_server import AsgiServer, basic, charger_over, handshake_refused
from tests.ocpp.inprocess import in_db, run
from tests.ocpp.scenarios import SESSION_EVENTS, Network, event_type, network_create, station_of
from tests.ocpp.scenarios_v201 import SUBPROTOCOL, session_charge_v201, v201
from webhooks.catalog.types import EVENT_TYPES, Envelope
from webhooks.models import Event

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WRONG_KEY = "not-the-key-0123456789"
# The two catalogs a session raises: eDRV's envelope (session.*, chargestation.*), the charger's
# (transaction.*, charger.*, connector.*).
EDRV_KEYS = {"_id", "data", "object", "type", "createdAt"}
CHARGER_KEYS = {"event", "timestamp", "data"}


@pytest.fixture
def network(organization: Organization) -> Network:
    return network_create(organization, protocol="ocpp2.0.1")


def offline_after(station: Chargestation, *, seconds: float) -> None:
    """Wait until the station is offline again: its charger left, and the server has seen it leave."""
    deadline = time.monotonic() + seconds
    while Chargestation.objects.get(pk=station.pk).online:
        assert time.monotonic() < deadline, f"{station.endpoint} still online after {seconds}s"
        time.sleep(0.1)


@pytest.mark.parametrize("credentials", ["none", "wrong key", "another station's key"])
def test_the_real_server_answers_a_2_0_1_charger_without_its_stations_key_with_a_401(
    server: AsgiServer, network: Network, credentials: str
) -> None:
    # Given a 2.0.1 station with a key, and another 2.0.1 station with its own
    station = network.station.endpoint
    other = ChargestationFactory.create(location=network.station.location, protocol="ocpp2.0.1")
    other_key = chargestation_authorization_key_generate(chargestation=other)
    headers = {
        "none": {},
        "wrong key": basic(station, WRONG_KEY),
        "another station's key": basic(station, other_key),
    }[credentials]
    events_before = Event.objects.count()

    # When a charger offering `ocpp2.0.1` connects with them
    status, challenge = run(
        partial(handshake_refused, server, station, subprotocol=SUBPROTOCOL, headers=headers)
    )

    # Then the handshake is a 401 asking for Basic credentials, nothing was recorded, the station is
    # still offline, and the server logged the refusal without the password it was sent
    assert (status, challenge) == (401, 'Basic realm="OCPP"')
    assert Event.objects.count() == events_before
    assert not Chargestation.objects.get(pk=network.station.pk).online
    log = server.log_text()
    assert "ocpp.handshake.refused" in log
    assert WRONG_KEY not in log and other_key not in log
    assert all(value.split()[-1] not in log for value in headers.values())  # nor its header, encoded


def test_a_2_0_1_charger_with_its_stations_key_connects_to_the_real_server_and_boots(
    server: AsgiServer, network: Network
) -> None:
    # Given a 2.0.1 station with a key
    assert network.authorization_key is not None
    events_before = set(Event.objects.values_list("pk", flat=True))

    # When the `ocpp` v2.0.1 ChargePoint connects with that key, and boots
    async def scenario() -> tuple[str, bool]:
        async with charger_over(server, network.station.endpoint, **v201(network)) as charger:
            assert isinstance(charger, SimulatedCharger201)
            booted = await charger.boot(vendor="ACME", model="AC22")
            station = await in_db(Chargestation.objects.get, pk=network.station.pk)
            return booted.status, station.online

    status, online = run(scenario)
    offline_after(network.station, seconds=10)  # the server sees the socket close on its own time

    # Then the gateway accepted the boot, the station was online while connected, its connection raised
    # its events, and the key appears nowhere in the server's log
    assert (status, online) == ("Accepted", True)
    station = Chargestation.objects.get(pk=network.station.pk)
    assert (station.vendor, station.model, station.online) == ("ACME", "AC22", False)
    new_events = Event.objects.exclude(pk__in=events_before).order_by("id")
    assert list(new_events.values_list("type", flat=True)) == [
        "chargestation.online",
        "charger.connected",
        "charger.boot",
        "chargestation.offline",
        "charger.disconnected",
    ]
    assert "ocpp.handshake.refused" not in server.log_text()
    assert network.authorization_key not in server.log_text()


def test_2_0_1_chargers_through_the_real_server_deliver_both_catalogs_in_order_per_station(
    receiver: Receiver, celery_worker: StartProcess, server: AsgiServer, organization: Organization
) -> None:
    # Given two 2.0.1 stations with their keys, a worker, and an endpoint subscribed to every event type
    networks = [network_create(organization, protocol="ocpp2.0.1") for _ in range(2)]
    celery_worker(WEBHOOKS_RETRY_SCHEDULE="0,1,1", WEBHOOKS_SWEEP_INTERVAL="1")
    endpoint = EndpointFactory.create(organization=organization, url=receiver.url("/all"))
    receiver.expect_secrets("/all", [endpoint.secret])

    # When their `ocpp` v2.0.1 chargers connect at once, each boots, reports its status, authorizes,
    # charges (TransactionEvent Started, Updated with meter values, Ended) and leaves
    async def one(network: Network) -> str:
        async with charger_over(server, network.station.endpoint, **v201(network)) as charger:
            return await session_charge_v201(charger, network.tag)

    async def scenario() -> list[str]:
        return list(await asyncio.gather(*(one(network) for network in networks)))

    transactions = run(scenario)

    # Then every event of both catalogs reached the endpoint signed, in its envelope, and each station's
    # came in the order they happened there
    requests = receiver.wait_for(2 * len(SESSION_EVENTS), path="/all", timeout=60)
    assert len(requests) == 2 * len(SESSION_EVENTS)
    for request in requests:
        assert request.verified, request.summary()
        charger_envelope = EVENT_TYPES[event_type(request)].envelope is Envelope.CHARGER
        assert set(request.json) == (CHARGER_KEYS if charger_envelope else EDRV_KEYS)
    endpoints = dict(Chargestation.objects.values_list("endpoint", "public_id"))
    per_station: dict[str, list[str]] = defaultdict(list)
    for request in requests:
        per_station[station_of(request, endpoints)].append(event_type(request))
    assert per_station == {network.station.public_id: SESSION_EVENTS for network in networks}
    families = {event_type(r).split(".")[0] for r in requests}
    assert {"session", "chargestation", "transaction", "charger"} <= families

    # and each session is the charger's own transaction (a string id), ended, in both catalogs' data
    for network, transaction_id in zip(networks, transactions, strict=True):
        session = Session.objects.get(chargestation=network.station)
        assert (session.status, session.transaction_id) == ("ended", transaction_id)
        mine = [r.json for r in requests if station_of(r, endpoints) == network.station.public_id]
        [started] = [body["data"] for body in mine if body.get("event") == "transaction.started"]
        [ended] = [body["data"] for body in mine if body.get("type") == "session.ended"]
        assert (started["transactionId"], started["meterStart"]) == (transaction_id, 1000)
        assert (ended["_id"], ended["transaction_id"]) == (session.public_id, transaction_id)
