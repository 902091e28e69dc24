"""OCPP 2.0.1 end to end: a v2.0.1 charger in-process, the API, a real worker, broker and receiver."""

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from ocpp_gateway.simulator import Answers
from organizations.models import Organization
from sessions_app.models import Session
from tests.e2e.conftest import StartProcess
from tests.e2e.receiver import Receiver
from tests.factories import EndpointFactory
from tests.ocpp.inprocess import charger_at, in_db, run
from tests.ocpp.scenarios import SESSION_COST, SESSION_EVENTS, T0, Network, event_type, network_create
from tests.ocpp.scenarios_v201 import session_charge_v201, v201
from webhooks.catalog.types import EVENT_TYPES, Envelope

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FAST = {"WEBHOOKS_RETRY_SCHEDULE": "0,1,1", "WEBHOOKS_SWEEP_INTERVAL": "1"}
SESSION_TYPES = [
    "session.created",
    "session.started",
    "session.ended",
    "session.start_failure",
    "session.stop_failure",
    "transaction.started",
    "transaction.stopped",
]


@pytest.fixture
def network(organization: Organization) -> Network:
    return network_create(organization, protocol="ocpp2.0.1")


@pytest.fixture
def worker(celery_worker: StartProcess) -> None:
    celery_worker(**FAST)


def subscribe(receiver: Receiver, organization: Organization, path: str, **endpoint_fields: Any) -> None:
    endpoint = EndpointFactory.create(organization=organization, url=receiver.url(path), **endpoint_fields)
    receiver.expect_secrets(path, [endpoint.secret])


def received(receiver: Receiver, count: int) -> list[str]:
    receiver.wait_for(count, path="/sessions", timeout=30)
    time.sleep(0.5)  # nothing more arrives
    assert all(r.verified for r in receiver.requests("/sessions"))
    return [event_type(r) for r in receiver.requests("/sessions")]


def start_body(network: Network) -> dict[str, Any]:
    return {
        "chargestation": network.station.public_id,
        "connector": network.connector.public_id,
        "user": network.driver.public_id,
    }


@pytest.mark.usefixtures("worker")
def test_a_2_0_1_charging_session_raises_the_1_6j_events_in_order_in_both_envelopes(
    receiver: Receiver, network: Network, organization: Organization
) -> None:
    # Given an endpoint subscribed to every event type
    subscribe(receiver, organization, "/all")

    # When a 2.0.1 charger connects, boots, reports status, charges with meter values, stops and leaves
    async def scenario() -> str:
        async with charger_at(network.station.endpoint, **v201(network)) as charger:
            return await session_charge_v201(charger, network.tag)

    transaction_id = run(scenario)

    # Then the endpoint got exactly 1.6J's session events, in order, each signed, in its envelope
    requests = receiver.wait_for(len(SESSION_EVENTS), path="/all", timeout=30)
    assert [event_type(r) for r in requests] == SESSION_EVENTS
    for request in requests:
        assert request.verified, request.summary()
        envelope = EVENT_TYPES[event_type(request)].envelope
        keys = (
            {"event", "timestamp", "data"}
            if envelope is Envelope.CHARGER
            else {"_id", "data", "object", "type", "createdAt"}
        )
        assert set(request.json) == keys
    by_type = {event_type(r): r.json["data"] for r in requests}
    started = {
        "transactionId": transaction_id,
        "chargeBoxId": network.station.endpoint,
        "connectorId": 1,
        "idTag": network.tag,
    }
    assert by_type["transaction.started"] == {**started, "meterStart": 1000}
    assert by_type["transaction.stopped"] == {
        **started,
        "meterStart": 1000,
        "meterStop": 12000,
        "energyConsumed": 11000,
        "cost": {"amount": SESSION_COST, "currency": "EUR"},
    }
    assert by_type["session.ended"]["transaction_id"] == transaction_id
    assert [e.json["data"]["status"] for e in requests if event_type(e) == "connector.status_changed"] == [
        "Available",
        "Preparing",
        "Charging",
        "Finishing",
        "Available",
    ]


