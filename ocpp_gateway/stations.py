"""State changes from what a charger does and says: connect, disconnect, boot, status, silence.

The gateway calls these; the webhooks pipeline turns the saves into events (online/offline with
`charger.connected`/`charger.disconnected`, `charger.boot`, connector status). Saves name their
fields, so that a charger's message never overwrites what an operator changed meanwhile.

A connection is known by the moment it opened (`last_connect_at`): a charger that reconnects
before its old connection is noticed gone must not be taken offline by that old connection.
"""

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from chargestations import services
from chargestations.models import Chargestation, Connector
from ocpp_gateway import conf

logger = logging.getLogger(__name__)


def chargestation_for_endpoint(*, endpoint: str) -> Chargestation | None:
    """The active station a charger connecting as `endpoint` is; None refuses the connection."""
    return Chargestation.objects.filter(endpoint=endpoint, active=True).first()


@transaction.atomic
def chargestation_connect(*, chargestation_id: int) -> datetime:
    """The charger connected: online. Returns the connection's identity (its opening time)."""
    station = Chargestation.objects.select_for_update().get(pk=chargestation_id)
    now = timezone.now()
    station.online, station.last_connect_at, station.last_message_at = True, now, now
    station.save(update_fields=["online", "last_connect_at", "last_message_at", "updated_at"])
    logger.info("ocpp.chargestation.connected", extra={"chargestation_id": chargestation_id})
    return now


@transaction.atomic
def chargestation_disconnect(*, chargestation_id: int, connected_at: datetime) -> bool:
    """The connection opened at `connected_at` is gone: offline, unless a newer one took over."""
    station = Chargestation.objects.select_for_update().filter(pk=chargestation_id).first()
    if station is None or station.last_connect_at != connected_at:
        return False
    station.online, station.last_disconnect_at = False, timezone.now()
    station.save(update_fields=["online", "last_disconnect_at", "updated_at"])
    logger.info("ocpp.chargestation.disconnected", extra={"chargestation_id": chargestation_id})
    return True


def chargestation_seen(*, chargestation_id: int, connected_at: datetime) -> None:
    """The charger spoke: its last message time, and online again if silence had taken it offline.

    A plain UPDATE on the hot path: the last message time raises no event.
    """
    current = Chargestation.objects.filter(pk=chargestation_id, online=True, last_connect_at=connected_at)
    if not current.update(last_message_at=timezone.now()):
        _online_again(chargestation_id=chargestation_id, connected_at=connected_at)


@transaction.atomic
def _online_again(*, chargestation_id: int, connected_at: datetime) -> None:
    station = Chargestation.objects.select_for_update().filter(pk=chargestation_id).first()
    if station is not None and station.last_connect_at == connected_at and not station.online:
        station.online, station.last_message_at = True, timezone.now()
        station.save(update_fields=["online", "last_message_at", "updated_at"])


@transaction.atomic
def chargestation_boot(
    *,
    chargestation_id: int,
    vendor: str,
    model: str,
    charge_point_serial_number: str = "",
    charge_box_serial_number: str = "",
    firmware_version: str = "",
) -> Chargestation:
    """BootNotification: the boot information and its time, in one save (one `charger.boot`)."""
    station = Chargestation.objects.select_for_update().get(pk=chargestation_id)
    station.vendor, station.model = vendor[:50], model[:50]
    station.charge_point_serial_number = charge_point_serial_number[:50]
    station.charge_box_serial_number = charge_box_serial_number[:50]
    station.firmware_version = firmware_version[:50]
    station.last_boot_at = timezone.now()
    station.save(
        update_fields=[
            "vendor",
            "model",
            "charge_point_serial_number",
            "charge_box_serial_number",
            "firmware_version",
            "last_boot_at",
            "updated_at",
        ]
    )
    return station


def connector_for(*, chargestation: Chargestation, number: int) -> Connector:
    """The station's connector with this number; one the charger reports but we lack is added."""
    connector = Connector.objects.filter(chargestation=chargestation, connector_number=number).first()
    return connector or services.connector_create(chargestation=chargestation, connector_number=number)


@transaction.atomic
def connector_status_record(
    *, chargestation_id: int, connector_number: int, status: str, error_code: str
) -> None:
    """StatusNotification: the connector's status; connector 0 stands for the whole station."""
    station = Chargestation.objects.get(pk=chargestation_id)
    if connector_number == 0:
        connectors = list(Connector.objects.select_for_update().filter(chargestation=station))
    else:
        connectors = [connector_for(chargestation=station, number=connector_number)]
    for connector in connectors:
        if (connector.status, connector.error_code) != (status, error_code):
            connector.status, connector.error_code = status, error_code[:50]
            connector.save(update_fields=["status", "error_code", "updated_at"])


def chargestations_silent_offline() -> int:
    """Take offline the stations silent for longer than their heartbeat allows (a lost process).

    Stations that never spoke OCPP have no last message or connection time: left alone.
    """
    now = timezone.now()
    silent = []
    for pk, interval, last_message, last_connect in Chargestation.objects.filter(online=True).values_list(
        "pk", "heartbeat_interval", "last_message_at", "last_connect_at"
    ):
        seen = max((t for t in (last_message, last_connect) if t is not None), default=None)
        if seen is not None and now - seen > timedelta(seconds=conf.silence_factor() * interval):
            silent.append(pk)
    return sum(_offline_if_silent(chargestation_id=pk, now=now) for pk in silent)


@transaction.atomic
def _offline_if_silent(*, chargestation_id: int, now: datetime) -> bool:
    station = Chargestation.objects.select_for_update().filter(pk=chargestation_id, online=True).first()
    if station is None:
        return False
    seen = station.last_message_at or station.last_connect_at
    if seen is None or now - seen <= timedelta(seconds=conf.silence_factor() * station.heartbeat_interval):
        return False
    station.online, station.last_disconnect_at = False, now
    station.save(update_fields=["online", "last_disconnect_at", "updated_at"])
    logger.info("ocpp.chargestation.silent", extra={"chargestation_id": chargestation_id})
    return True
