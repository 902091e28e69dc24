"""GET /api/v1/event-types/:type (the JSON Schema of what is sent, and an example that keeps to it),
the OpenAPI document's `webhooks`, and the charger protocol's data serializers."""

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.db.models import Model
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from chargestations.models import Chargestation, Connector, Location, Rate
from organizations.models import Organization
from sessions_app.models import Driver, Session
from tests.e2e.test_pipeline import every_change
from tests.factories import (
    ChargestationFactory,
    ConnectorFactory,
    DriverFactory,
    EndpointFactory,
    LocationFactory,
    RateFactory,
    SessionFactory,
)
from tests.webhooks_api.jsonschema_checks import data_schema, errors
from webhooks.catalog.charger_serializers import CHARGER_SERIALIZERS
from webhooks.catalog.payloads import SERIALIZERS, body, envelope, event_data
from webhooks.catalog.types import EVENT_TYPES, Envelope
from webhooks.models import Delivery, Event
from webhooks.schemas.envelopes import event_schema

pytestmark = pytest.mark.django_db

DIALECT = "https://json-schema.org/draft/2020-12/schema"
ENVELOPE_KEYS = {
    Envelope.EDRV: ["_id", "data", "object", "type", "createdAt"],
    Envelope.CHARGER: ["event", "timestamp", "data"],
}
NOT_A_TYPE = '"{}" is not an event type. The valid ones are listed at GET /api/v1/event-types.'
# Where the API serves each eDRV object: an event's `data` must be that response's component.
API_ROUTES = {
    "organization": "/api/v1/organization/",
    "location": "/api/v1/locations/{id}/",
    "chargestation": "/api/v1/chargestations/{id}/",
    "rate": "/api/v1/rates/{id}/",
    "user": "/api/v1/users/{id}/",
    "session": "/api/v1/sessions/{id}/",
}


def detail(api: APIClient, type_name: str) -> dict[str, Any]:
    response = api.get(f"/api/v1/event-types/{type_name}")
    assert response.status_code == 200, response.content
    found: dict[str, Any] = response.json()
    return found


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    """The OpenAPI document the app serves (generating it touches no table)."""
    response = Client().get("/api/schema/?format=json")
    assert response.status_code == 200
    served: dict[str, Any] = json.loads(response.content)
    return served


def as_defs(node: Any) -> Any:
    """An OpenAPI component with its references pointed where a self-contained schema keeps them."""
    return json.loads(json.dumps(node).replace('"#/components/schemas/', '"#/$defs/'))


def json_ref(content: dict[str, Any]) -> str:
    return str(content["application/json"]["schema"]["$ref"]).removeprefix("#/components/schemas/")


@pytest.mark.parametrize("type_name", list(EVENT_TYPES))
def test_every_type_has_a_schema_of_its_whole_envelope_and_an_example_that_keeps_to_it(
    api: APIClient, type_name: str
) -> None:
    listed = {t["name"]: t for t in api.get("/api/v1/event-types").json()["eventTypes"]}[type_name]

    found = detail(api, type_name)

    schema, example = found.pop("schema"), found.pop("example")
    assert found == listed  # the catalog entry, coming-soon flag included
    assert schema["$schema"] == DIALECT
    assert errors(schema, example) == []  # the schema is a valid 2020-12 schema, and the example keeps to it
    keys = ENVELOPE_KEYS[EVENT_TYPES[type_name].envelope]
    assert list(schema["properties"]) == list(example) == keys
    assert sorted(schema["required"]) == sorted(keys)
    assert example["type" if "type" in keys else "event"] == type_name
    assert set(data_schema(schema)["properties"]) == set(example["data"])


def test_an_examples_times_are_written_as_real_payloads_write_them(api: APIClient) -> None:
    # Given the example of a session's event, whose metering carries times of its own
    example = detail(api, "session.updated")["example"]

    # Then every time in it is UTC with milliseconds and a `Z`, as in a real payload
    times = [
        example["createdAt"],
        example["data"]["createdAt"],
        example["data"]["metrics"]["chargingStart"],
        example["data"]["energy_report"]["timestamp"],
    ]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", t) for t in times), times


