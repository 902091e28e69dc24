"""A charger's session end to end: gateway in-process, a real worker, a real receiver."""

from typing import Any

import pytest

from organizations.models import Organization
from sessions_app.models import Session
from tests.e2e.conftest import StartProcess
from tests.e2e.receiver import Receiver
from tests.factories import EndpointFactory
from tests.ocpp.inprocess import charger_at, run
from tests.ocpp.scenarios import SESSION_COST, SESSION_EVENTS, Network, event_type, session_charge
from webhooks.catalog.types import EVENT_TYPES, Envelope
from webhooks.models import Delivery

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FAST = {"WEBHOOKS_RETRY_SCHEDULE": "0,1,1", "WEBHOOKS_SWEEP_INTERVAL": "1"}


def subscribe(receiver: Receiver, organization: Organization, path: str = "/all") -> None:
    endpoint = EndpointFactory.create(organization=organization, url=receiver.url(path))
    receiver.expect_secrets(path, [endpoint.secret])


def by_type(requests: list[Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for request in requests:
        found.setdefault(event_type(request), []).append(request.json)
    return found


def test_a_charging_session_raises_its_events_in_order_in_both_envelopes(
    receiver: Receiver, celery_worker: StartProcess, network: Network, organization: Organization
) -> None:
    # Given a worker, and an endpoint subscribed to every event type
    celery_worker(**FAST)
    subscribe(receiver, organization)
    endpoint = network.station.endpoint

    # When a charger connects, boots, reports status, charges with meter values, stops and leaves
    async def scenario() -> int:
        async with charger_at(endpoint, authorization_key=network.authorization_key) as charger:
            return await session_charge(charger, network.tag)

    transaction_id = run(scenario)

    # Then the endpoint got exactly the session's events, in order, each signed, in its envelope
    requests = receiver.wait_for(len(SESSION_EVENTS), path="/all", timeout=30)
    assert [event_type(r) for r in requests] == SESSION_EVENTS
    assert Delivery.objects.count() == len(SESSION_EVENTS)
    for request in requests:
        assert request.verified, request.summary()
        if EVENT_TYPES[event_type(request)].envelope is Envelope.CHARGER:
            assert set(request.json) == {"event", "timestamp", "data"}
        else:
            assert set(request.json) == {"_id", "data", "object", "type", "createdAt"}
    events = by_type(requests)
    session = Session.objects.get(transaction_id=transaction_id)
    assert events["charger.connected"][0]["data"] == {"chargeBoxId": endpoint}
    assert events["charger.boot"][0]["data"] == {
        "chargeBoxId": endpoint,
        "chargePointVendor": "ACME",
        "chargePointModel": "AC22",
        "chargePointSerialNumber": "SN-1",
        "chargeBoxSerialNumber": "",
        "firmwareVersion": "1.2.3",
    }
    assert [e["data"]["status"] for e in events["connector.status_changed"]] == [
        "Available",
        "Preparing",
        "Charging",
        "Finishing",
        "Available",
    ]
    assert [
        [c["status"] for c in e["data"]["connectors"]]
        for e in events["chargestation.connector_status.updated"]
    ] == [["Available"], ["Preparing"], ["Charging"], ["Finishing"], ["Available"]]
    started = {
        "transactionId": transaction_id,
        "chargeBoxId": endpoint,
        "connectorId": 1,
        "idTag": network.tag,
    }
    assert events["transaction.started"][0]["data"] == {**started, "meterStart": 1000}
    assert [e["data"]["energyReport"]["energy_meter"] for e in events["transaction.updated"]] == [
        {"value": 6.5, "unit": "kWh"},
        {"value": 12.0, "unit": "kWh"},
    ]
    assert events["transaction.stopped"][0]["data"] == {
        **started,
        "meterStart": 1000,
        "meterStop": 12000,
        "energyConsumed": 11000,
        "cost": {"amount": SESSION_COST, "currency": "EUR"},
    }
    [created], [ended] = events["session.created"], events["session.ended"]
    assert created["data"]["_id"] == ended["data"]["_id"] == session.public_id
    assert created["data"]["user"] == network.driver.public_id
    assert ended["data"]["status"] == "ended"
    assert ended["data"]["cost"] == {"amount": SESSION_COST, "currency": "EUR"}
    assert ended["data"]["metrics"] == {
        "chargingStart": "2026-02-06T14:00:00.000Z",
        "chargingStop": "2026-02-06T15:00:00.000Z",
        "meterStart": 1000,
        "meterStop": 12000,
        "energyConsumed": 11000,
        "energyPeriod": 3600,
    }
