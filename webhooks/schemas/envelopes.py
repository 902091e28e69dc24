"""What each event type delivers, as a schema: the OpenAPI `webhooks` and a JSON Schema per type.

One envelope serializer per event type describes the whole body that is sent: envelope A
(`_id`, `data`, `object`, `type`, `createdAt`) or B (`event`, `timestamp`, `data`), with `data` the
serializer that produces it (`webhooks.catalog.payloads.SERIALIZERS` for eDRV objects,
`webhooks.catalog.charger_serializers` for the charger protocol's shapes). Nothing is written by hand:

- drf-spectacular documents them as the OpenAPI 3.1 document's `webhooks` (`OPENAPI_WEBHOOKS`,
  named by SPECTACULAR_SETTINGS["WEBHOOKS"]), beside the API objects they share components with;
- `event_schema(type_name)` is that webhook's schema cut out of the same document, made
  self-contained (`$defs`) as a JSON Schema 2020-12 document: GET /api/v1/event-types/:type.
"""

import json
import re
from functools import cache
from typing import Any

from django.utils import timezone
from django.utils.module_loading import import_string
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from drf_spectacular.utils import OpenApiResponse, OpenApiWebhook, extend_schema
from rest_framework import serializers

from organizations.models import Organization
from organizations.serializers import ApiDateTimeField
from webhooks.catalog.charger_serializers import CHARGER_SERIALIZERS
from webhooks.catalog.payloads import SERIALIZERS, envelope
from webhooks.catalog.types import EVENT_TYPES, Envelope, EventType
from webhooks.models import Event
from webhooks.schemas.examples import example_data

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_COMPONENTS = "#/components/schemas/"
_DEFS = "#/$defs/"

_SIGNED = (
    "Sent as a signed `POST` with `Content-Type: application/json` and the Standard Webhooks headers "
    "`webhook-id` (the event's id, the same on every retry: de-duplicate on it), `webhook-timestamp` "
    "and `webhook-signature`, plus `edrv-signature`. Answer with any 2xx within 5 seconds; anything "
    "else is retried, and a `410 Gone` disables the webhook."
)
_ENVELOPES = {
    Envelope.EDRV: "eDRV envelope: `_id`, `data` (the object as the API shows it), `object`, `type`, "
    "`createdAt`.",
    Envelope.CHARGER: "Charger-protocol envelope: `event`, `timestamp`, `data`.",
}


class ConstantField(serializers.Field):
    """A value the event type fixes (its name, its object): a `const` in the schema."""

    def __init__(self, value: str, **kwargs: Any) -> None:
        self.value = value
        super().__init__(read_only=True, **kwargs)

    def get_attribute(self, instance: Any) -> str:
        return self.value

    def to_representation(self, value: Any) -> str:
        return self.value


class ConstantFieldExtension(OpenApiSerializerFieldExtension):
    target_class = ConstantField

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        return {"type": "string", "const": self.target.value}


def data_serializer(event_type: EventType) -> type[serializers.Serializer]:
    """The serializer whose output is the `data` of this type's events."""
    if event_type.envelope is Envelope.CHARGER:
        return CHARGER_SERIALIZERS[event_type.name]
    serializer_class: type[serializers.Serializer] = import_string(SERIALIZERS[event_type.object])
    return serializer_class


def _envelope_fields(event_type: EventType) -> dict[str, serializers.Field]:
    # Created in the order they are sent: it is the order of the schema's properties.
    data_class = data_serializer(event_type)
    if event_type.envelope is Envelope.CHARGER:
        return {
            "event": ConstantField(event_type.name, help_text="The event type."),
            "timestamp": ApiDateTimeField(read_only=True, help_text="When it happened."),
            "data": data_class(read_only=True, help_text="The charger protocol's own compact shape."),
        }
    return {
        "_id": serializers.CharField(
            read_only=True,
            label="_id",
            help_text="The event's id, also its `webhook-id` header: de-duplicate on it.",
        ),
        "data": data_class(
            read_only=True,
            help_text=f"The {event_type.object} as the API shows it, at the moment of the change.",
        ),
        "object": ConstantField(event_type.object, help_text="What `data` is."),
        "type": ConstantField(event_type.name, help_text="The event type."),
        "createdAt": ApiDateTimeField(read_only=True, help_text="When it happened."),
    }