def test_a_schema_is_specific_to_its_type_and_object(api: APIClient) -> None:
    started = detail(api, "session.started")["schema"]
    ended = detail(api, "session.ended")["example"]
    location = detail(api, "location.created")["example"]
    stopped = detail(api, "transaction.stopped")["example"]

    assert errors(started, ended) == ["type: 'session.started' was expected"]
    assert "object: 'session' was expected" in errors(started, {**location, "type": "session.started"})
    assert errors(started, {**ended, "type": "session.started", "data": {**ended["data"], "_id": 7}}) == [
        "data/_id: 7 is not of type 'string'"
    ]
    assert errors(started, {**ended, "type": "session.started", "createdAt": "yesterday"}) == [
        "createdAt: 'yesterday' is not a 'date-time'"
    ]
    charger = detail(api, "transaction.stopped")["schema"]
    assert set(errors(charger, {**stopped, "data": {**stopped["data"], "cost": {"amount": "5.20"}}})) == {
        "data/cost: 'currency' is a required property",
        "data/cost/amount: '5.20' is not of type 'number'",
    }


def test_the_envelopes_of_real_changes_keep_to_their_schemas(organization: Organization) -> None:
    # Given the changes of the end-to-end suite (in one transaction here, where a part's update folds
    # into its whole's created event: tests/e2e/test_schemas_e2e.py sees every type)
    every_change(organization)
    events = list(Event.objects.filter(organization=organization))
    # (the operational objects, webhook and delivery, are raised by the webhooks themselves)
    network_objects = set(SERIALIZERS) - {"webhook", "delivery"}
    assert {EVENT_TYPES[event.type].object for event in events} == network_objects | {"connector"}
    assert {EVENT_TYPES[event.type].envelope for event in events} == set(Envelope)

    # Then the bytes that would be sent for each keep to the schema the API serves
    for event in events:
        assert errors(event_schema(event.type), json.loads(body(event))) == [], event.type


def sparse_rows(organization: Organization) -> dict[str, tuple[Model, Model]]:
    """(subject, changed) per catalog object, from factory rows with every optional part left out."""
    location = LocationFactory.create(organization=organization, address={}, latitude=None, longitude=None)
    station = ChargestationFactory.create(location=location, last_boot_at=timezone.now())
    connector = ConnectorFactory.create(chargestation=station, rate=None)
    rate = RateFactory.create(organization=organization)
    driver = DriverFactory.create(organization=organization, email="", first_name="", last_name="")
    session = SessionFactory.create(chargestation=station, connector=None, driver=None, rate=None)
    endpoint = EndpointFactory.create(organization=organization)  # no description, filter, scope, header
    event = Event.objects.create(
        organization=organization, type="location.created", data={}, created_at=timezone.now()
    )
    never_answered = Delivery.objects.create(event=event, endpoint=endpoint, created_at=timezone.now())
    return {
        "webhook": (endpoint, endpoint),
        "delivery": (never_answered, never_answered),
        "organization": (organization, organization),
        "location": (location, location),
        "chargestation": (station, station),
        "connector": (station, connector),
        "rate": (rate, rate),
        "user": (driver, driver),
        "session": (session, session),
    }


def test_payloads_of_every_type_from_sparse_rows_keep_to_their_schemas(organization: Organization) -> None:
    rows = sparse_rows(organization)

    for name, event_type in EVENT_TYPES.items():
        subject, changed = rows[event_type.object]
        data = event_data(type_name=name, subject=subject, changed=changed, snapshots={})
        sent = envelope(
            Event(
                organization=organization,
                type=name,
                object=event_type.object,
                data=data,
                created_at=timezone.now(),
            )
        )

        assert errors(event_schema(name), json.loads(json.dumps(sent))) == [], name


