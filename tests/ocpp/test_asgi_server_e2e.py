"""The gateway through a real ASGI server: uvicorn on 127.0.0.1 (as the Procfile runs it), a `websockets`
client as the charger.

A remote start made in this process reaches the charger's connection in the server process through the
Redis channel layer: a command from another process, as from a web or worker process. Chargers prove who
they are with HTTP Basic (OCPP security profile 1); the server answers any other with a 401.
"""

import asyncio
from datetime import timedelta
from functools import partial
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from chargestations.models import Chargestation
from chargestations.services import chargestation_authorization_key_generate
from ocpp_gateway.simulator import SimulatedCharger
from organizations.models import Organization
from sessions_app.models import Session
from tests.e2e.conftest import StartProcess
from tests.e2e.receiver import Receiver
from tests.factories import ChargestationFactory, EndpointFactory
from tests.ocpp.asgi_server import AsgiServer, basic, handshake_refused
from tests.ocpp.inprocess import in_db, run
from tests.ocpp.scenarios import SESSION_EVENTS, T0, Network, event_type, network_create, session_charge
from webhooks.models import Event

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

OCPP = [Subprotocol("ocpp1.6")]
REMOTE_SESSION = [
    "session.created",
    "session.started",
    "transaction.started",
    "session.ended",
    "transaction.stopped",
]


def test_a_charger_through_a_real_server_and_a_remote_start_from_another_process(
    receiver: Receiver,
    celery_worker: StartProcess,
    server: AsgiServer,
    network: Network,
    organization: Organization,
    api: APIClient,
) -> None:
    # Given a worker, an endpoint subscribed to everything, and the gateway served by uvicorn
    celery_worker(WEBHOOKS_RETRY_SCHEDULE="0,1,1", WEBHOOKS_SWEEP_INTERVAL="1")
    endpoint = EndpointFactory.create(organization=organization, url=receiver.url("/all"))
    receiver.expect_secrets("/all", [endpoint.secret])
    station = network.station.endpoint
    assert network.authorization_key is not None
    credentials = basic(station, network.authorization_key)

    # When a charger connects over TCP with its key, charges once on its own, then once started by the API
    async def scenario() -> tuple[str | None, int, str]:
        url = server.url(f"/ocpp/{station}")
        async with connect(url, subprotocols=OCPP, additional_headers=credentials) as websocket:
            charger = SimulatedCharger(station, websocket)
            listening = asyncio.create_task(charger.start())
            first = await session_charge(charger, network.tag)
            body = {"chargestation": network.station.public_id, "connector": network.connector.public_id}
            created = await in_db(api.post, "/api/v1/sessions", body, format="json")
            start = await asyncio.wait_for(charger.remote_starts.get(), 10)
            second = await charger.start_transaction(
                start["id_tag"], start["connector_id"], at=T0 + timedelta(hours=2)
            )
            await charger.stop_transaction(second, 2000, at=T0 + timedelta(hours=3))
            listening.cancel()
            return websocket.subprotocol, first, created.json()["_id"]

    subprotocol, first, remote = run(scenario)

    # Then both sessions' events arrived in order, between the connection's own
    assert subprotocol == "ocpp1.6"
    expected = [*SESSION_EVENTS[:-2], *REMOTE_SESSION, *SESSION_EVENTS[-2:]]
    requests = receiver.wait_for(len(expected), path="/all", timeout=30)
    assert [event_type(r) for r in requests] == expected
    assert all(r.verified for r in requests)
    assert Session.objects.get(transaction_id=first).status == "ended"
    assert Session.objects.get(public_id=remote).status == "ended"


@pytest.mark.parametrize(
    "credentials",
    ["none", "wrong key", "another station's key", "an unknown endpoint"],
)
def test_the_real_server_answers_a_charger_without_the_stations_key_with_a_401(
    server: AsgiServer, network: Network, organization: Organization, credentials: str
) -> None:
    # Given a station with a key, and another station with its own
    station = network.station.endpoint
    other = ChargestationFactory.create(location=network.station.location)
    other_key = chargestation_authorization_key_generate(chargestation=other)
    headers, path = {
        "none": ({}, station),
        "wrong key": (basic(station, "not-the-key-0123456789"), station),
        "another station's key": (basic(station, other_key), station),
        "an unknown endpoint": (basic("NO-SUCH-STATION", "whatever-0123456789"), "NO-SUCH-STATION"),
    }[credentials]
    events_before = Event.objects.count()

    # When a charger connects with them
    status, challenge = run(partial(handshake_refused, server, path, subprotocol="ocpp1.6", headers=headers))

    # Then the handshake is a 401 asking for Basic credentials, nothing was recorded, the station is
    # still offline, and the server logged the refusal without the password it was sent
    assert (status, challenge) == (401, 'Basic realm="OCPP"')
    assert Event.objects.count() == events_before
    assert not Chargestation.objects.get(pk=network.station.pk).online
    log = server.log_text()
    assert "ocpp.handshake.refused" in log
    assert other_key not in log and "not-the-key-0123456789" not in log
    assert all(value.split()[-1] not in log for value in headers.values())  # nor its header, encoded


def test_simulate_charger_boots_and_charges_once_against_the_server(
    server: AsgiServer, network: Network
) -> None:
    # When the demo command runs a charger against the server, with the station's key
    call_command(
        "simulate_charger",
        network.station.endpoint,
        *("--url", server.url("/ocpp/"), "--id-tag", network.tag, "--readings", "2", "--interval", "0.2"),
        *("--authorization-key", str(network.authorization_key)),
        stdout=StringIO(),
    )

    # Then the station booted, and one session ran with meter values to its end
    station = Chargestation.objects.get(pk=network.station.pk)
    assert (station.vendor, station.model) == ("eDRV", "Simulator")
    session = Session.objects.get()
    assert (session.status, session.id_tag, session.driver) == ("ended", network.tag, network.driver)
    assert session.metrics["energyConsumed"] == round(11000 * 0.4 / 3600)
    assert session.energy_report["power"] == {"value": 11.0, "unit": "kW"}


def test_simulate_charger_speaks_ocpp_201_to_a_201_station(
    server: AsgiServer, organization: Organization
) -> None:
    # Given a station that speaks OCPP 2.0.1
    network = network_create(organization, protocol="ocpp2.0.1")

    # When the demo command runs a 2.0.1 charger against the server, with the station's key
    call_command(
        "simulate_charger",
        network.station.endpoint,
        *("--url", server.url("/ocpp/"), "--id-tag", network.tag, "--readings", "2", "--interval", "0.2"),
        *("--protocol", "ocpp2.0.1", "--authorization-key", str(network.authorization_key)),
        stdout=StringIO(),
    )

    # Then the station booted, and one session ran to its end under the charger's own transaction id
    station = Chargestation.objects.get(pk=network.station.pk)
    assert (station.vendor, station.model) == ("eDRV", "Simulator")
    session = Session.objects.get()
    assert (session.status, session.id_tag, session.driver) == ("ended", network.tag, network.driver)
    assert session.transaction_id and not session.transaction_id.isdigit()
    assert session.metrics["energyConsumed"] == round(11000 * 0.4 / 3600)


def test_simulate_charger_without_the_key_fails_saying_so(server: AsgiServer, network: Network) -> None:
    # When the demo command runs a charger against the server without the station's key
    with pytest.raises(CommandError) as failed:
        call_command("simulate_charger", network.station.endpoint, "--url", server.url("/ocpp/"))

    # Then it stops with a message that says what is missing and where to get it
    assert "HTTP 401" in str(failed.value)
    assert "--authorization-key" in str(failed.value)
    assert not Session.objects.exists()
