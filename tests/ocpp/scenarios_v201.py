"""The canonical session of `scenarios` told by an OCPP 2.0.1 charger, and what to compare across versions."""

import json
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from ocpp_gateway.simulator_v201 import SimulatedCharger201
from sessions_app.models import Session
from tests.ocpp.scenarios import T0, Network

SUBPROTOCOL = "ocpp2.0.1"


def v201(network: Network) -> dict[str, Any]:
    """`charger_at` keywords for a 2.0.1 charger of the network's station."""
    return {
        "authorization_key": network.authorization_key,
        "subprotocol": SUBPROTOCOL,
        "charger_class": SimulatedCharger201,
    }


async def session_charge_v201(charger: SimulatedCharger201, tag: str) -> str:
    """`scenarios.session_charge` over 2.0.1: it raises SESSION_EVENTS (without the connection's own).

    Occupied is 1.6's Preparing; the charging state Charging, its Charging; the Ended, Finishing.
    """
    await charger.boot(vendor="ACME", model="AC22", serial_number="SN-1", firmware_version="1.2.3")
    await charger.status("Available")
    await charger.status("Occupied")
    assert await charger.authorize(tag) == "Accepted"
    transaction_id = await charger.start_transaction(tag, meter_start=1000, at=T0)
    await charger.charging_state(transaction_id, "Charging", at=T0)
    await charger.meter(transaction_id, energy_wh=6500, power_w=11000, at=T0 + timedelta(minutes=30))
    await charger.meter(transaction_id, energy_wh=12000, power_w=11000, at=T0 + timedelta(minutes=60))
    await charger.stop_transaction(transaction_id, meter_stop=12000, at=T0 + timedelta(minutes=60))
    await charger.status("Available")
    return transaction_id


TRANSACTION_ID_KEYS = ("transaction_id", "transactionId")


def comparable(data: dict[str, Any], network: Network) -> dict[str, Any]:
    """An event's data with the network's own ids as placeholders, its times of writing and its
    transaction id left out: what must be the same whatever the network and the protocol."""
    text = json.dumps(data)
    names = {
        network.station.public_id: "<station>",
        network.station.endpoint: "<endpoint>",
        network.connector.public_id: "<connector>",
        network.rate.public_id: "<rate>",
        network.driver.public_id: "<user>",
        network.tag: "<tag>",
        **{public_id: "<session>" for public_id in Session.objects.values_list("public_id", flat=True)},
    }
    for value, name in names.items():
        text = text.replace(f'"{value}"', f'"{name}"')
    return {
        key: value
        for key, value in json.loads(text).items()
        if key not in ("createdAt", "updatedAt", *TRANSACTION_ID_KEYS)
    }


def transaction_ids(events: Iterable[dict[str, Any]]) -> list[Any]:
    return [data[key] for data in events for key in TRANSACTION_ID_KEYS if key in data]
