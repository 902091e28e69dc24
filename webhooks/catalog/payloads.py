"""What an event carries (`data`) and the exact bytes sent for it (the envelope)."""

import json
from functools import cache
from typing import Any

from django.db.models import Model
from django.utils.module_loading import import_string
from rest_framework.serializers import Serializer

from edrv_project.times import utc_timestamp
from webhooks.catalog.charger_serializers import CHARGER_SERIALIZERS
from webhooks.catalog.representation import Representer
from webhooks.catalog.types import EVENT_TYPES, Envelope
from webhooks.models import Event

# The API serializer of each object: an event's `data` is the object's API representation.
SERIALIZERS = {
    "organization": "organizations.serializers.OrganizationSerializer",
    "location": "chargestations.serializers.LocationSerializer",
    "chargestation": "chargestations.serializers.ChargestationSerializer",
    "rate": "chargestations.serializers.RateSerializer",
    "user": "sessions_app.serializers.DriverSerializer",
    "session": "sessions_app.serializers.SessionSerializer",
    # Operational events: what the API shows of a webhook or a delivery, without its secrets.
    "webhook": "webhooks.catalog.operational_serializers.WebhookDataSerializer",
    "delivery": "webhooks.catalog.operational_serializers.DeliveryDataSerializer",
}


@cache
def _representer(object_name: str) -> Representer:
    """One serializer per object, built once: DRF builds a serializer's fields on first use, which
    costs more than representing an object with them. Representing keeps no state of its own
    between calls, so one instance serves every thread."""
    serializer: Serializer = import_string(SERIALIZERS[object_name])()
    return Representer(serializer)


def snapshot(*, object_name: str, subject: Model) -> dict[str, Any]:
    # Lists prefetched earlier (say, a station's connectors before one was added) would be stale:
    # a snapshot is the object as it is now. DRF's own update view clears this cache the same way.
    subject._prefetched_objects_cache = {}  # type: ignore[attr-defined]
    return _representer(object_name)(subject)


def event_data(*, type_name: str, subject: Model, changed: Model, snapshots: dict[str, Any]) -> Any:
    """The `data` of one event; eDRV snapshots are shared between the events of one change."""
    event_type = EVENT_TYPES[type_name]
    if event_type.envelope is Envelope.CHARGER:
        # The protocol's own compact shape, from the changed object (station, connector, session).
        return dict(CHARGER_SERIALIZERS[type_name](changed).data)
    if event_type.object not in snapshots:
        snapshots[event_type.object] = snapshot(object_name=event_type.object, subject=subject)
    return snapshots[event_type.object]


def envelope(event: Event) -> dict[str, Any]:
    if EVENT_TYPES[event.type].envelope is Envelope.CHARGER:
        return {"event": event.type, "timestamp": utc_timestamp(event.created_at), "data": event.data}
    return {
        "_id": event.public_id,
        "data": event.data,
        "object": event.object,
        "type": event.type,
        "createdAt": utc_timestamp(event.created_at),
    }


def body(event: Event) -> bytes:
    """The bytes sent, and signed, for an event: the same on every attempt."""
    return json.dumps(envelope(event), separators=(",", ":"), ensure_ascii=False).encode()