def test_an_unknown_type_is_a_404_that_names_it(api: APIClient) -> None:
    for name in ("session.exploded", "session", "SESSION.STARTED"):
        response = api.get(f"/api/v1/event-types/{name}")

        assert response.status_code == 404
        assert response.json() == {"detail": NOT_A_TYPE.format(name)}


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-key"])
def test_without_a_valid_api_key_it_is_401(authorization: str | None) -> None:
    client = APIClient()
    if authorization:
        client.credentials(HTTP_AUTHORIZATION=authorization)

    assert client.get("/api/v1/event-types/session.started").status_code == 401
    assert client.get("/api/v1/event-types/session.exploded").status_code == 401


def test_a_free_organization_may_read_a_type_too(free_api: APIClient) -> None:
    assert free_api.get("/api/v1/event-types/session.started").status_code == 200


def test_the_example_is_made_for_the_caller_and_leaves_nothing_behind(
    organization: Organization,
    other_organization: Organization,
    client_for: Callable[[Organization], APIClient],
) -> None:
    # Given an endpoint subscribed to everything
    EndpointFactory.create(organization=organization)
    tables: list[type[Model]] = [Location, Chargestation, Connector, Rate, Driver, Session, Event, Delivery]
    before = [table._default_manager.count() for table in tables]

    # When each organization asks for examples
    api = client_for(organization)
    mine = {name: detail(api, name)["example"] for name in EVENT_TYPES}
    theirs = detail(client_for(other_organization), "organization.updated")["example"]

    # Then each example is about its caller, and nothing was written or sent
    assert mine["organization.updated"]["data"]["_id"] == organization.public_id
    assert theirs["data"]["_id"] == other_organization.public_id
    assert mine["session.started"]["data"]["cost"]["currency"] == organization.currency
    assert [table._default_manager.count() for table in tables] == before


def test_the_schema_served_is_computed_once_per_process(api: APIClient) -> None:
    assert event_schema("session.started") is event_schema("session.started")
    assert detail(api, "session.started")["schema"] == event_schema("session.started")


