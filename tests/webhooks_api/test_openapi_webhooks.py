"""The OpenAPI document's webhooks as /api/docs/ shows them: every field (no readOnly, which request
bodies hide) and a real example, made without a database (webhooks.schemas.openapi, published_examples)."""

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.webhooks_api.jsonschema_checks import data_schema, errors
from webhooks.catalog.types import EVENT_TYPES, Envelope
from webhooks.schemas.envelopes import event_schema
from webhooks.schemas.openapi import COMPONENTS
from webhooks.schemas.published_examples import published_example

pytestmark = pytest.mark.django_db

ENVELOPE_KEYS = {
    Envelope.EDRV: ["_id", "data", "object", "type", "createdAt"],
    Envelope.CHARGER: ["event", "timestamp", "data"],
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    response = Client().get("/api/schema/?format=json")
    assert response.status_code == 200
    served: dict[str, Any] = json.loads(response.content)
    return served


def references(node: Any) -> set[str]:
    text = json.dumps(node)
    return {part.split('"')[0] for part in text.split(f'"$ref": "{COMPONENTS}')[1:]}


def webhook_components(document: dict[str, Any]) -> set[str]:
    components = document["components"]["schemas"]
    found: set[str] = set()
    pending = references(document["webhooks"])
    while pending:
        name = pending.pop()
        if name not in found:
            found.add(name)
            pending |= references(components[name])
    return found


def test_no_field_of_a_webhook_is_read_only(document: dict[str, Any]) -> None:
    components = document["components"]["schemas"]

    used = webhook_components(document)

    assert {"LocationCreatedEvent", "LocationPayload", "SessionPayload", "ConnectorPayload"} <= used
    assert [name for name in used if '"readOnly"' in json.dumps(components[name])] == []
    assert '"readOnly"' not in json.dumps(document["webhooks"])
    # The API's own components keep theirs: its request and response bodies are unchanged.
    assert components["Session"]["properties"]["status"]["readOnly"] is True
    assert "Payload" not in json.dumps(document["paths"])


@pytest.mark.parametrize("type_name", list(EVENT_TYPES))
def test_every_webhook_has_a_real_example_that_keeps_to_its_schema(
    document: dict[str, Any], type_name: str
) -> None:
    body = document["webhooks"][type_name]["post"]["requestBody"]["content"]["application/json"]

    example = body["example"]

    schema = event_schema(type_name)
    assert errors(schema, example) == []
    assert list(example) == ENVELOPE_KEYS[EVENT_TYPES[type_name].envelope]
    assert set(example["data"]) == set(data_schema(schema)["properties"])  # every field, none left out
    assert example.get("type", example.get("event")) == type_name


def test_the_examples_are_real_payloads_the_same_every_time_and_need_no_database() -> None:
    with CaptureQueriesContext(connection) as queries:
        examples = {name: published_example(name) for name in EVENT_TYPES}

    assert len(queries) == 0
    assert examples == {name: published_example(name) for name in EVENT_TYPES}
    location = examples["location.created"]
    assert location["createdAt"] == "2026-02-06T14:30:00.863Z"  # as a delivery writes it
    assert location["data"]["name"] == "Example Plaza" and location["data"]["_id"]
    station = examples["chargestation.connector_status.updated"]["data"]
    assert station["connectors"][0]["status"] == "Charging"  # its nested lists too
    assert examples["session.ended"]["data"]["status"] == "ended"
    assert examples["session.stop_cost_ceiling_exceeded"]["data"]["cost_ceiling_exceeded_at"]
    assert examples["transaction.stopped"]["data"]["meterStop"] == 7400
