"""What a real worker delivers keeps to the schemas GET /api/v1/event-types/:type publishes.

Real changes (every subscribable type), and a real charger's session through the OCPP gateway
(the charger protocol's types with the values a charger reports), reach the verifying receiver;
each body is validated with `jsonschema` against the schema fetched from the API.
"""

from typing import Any

import pytest
from rest_framework.test import APIClient

from organizations.models import Organization
from tests.e2e.conftest import StartProcess
from tests.e2e.receiver import Receiver, RecordedRequest
from tests.e2e.test_pipeline import every_change
from tests.factories import EndpointFactory
from tests.ocpp.inprocess import charger_at, run
from tests.ocpp.scenarios import SESSION_EVENTS, network_create, session_charge
from tests.webhooks_api.jsonschema_checks import errors
from webhooks.catalog.types import EVENT_TYPES, OPERATIONAL, SUBSCRIBABLE, Envelope
from webhooks.models import Event

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FAST = {"WEBHOOKS_RETRY_SCHEDULE": "0,1,1", "WEBHOOKS_SWEEP_INTERVAL": "1"}


def subscribe(receiver: Receiver, organization: Organization, path: str) -> None:
    endpoint = EndpointFactory.create(organization=organization, url=receiver.url(path))
    receiver.expect_secrets(path, [endpoint.secret])


def event_type(request: RecordedRequest) -> str:
    return str(request.json.get("type") or request.json.get("event"))


def schema_problems(api: APIClient, requests: list[RecordedRequest]) -> dict[str, list[str]]:
    """Per request that breaks the schema the API publishes for its type: how (nothing: all keep to it)."""
    schemas: dict[str, dict[str, Any]] = {}
    problems: dict[str, list[str]] = {}
    for request in requests:
        assert request.verified, request.summary()
        name = event_type(request)
        if name not in schemas:
            response = api.get(f"/api/v1/event-types/{name}")
            assert response.status_code == 200, response.content
            schemas[name] = response.json()["schema"]
        # The envelope has exactly the schema's keys: nothing sent goes undescribed.
        found = errors(schemas[name], request.json)
        if set(request.json) != set(schemas[name]["properties"]):
            found.append(
                f"keys {sorted(request.json)} are not the schema's {sorted(schemas[name]['properties'])}"
            )
        if found:
            problems[f"{name} {request.headers['webhook-id']}"] = found
    return problems


def test_every_delivered_type_keeps_to_its_published_schema(
    receiver: Receiver, celery_worker: StartProcess, organization: Organization, api: APIClient
) -> None:
    # Given a worker, and an endpoint subscribed to every event type
    celery_worker(**FAST)
    subscribe(receiver, organization, "/all")

    # When changes raise every subscribable type, in both envelopes
    every_change(organization)

    # Then every delivered body keeps to the schema the API publishes for its type
    requests = receiver.wait_for(Event.objects.count(), path="/all", timeout=60)
    assert {event_type(r) for r in requests} == SUBSCRIBABLE - OPERATIONAL  # every type of the network
    assert {EVENT_TYPES[event_type(r)].envelope for r in requests} == set(Envelope)
    assert schema_problems(api, requests) == {}


def test_a_real_chargers_session_keeps_to_the_published_schemas(
    receiver: Receiver, celery_worker: StartProcess, organization: Organization, api: APIClient
) -> None:
    # Given a worker, an endpoint subscribed to everything, and a network to charge on
    celery_worker(**FAST)
    network = network_create(organization)
    subscribe(receiver, organization, "/charger")

    # When a charger connects over OCPP, boots, charges with meter values, stops and leaves
    async def scenario() -> int:
        key = network.authorization_key
        async with charger_at(network.station.endpoint, authorization_key=key) as charger:
            return await session_charge(charger, network.tag)

    run(scenario)

    # Then each of its events, as the charger's reports made them, keeps to its schema
    requests = receiver.wait_for(len(SESSION_EVENTS), path="/charger", timeout=30)
    assert sorted(event_type(r) for r in requests) == sorted(SESSION_EVENTS)
    assert schema_problems(api, requests) == {}