def test_the_openapi_document_is_3_1_with_a_webhook_for_every_type(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1.")
    assert list(document["webhooks"]) == list(EVENT_TYPES)  # every subscribable type, and the coming-soon
    for name, webhook in document["webhooks"].items():
        event_type = EVENT_TYPES[name]
        post = webhook["post"]
        assert post["summary"] == event_type.description
        assert f"GET /api/v1/event-types/{name}" in post["description"]
        assert ("Coming soon" in post["description"]) is (not event_type.subscribable)
        assert post["x-subscribable"] is event_type.subscribable
        assert post["tags"] == [event_type.category]
        assert list(post["responses"]) == ["2XX"]
    detail_route = document["paths"]["/api/v1/event-types/{type}/"]["get"]
    [parameter] = detail_route["parameters"]
    assert sorted(parameter["schema"]["enum"]) == sorted(EVENT_TYPES)


@pytest.mark.parametrize("type_name", list(EVENT_TYPES))
def test_a_types_json_schema_is_its_openapi_webhook_made_self_contained(
    api: APIClient, document: dict[str, Any], type_name: str
) -> None:
    components = document["components"]["schemas"]
    webhook = document["webhooks"][type_name]["post"]

    schema = dict(detail(api, type_name)["schema"])

    envelope_name = json_ref(webhook["requestBody"]["content"])
    assert {key: schema.pop(key) for key in ("$schema", "title")} == {"$schema": DIALECT, "title": type_name}
    definitions = schema.pop("$defs")
    assert schema == as_defs(components[envelope_name])
    assert definitions == {name: as_defs(components[name]) for name in definitions}


def without_read_only(node: Any) -> Any:
    """A schema as webhooks carry it: what the API marks readOnly is sent all the same."""
    if isinstance(node, list):
        return [without_read_only(item) for item in node]
    if isinstance(node, dict):
        return {key: without_read_only(value) for key, value in node.items() if key != "readOnly"}
    return node


def test_edrv_data_is_the_component_of_the_api_serializer_that_makes_it(
    api: APIClient, document: dict[str, Any]
) -> None:
    paths, components = document["paths"], document["components"]["schemas"]

    for name, event_type in EVENT_TYPES.items():
        if event_type.envelope is Envelope.CHARGER or event_type.object not in API_ROUTES:
            continue  # (webhook, delivery: tests/webhooks/test_operational_events.py)
        schema = detail(api, name)["schema"]
        api_response = json_ref(paths[API_ROUTES[event_type.object]]["get"]["responses"]["200"]["content"])
        # The API's own component, without readOnly (webhooks.schemas.openapi), under a name of its own
        # whose references are to the same made of the components it refers to.
        assert schema["properties"]["data"]["allOf"] == [{"$ref": f"#/$defs/{api_response}Payload"}], name
        payload = json.dumps(schema["$defs"][f"{api_response}Payload"])
        api_component = as_defs(without_read_only(components[api_response]))
        assert json.loads(re.sub(r'(#/\$defs/\w+)Payload"', r'\1"', payload)) == api_component, name


def test_the_api_keeps_its_read_only_fields(document: dict[str, Any]) -> None:
    location = document["components"]["schemas"]["Location"]["properties"]

    assert location["_id"]["readOnly"] is True and location["createdAt"]["readOnly"] is True
    assert "_id" not in document["components"]["schemas"]["LocationRequest"]["properties"]


def test_charger_protocol_data_is_the_protocols_compact_shape(organization: Organization) -> None:
    station = ChargestationFactory.create(
        location__organization=organization,
        endpoint="CP-1",
        vendor="ACME",
        model="AC22",
        charge_point_serial_number="SN-1",
        firmware_version="1.2.3",
    )
    connector = ConnectorFactory.create(chargestation=station, status="Faulted", error_code="GroundFailure")
    idle = SessionFactory.create(chargestation=station, connector=None, id_tag="TAG-0")  # nothing metered
    done = SessionFactory.create(
        chargestation=station,
        connector=connector,
        transaction_id=7,
        id_tag="TAG-1",
        metrics={"meterStart": 1000, "meterStop": 12000, "energyConsumed": 11000},
        energy_report={"power": {"value": 11.0, "unit": "kW"}},
        cost_amount="5.20",
        currency="EUR",
    )
    connector_number = connector.connector_number
    started = {"transactionId": 7, "chargeBoxId": "CP-1", "connectorId": connector_number, "idTag": "TAG-1"}
    expected = [
        ("charger.connected", station, {"chargeBoxId": "CP-1"}),
        ("charger.disconnected", station, {"chargeBoxId": "CP-1"}),
        (
            "charger.boot",
            station,
            {
                "chargeBoxId": "CP-1",
                "chargePointVendor": "ACME",
                "chargePointModel": "AC22",
                "chargePointSerialNumber": "SN-1",
                "chargeBoxSerialNumber": station.charge_box_serial_number,
                "firmwareVersion": "1.2.3",
            },
        ),
        (
            "connector.status_changed",
            connector,
            {"chargeBoxId": "CP-1", "connectorId": connector_number, "status": "Faulted",
             "errorCode": "GroundFailure"},
        ),
        (
            "transaction.started",
            idle,
            {"transactionId": idle.transaction_id, "chargeBoxId": "CP-1", "connectorId": None,
             "idTag": "TAG-0", "meterStart": None},
        ),
        ("transaction.started", done, {**started, "meterStart": 1000}),
        (
            "transaction.updated",
            done,
            {**started, "meterStart": 1000, "energyReport": {"power": {"value": 11.0, "unit": "kW"}}},
        ),
        (
            "transaction.stopped",
            done,
            {**started, "meterStart": 1000, "meterStop": 12000, "energyConsumed": 11000,
             "cost": {"amount": 5.2, "currency": "EUR"}},
        ),
    ]  # fmt: skip
    assert {name for name, _, _ in expected} == set(CHARGER_SERIALIZERS)

    for name, changed, data in expected:
        made = event_data(type_name=name, subject=changed, changed=changed, snapshots={})
        # Compared as sent: the same keys, in the same order, with the same numbers (1000, not 1000.0).
        assert json.dumps(made) == json.dumps(data), name