def _component_name(type_name: str) -> str:
    return "".join(word.capitalize() for word in re.split(r"[._]", type_name)) + "Event"


@cache
def envelope_serializer(type_name: str) -> type[serializers.Serializer]:
    """The whole body sent for an event of this type, as a serializer (component `<Type>Event`)."""
    event_type = EVENT_TYPES[type_name]
    attributes: dict[str, Any] = {
        "__module__": __name__,
        "__doc__": event_type.description,
        **_envelope_fields(event_type),
    }
    return type(f"{_component_name(type_name)}Serializer", (serializers.Serializer,), attributes)


def _webhook_description(event_type: EventType) -> str:
    parts = [
        event_type.description,
        _ENVELOPES[event_type.envelope],
        _SIGNED,
        f"The same schema, self-contained: `GET /api/v1/event-types/{event_type.name}`.",
    ]
    if not event_type.subscribable:
        parts.insert(0, "**Coming soon**: listed in the catalog, not yet subscribable nor sent.")
    return "\n\n".join(parts)


def _webhook(event_type: EventType) -> OpenApiWebhook:
    return OpenApiWebhook(
        name=event_type.name,
        decorator=extend_schema(
            operation_id=event_type.name.replace(".", "_"),
            summary=event_type.description,
            description=_webhook_description(event_type),
            tags=[str(event_type.category)],
            request=envelope_serializer(event_type.name),
            responses={
                "2XX": OpenApiResponse(
                    description="Received (the body is ignored). Anything else is retried; a 410 disables."
                )
            },
            extensions={"x-subscribable": event_type.subscribable},
        ),
    )


# Every type of the catalog, in its order; coming-soon types too (their description says so).
OPENAPI_WEBHOOKS = [_webhook(event_type) for event_type in EVENT_TYPES.values()]


@cache
def _openapi_document() -> dict[str, Any]:
    # Rendered and parsed back: plain JSON values (no lazy strings), as the schema view serves them.
    document = SchemaGenerator().get_schema(request=None, public=True)
    parsed: dict[str, Any] = json.loads(OpenApiJsonRenderer().render(document))
    return parsed


def _with_refs(node: Any, found: set[str]) -> Any:
    """A copy of `node` with component references pointed at `$defs`; their names go to `found`."""
    if isinstance(node, list):
        return [_with_refs(item, found) for item in node]
    if not isinstance(node, dict):
        return node
    copied = {key: _with_refs(value, found) for key, value in node.items()}
    reference = node.get("$ref")
    if isinstance(reference, str) and reference.startswith(_COMPONENTS):
        name = reference.removeprefix(_COMPONENTS)
        found.add(name)
        copied["$ref"] = _DEFS + name
    return copied


@cache
def event_schema(type_name: str) -> dict[str, Any]:
    """The JSON Schema (2020-12) of the whole body sent for an event of this type.

    Its OpenAPI webhook's schema with every component it refers to, transitively, under `$defs`.
    Computed once per process (the catalog and the serializers do not change at runtime): do not
    mutate what it returns.
    """
    document = _openapi_document()
    components: dict[str, Any] = document["components"]["schemas"]
    body = document["webhooks"][type_name]["post"]["requestBody"]["content"]["application/json"]["schema"]
    root_name = body["$ref"].removeprefix(_COMPONENTS)
    definitions: dict[str, Any] = {}
    pending = {root_name}
    while pending:
        name = pending.pop()
        found: set[str] = set()
        definitions[name] = _with_refs(components[name], found)
        pending |= found - definitions.keys()
    root = definitions.pop(root_name)
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": type_name,
        **root,
        "$defs": dict(sorted(definitions.items())),
    }


def event_example(*, organization: Organization, type_name: str) -> dict[str, Any]:
    """A complete example body of this type, as it would be sent to this organization's endpoints.

    `data` is real: the test-event machinery serializes rows made (and rolled back) for it; the
    envelope is the one deliveries use, around an event that is never saved.
    """
    event_type = EVENT_TYPES[type_name]
    event = Event(
        organization=organization,
        type=type_name,
        object=event_type.object,
        data=example_data(organization=organization, type_name=type_name),
        created_at=timezone.now(),
    )
    return envelope(event)
