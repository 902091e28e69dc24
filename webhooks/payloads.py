"""What an event carries (`data`) and the exact bytes sent for it (the envelope)."""

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.db.models import Model
from django.utils.module_loading import import_string

from webhooks.catalog import EVENT_TYPES, Envelope
from webhooks.models import Event

# The API serializer of each object: an event's `data` is the object's API representation.
SERIALIZERS = {
    "organization": "organizations.serializers.OrganizationSerializer",
    "location": "chargestations.serializers.LocationSerializer",
    "chargestation": "chargestations.serializers.ChargestationSerializer",
    "rate": "chargestations.serializers.RateSerializer",
    "user": "sessions_app.serializers.DriverSerializer",
    "session": "sessions_app.serializers.SessionSerializer",
}


def iso_timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as eDRV writes it: 2021-10-04T08:34:10.863Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def snapshot(*, object_name: str, subject: Model) -> dict[str, Any]:
    serializer_class = import_string(SERIALIZERS[object_name])
    # Lists prefetched earlier (say, a station's connectors before one was added) would be stale:
    # a snapshot is the object as it is now. DRF's own update view clears this cache the same way.
    subject._prefetched_objects_cache = {}  # type: ignore[attr-defined]
    return dict(serializer_class(subject).data)


def _station_endpoint(station: Any) -> str:
    return str(station.endpoint)


def _connected(subject: Any, changed: Any) -> dict[str, Any]:
    return {"chargeBoxId": _station_endpoint(subject)}


def _boot(subject: Any, changed: Any) -> dict[str, Any]:
    return {
        "chargeBoxId": _station_endpoint(subject),
        "chargePointVendor": subject.vendor,
        "chargePointModel": subject.model,
        "chargePointSerialNumber": subject.charge_point_serial_number,
        "chargeBoxSerialNumber": subject.charge_box_serial_number,
        "firmwareVersion": subject.firmware_version,
    }


def _connector_status(subject: Any, changed: Any) -> dict[str, Any]:
    return {
        "chargeBoxId": _station_endpoint(subject),
        "connectorId": changed.connector_number,
        "status": changed.status,
        "errorCode": changed.error_code,
    }


def _transaction(subject: Any, changed: Any) -> dict[str, Any]:
    metrics = subject.metrics or {}
    data: dict[str, Any] = {
        "transactionId": subject.transaction_id,
        "chargeBoxId": _station_endpoint(subject.chargestation),
        "connectorId": subject.connector.connector_number if subject.connector_id else None,
        "idTag": subject.id_tag,
        "meterStart": metrics.get("meterStart"),
    }
    return data


def _transaction_updated(subject: Any, changed: Any) -> dict[str, Any]:
    return {**_transaction(subject, changed), "energyReport": subject.energy_report}


def _transaction_stopped(subject: Any, changed: Any) -> dict[str, Any]:
    metrics = subject.metrics or {}
    return {
        **_transaction(subject, changed),
        "meterStop": metrics.get("meterStop"),
        "energyConsumed": metrics.get("energyConsumed"),
        "cost": {"amount": float(subject.cost_amount), "currency": subject.currency},
    }


# Charger-protocol events carry the protocol's own compact shape, built from the changed object.
CHARGER_DATA: dict[str, Callable[[Any, Any], dict[str, Any]]] = {
    "charger.connected": _connected,
    "charger.disconnected": _connected,
    "charger.boot": _boot,
    "connector.status_changed": _connector_status,
    "transaction.started": _transaction,
    "transaction.updated": _transaction_updated,
    "transaction.stopped": _transaction_stopped,
}


def event_data(*, type_name: str, subject: Model, changed: Model, snapshots: dict[str, Any]) -> Any:
    """The `data` of one event; eDRV snapshots are shared between the events of one change."""
    event_type = EVENT_TYPES[type_name]
    if event_type.envelope is Envelope.CHARGER:
        return CHARGER_DATA[type_name](subject, changed)
    if event_type.object not in snapshots:
        snapshots[event_type.object] = snapshot(object_name=event_type.object, subject=subject)
    return snapshots[event_type.object]


def envelope(event: Event) -> dict[str, Any]:
    if EVENT_TYPES[event.type].envelope is Envelope.CHARGER:
        return {"event": event.type, "timestamp": iso_timestamp(event.created_at), "data": event.data}
    return {
        "_id": event.public_id,
        "data": event.data,
        "object": event.object,
        "type": event.type,
        "createdAt": iso_timestamp(event.created_at),
    }


def body(event: Event) -> bytes:
    """The bytes sent, and signed, for an event: the same on every attempt."""
    return json.dumps(envelope(event), separators=(",", ":"), ensure_ascii=False).encode()
