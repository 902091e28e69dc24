"""Remote start and stop through the API, the channel layer and a charger; their failures."""

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from chargestations.services import chargestation_authorization_key_generate
from ocpp_gateway.simulator import Answers
from organizations.models import Organization
from sessions_app.models import Session
from tests.e2e.broker import Broker
from tests.e2e.conftest import StartProcess
from tests.e2e.receiver import Receiver
from tests.factories import ConnectorFactory, EndpointFactory
from tests.ocpp.inprocess import charger_at, in_db, run
from tests.ocpp.scenarios import T0, Network, event_type

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FAST = {"WEBHOOKS_RETRY_SCHEDULE": "0,1,1", "WEBHOOKS_SWEEP_INTERVAL": "1"}
SESSION_EVENTS = [
    "session.created",
    "session.started",
    "session.updated",
    "session.ended",
    "session.cancelled",
    "session.start_failure",
    "session.stop_failure",
    "transaction.started",
    "transaction.stopped",
]


@pytest.fixture
def session_events(receiver: Receiver, celery_worker: StartProcess, organization: Organization) -> None:
    """A worker, and an endpoint for session events at the receiver's /sessions."""
    celery_worker(**FAST)
    endpoint = EndpointFactory.create(
        organization=organization, url=receiver.url("/sessions"), events=SESSION_EVENTS
    )
    receiver.expect_secrets("/sessions", [endpoint.secret])


def received(receiver: Receiver, count: int) -> list[str]:
    requests = receiver.wait_for(count, path="/sessions", timeout=30)
    time.sleep(0.5)  # nothing more arrives
    assert all(r.verified for r in receiver.requests("/sessions"))
    return [event_type(r) for r in receiver.requests("/sessions")] if requests else []


def start_body(network: Network) -> dict[str, Any]:
    return {
        "chargestation": network.station.public_id,
        "connector": network.connector.public_id,
        "user": network.driver.public_id,
    }


@pytest.mark.usefixtures("session_events")
def test_a_remote_start_and_a_remote_stop_run_a_session(
    receiver: Receiver,
    network: Network,
    api: APIClient,
) -> None:
    # Given a connected charger, a worker and an endpoint for session events (the fixture)

    # When the API starts a session, the charger starts it, the API stops it, the charger stops it
    async def scenario() -> tuple[Any, ...]:
        async with charger_at(
            network.station.endpoint, authorization_key=network.authorization_key
        ) as charger:
            await charger.boot()
            created = await in_db(api.post, "/api/v1/sessions", start_body(network), format="json")
            start = await asyncio.wait_for(charger.remote_starts.get(), 10)
            transaction_id = await charger.start_transaction(start["id_tag"], start["connector_id"], at=T0)
            stopping = await in_db(api.post, f"/api/v1/sessions/{created.json()['_id']}/stop")
            stop = await asyncio.wait_for(charger.remote_stops.get(), 10)
            await charger.stop_transaction(transaction_id, 7400, reason="Remote", at=T0 + timedelta(hours=1))
            return created, start, transaction_id, stopping, stop

    created, start, transaction_id, stopping, stop = run(scenario)

    # Then the charger was asked with the user's token, and the session ran its course
    assert created.status_code == 201 and created.json()["status"] == "created"
    assert start == {"id_tag": network.tag, "connector_id": 1}
    assert stopping.status_code == 202 and stopping.json()["status"] == "started"
    assert stop == {"transaction_id": transaction_id}
    session = Session.objects.get(public_id=created.json()["_id"])
    assert (session.status, session.transaction_id, session.id_tag) == (
        "ended",
        str(transaction_id),
        network.tag,
    )
    assert received(receiver, 5) == [
        "session.created",
        "session.started",
        "transaction.started",
        "session.ended",
        "transaction.stopped",
    ]


@pytest.mark.parametrize(
    ("answers", "reason"),
    [
        (Answers(remote_start="Rejected"), "The chargestation answered Rejected."),
        (Answers(delay=3), "The chargestation did not answer within 1 seconds."),
        (None, "The chargestation is offline."),
    ],
    ids=["rejected", "no answer", "offline"],
)
@pytest.mark.usefixtures("session_events")
def test_a_remote_start_that_fails_is_a_start_failure(
    receiver: Receiver,
    network: Network,
    api: APIClient,
    settings: Settings,
    answers: Answers | None,
    reason: str,
) -> None:
    # Given a charger that refuses, answers too late, or is not connected
    settings.OCPP_COMMAND_TIMEOUT = 1

    # When the API starts a session on it
    async def scenario() -> Any:
        if answers is None:
            return await in_db(api.post, "/api/v1/sessions", start_body(network), format="json")
        async with charger_at(
            network.station.endpoint, authorization_key=network.authorization_key, answers=answers
        ) as charger:
            response = await in_db(api.post, "/api/v1/sessions", start_body(network), format="json")
            await asyncio.wait_for(charger.remote_starts.get(), 10)
            await asyncio.sleep(answers.delay + 0.5)
            return response

    response = run(scenario)

    # Then the session failed to start, and says why
    assert response.status_code == 201
    session = Session.objects.get(public_id=response.json()["_id"])
    assert (session.status, session.failure_reason) == ("start_failed", reason)
    assert received(receiver, 2) == ["session.created", "session.start_failure"]


