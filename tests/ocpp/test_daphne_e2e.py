"""The gateway through a real ASGI server: daphne on 127.0.0.1, a `websockets` client as the charger.

A remote start made in this process reaches the charger's connection in the daphne process
through the Redis channel layer: a command from another process, as from a web or worker process.
"""

import asyncio
import shutil
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as project_settings
from django.core.management import call_command
from django.db import connection
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from chargestations.models import Chargestation
from ocpp_gateway.simulator import SimulatedCharger
from organizations.models import Organization
from sessions_app.models import Session
from tests.e2e.broker import Broker, PrivateRedis
from tests.e2e.conftest import StartProcess
from tests.e2e.processes import database_url, process_environment
from tests.e2e.receiver import Receiver
from tests.factories import EndpointFactory
from tests.ocpp.daphne import DaphneServer
from tests.ocpp.inprocess import in_db, run
from tests.ocpp.layers import redis_channel_layers
from tests.ocpp.scenarios import SESSION_EVENTS, T0, Network, event_type, session_charge

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

OCPP = [Subprotocol("ocpp1.6")]
REMOTE_SESSION = [
    "session.created",
    "session.started",
    "transaction.started",
    "session.ended",
    "transaction.stopped",
]


@pytest.fixture
def channel_layer_url() -> Iterator[str]:
    if shutil.which("redis-server"):
        with PrivateRedis(shutil.which("redis-server") or "") as redis:
            yield redis.url
    elif project_settings.REDIS_URL:
        yield project_settings.REDIS_URL
    else:
        pytest.skip("a channel layer between processes needs Redis: REDIS_URL or a redis-server")


@pytest.fixture
def daphne(
    celery_broker: Broker, artifacts_dir: Path, channel_layer_url: str, settings: Settings
) -> Iterator[DaphneServer]:
    settings.CHANNEL_LAYERS = redis_channel_layers(channel_layer_url)
    env = process_environment(
        database=database_url(connection.settings_dict),
        broker=celery_broker,
        extra={
            "DJANGO_SETTINGS_MODULE": "tests.ocpp.settings",
            "OCPP_TEST_CHANNEL_LAYER_URL": channel_layer_url,
        },
    )
    with DaphneServer(env=env, log_path=artifacts_dir / "daphne.log") as server:
        yield server


def test_a_charger_through_a_real_server_and_a_remote_start_from_another_process(
    receiver: Receiver,
    celery_worker: StartProcess,
    daphne: DaphneServer,
    network: Network,
    organization: Organization,
    api: APIClient,
) -> None:
    # Given a worker, an endpoint subscribed to everything, and the gateway served by daphne
    celery_worker(WEBHOOKS_RETRY_SCHEDULE="0,1,1", WEBHOOKS_SWEEP_INTERVAL="1")
    endpoint = EndpointFactory.create(organization=organization, url=receiver.url("/all"))
    receiver.expect_secrets("/all", [endpoint.secret])
    station = network.station.endpoint

    # When a charger connects over TCP, charges once on its own, then once started by the API
    async def scenario() -> tuple[str | None, int, str]:
        async with connect(daphne.url(f"/ocpp/{station}"), subprotocols=OCPP) as websocket:
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


def test_the_real_server_refuses_an_unknown_endpoint_at_the_handshake(daphne: DaphneServer) -> None:
    async def scenario() -> int:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(daphne.url("/ocpp/NO-SUCH-STATION"), subprotocols=OCPP):
                pass
        return refused.value.response.status_code

    assert run(scenario) == 403


def test_simulate_charger_boots_and_charges_once_against_the_server(
    daphne: DaphneServer, network: Network
) -> None:
    # When the demo command runs a charger against the server
    call_command(
        "simulate_charger",
        network.station.endpoint,
        *("--url", daphne.url("/ocpp/"), "--id-tag", network.tag, "--readings", "2", "--interval", "0.2"),
        stdout=StringIO(),
    )

    # Then the station booted, and one session ran with meter values to its end
    station = Chargestation.objects.get(pk=network.station.pk)
    assert (station.vendor, station.model) == ("eDRV", "Simulator")
    session = Session.objects.get()
    assert (session.status, session.id_tag, session.driver) == ("ended", network.tag, network.driver)
    assert session.metrics["energyConsumed"] == round(11000 * 0.4 / 3600)
    assert session.energy_report["power"] == {"value": 11.0, "unit": "kW"}