@pytest.mark.usefixtures("worker")
def test_a_remote_start_and_a_remote_stop_run_a_2_0_1_session(
    receiver: Receiver, network: Network, organization: Organization, api: APIClient
) -> None:
    # Given a connected 2.0.1 charger, and an endpoint for session events
    subscribe(receiver, organization, "/sessions", events=SESSION_TYPES)

    # When the API starts a session, the charger starts it, the API stops it, the charger stops it
    async def scenario() -> tuple[Any, ...]:
        async with charger_at(network.station.endpoint, **v201(network)) as charger:
            await charger.boot()
            created = await in_db(api.post, "/api/v1/sessions", start_body(network), format="json")
            start = await asyncio.wait_for(charger.remote_starts.get(), 10)
            transaction_id = await charger.start_transaction(
                start["id_token"]["id_token"],
                start["evse_id"],
                at=T0,
                remote_start_id=start["remote_start_id"],
            )
            stopping = await in_db(api.post, f"/api/v1/sessions/{created.json()['_id']}/stop")
            stop = await asyncio.wait_for(charger.remote_stops.get(), 10)
            await charger.stop_transaction(transaction_id, 7400, reason="Remote", at=T0 + timedelta(hours=1))
            shown = await in_db(api.get, f"/api/v1/sessions/{created.json()['_id']}")
            return created, start, transaction_id, stopping, stop, shown

    created, start, transaction_id, stopping, stop, shown = run(scenario)

    # Then the charger was asked with the user's token and the session's id, and it ran its course
    session = Session.objects.get(public_id=created.json()["_id"])
    assert created.status_code == 201 and created.json()["status"] == "created"
    assert start == {
        "id_token": {"id_token": network.tag, "type": "Central"},
        "remote_start_id": session.pk,
        "evse_id": 1,
    }
    assert stopping.status_code == 202 and stopping.json()["status"] == "started"
    assert stop == {"transaction_id": transaction_id}
    assert (session.status, session.transaction_id, session.id_tag) == ("ended", transaction_id, network.tag)
    assert shown.json()["transaction_id"] == transaction_id
    assert received(receiver, 5) == [
        "session.created",
        "session.started",
        "transaction.started",
        "session.ended",
        "transaction.stopped",
    ]


@pytest.mark.usefixtures("worker")
def test_the_simulator_charges_by_itself_after_an_accepted_remote_start(
    receiver: Receiver, network: Network, organization: Organization, api: APIClient
) -> None:
    # Given a 2.0.1 simulator that charges once a remote start is accepted
    subscribe(receiver, organization, "/sessions", events=SESSION_TYPES)

    # When the API starts a session on it
    async def scenario() -> Any:
        charge = {"readings": 1, "interval": 0.1}
        async with charger_at(network.station.endpoint, **v201(network), auto_charge=charge) as charger:
            response = await in_db(api.post, "/api/v1/sessions", start_body(network), format="json")
            await asyncio.wait_for(charger.remote_starts.get(), 10)
            for _ in range(100):
                if await in_db(Session.objects.filter(status="ended").exists):
                    break
                await asyncio.sleep(0.1)
            return response

    response = run(scenario)

    # Then that session started and ended
    assert Session.objects.get().public_id == response.json()["_id"]
    assert received(receiver, 5) == [
        "session.created",
        "session.started",
        "transaction.started",
        "session.ended",
        "transaction.stopped",
    ]


@pytest.mark.usefixtures("worker")
def test_a_refused_remote_start_is_a_start_failure(
    receiver: Receiver, network: Network, organization: Organization, api: APIClient, settings: Settings
) -> None:
    # Given a 2.0.1 charger that rejects remote starts
    settings.OCPP_COMMAND_TIMEOUT = 1
    subscribe(receiver, organization, "/sessions", events=SESSION_TYPES)

    # When the API starts a session on it
    async def scenario() -> Any:
        answers = Answers(remote_start="Rejected")
        async with charger_at(network.station.endpoint, **v201(network), answers=answers) as charger:
            response = await in_db(api.post, "/api/v1/sessions", start_body(network), format="json")
            await asyncio.wait_for(charger.remote_starts.get(), 10)
            await asyncio.sleep(0.5)
            return response

    response = run(scenario)

    # Then the session failed to start, and says why
    session = Session.objects.get(public_id=response.json()["_id"])
    assert (session.status, session.failure_reason) == (
        "start_failed",
        "The chargestation answered Rejected.",
    )
    assert received(receiver, 2) == ["session.created", "session.start_failure"]