@pytest.mark.parametrize(
    ("answers", "reason"),
    [
        (Answers(remote_stop="Rejected"), "The chargestation answered Rejected."),
        (Answers(delay=3), "The chargestation did not answer within 1 seconds."),
        (None, "The chargestation is offline."),
    ],
    ids=["rejected", "no answer", "offline"],
)
@pytest.mark.usefixtures("session_events")
def test_a_remote_stop_that_fails_is_a_stop_failure(
    receiver: Receiver,
    network: Network,
    api: APIClient,
    settings: Settings,
    answers: Answers | None,
    reason: str,
) -> None:
    # Given a session the charger started, then a charger that refuses, answers late, or left
    settings.OCPP_COMMAND_TIMEOUT = 1

    async def scenario() -> Any:
        async with charger_at(
            network.station.endpoint,
            authorization_key=network.authorization_key,
            answers=answers or Answers(),
        ) as charger:
            await charger.boot()
            transaction_id = await charger.start_transaction(network.tag, at=T0)
            url = f"/api/v1/sessions/{(await in_db(Session.objects.get)).public_id}/stop"
            if answers is None:
                return transaction_id, url
            # When the API asks it to stop
            response = await in_db(api.post, url)
            await asyncio.wait_for(charger.remote_stops.get(), 10)
            await asyncio.sleep(answers.delay + 0.5)
            return transaction_id, response

    transaction_id, response = run(scenario)
    if answers is None:
        response = api.post(response)

    # Then the session is still running, with a stop failure that says why
    assert response.status_code == 202
    session = Session.objects.get(transaction_id=transaction_id)
    assert (session.status, session.stop_failure_reason) == ("started", reason)
    assert session.stop_failed_at is not None
    assert received(receiver, 4) == [
        "session.created",
        "session.started",
        "transaction.started",
        "session.stop_failure",
    ]


@pytest.mark.usefixtures("session_events")
def test_a_remote_start_that_never_starts_is_cancelled(
    receiver: Receiver,
    network: Network,
    api: APIClient,
    settings: Settings,
) -> None:
    # Given a cancel delay shortened to 2 seconds, and a charger that accepts a remote start
    settings.OCPP_CANCEL_AFTER = 2

    # When the API starts a session, and the car is never plugged in
    async def scenario() -> tuple[Any, list[Any]]:
        async with charger_at(
            network.station.endpoint, authorization_key=network.authorization_key
        ) as charger:
            response = await in_db(api.post, "/api/v1/sessions", start_body(network), format="json")
            await asyncio.wait_for(charger.remote_starts.get(), 10)
            waiting = sync_to_async(receiver.wait_for, thread_sensitive=False)
            return response, await waiting(2, path="/sessions", timeout=15)

    response, (created, cancelled) = run(scenario)

    # Then the worker cancels it after the delay
    assert [event_type(created), event_type(cancelled)] == ["session.created", "session.cancelled"]
    assert cancelled.received_at - created.received_at >= 1.5
    session = Session.objects.get(public_id=response.json()["_id"])
    assert (session.status, session.failure_reason) == (
        "cancelled",
        "Charging did not start in time after the remote start.",
    )


def test_a_command_reaches_its_own_stations_connection_only(
    celery_broker: Broker, network: Network, organization: Organization, api: APIClient
) -> None:
    # Given two stations' chargers connected at once
    other = ConnectorFactory.create(chargestation__location=network.station.location, connector_number=1)
    other_key = chargestation_authorization_key_generate(chargestation=other.chargestation)

    # When the API starts a session on the second one
    async def scenario() -> tuple[dict[str, Any], bool]:
        async with (
            charger_at(network.station.endpoint, authorization_key=network.authorization_key) as first,
            charger_at(other.chargestation.endpoint, authorization_key=other_key) as second,
        ):
            body = {"chargestation": other.chargestation.public_id, "user": network.driver.public_id}
            await in_db(api.post, "/api/v1/sessions", body, format="json")
            request = await asyncio.wait_for(second.remote_starts.get(), 10)
            await asyncio.sleep(0.5)
            return request, first.remote_starts.empty()

    request, first_asked_nothing = run(scenario)

    # Then only the second charger was asked
    assert request == {"id_tag": network.tag}
    assert first_asked_nothing
