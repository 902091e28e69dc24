"""`manage.py simulate_charger DEMO-CP-001`: a charger that connects, boots and charges once.

It speaks OCPP 1.6J, or 2.0.1 with `--protocol ocpp2.0.1` (the station's `protocol` must say the
same: the gateway refuses a subprotocol the station does not speak).

With `--stay` it then keeps its connection, heartbeats and answers remote starts (charging again
each time) and remote stops, until Ctrl-C: try `POST /api/v1/sessions` against it.

It authenticates as chargers do (OCPP security profiles 1 and 2): HTTP Basic, user the endpoint,
password the station's authorization key (`--authorization-key`, or OCPP_AUTHORIZATION_KEY in the
environment, which keeps it out of the process list).
"""

import asyncio
import base64
import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from ocpp_gateway.simulator import SimulatedCharger
from ocpp_gateway.simulator_v201 import SimulatedCharger201

CHARGERS: dict[str, type[SimulatedCharger] | type[SimulatedCharger201]] = {
    "ocpp1.6": SimulatedCharger,
    "ocpp2.0.1": SimulatedCharger201,
}


class Command(BaseCommand):
    help = "Run a simulated OCPP 1.6J or 2.0.1 charger against the gateway: boot, status, one session."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("endpoint", help="The chargestation's endpoint (its OCPP identity).")
        parser.add_argument("--url", default="ws://127.0.0.1:8000/ocpp/", help="The gateway's base URL.")
        parser.add_argument("--id-tag", default="DEMO-RFID-0001", help="The token the session starts with.")
        parser.add_argument(
            "--protocol",
            choices=sorted(CHARGERS),
            default="ocpp1.6",
            help="The OCPP version it speaks: the station's `protocol`.",
        )
        parser.add_argument("--connector", type=int, default=1, help="The connector (2.0.1: the EVSE).")
        parser.add_argument("--readings", type=int, default=5, help="Meter values sent while charging.")
        parser.add_argument("--interval", type=float, default=2.0, help="Seconds between meter values.")
        parser.add_argument("--power", type=float, default=11.0, help="Charging power in kW.")
        parser.add_argument("--stay", action="store_true", help="Stay connected and answer remote commands.")
        parser.add_argument(
            "--authorization-key",
            default=os.environ.get("OCPP_AUTHORIZATION_KEY", ""),
            help="The station's authorization key (default: OCPP_AUTHORIZATION_KEY from the environment). "
            "Without one the charger connects unauthenticated, which only a station without a key may, "
            "and only while the gateway allows it (OCPP_ALLOW_UNSECURED).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            asyncio.run(self._run(options))
        except InvalidStatus as exc:
            if exc.response.status_code == 401:
                given = "the key given" if options["authorization_key"] else "no authorization key"
                raise CommandError(
                    f"The gateway refused {options['endpoint']} with {given} (HTTP 401). Pass the station's "
                    "key with --authorization-key or OCPP_AUTHORIZATION_KEY; generate one with POST "
                    "/api/v1/chargestations/:id/authorization-key or on the station's dashboard page."
                ) from exc
            raise CommandError(f"The gateway refused the connection: {exc}") from exc
        except OSError as exc:
            raise CommandError(f"Cannot reach the gateway at {options['url']}: {exc}") from exc
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")

    async def _run(self, options: dict[str, Any]) -> None:
        url = options["url"].rstrip("/") + "/" + options["endpoint"]
        charge = {
            "readings": options["readings"],
            "interval": options["interval"],
            "power_w": options["power"] * 1000,
        }
        headers = basic_authorization(options["endpoint"], options["authorization_key"])
        async with connect(
            url, subprotocols=[Subprotocol(options["protocol"])], additional_headers=headers
        ) as websocket:
            charger = CHARGERS[options["protocol"]](options["endpoint"], websocket, auto_charge=charge)
            listening = asyncio.create_task(charger.start())
            boot = await charger.boot()
            self.stdout.write(f"Connected to {url}; boot {boot.status}, heartbeat every {boot.interval} s.")
            await charger.status("Available", options["connector"])
            transaction_id = await charger.charge(
                id_tag=options["id_tag"], connector_id=options["connector"], **charge
            )
            self.stdout.write(f"Charged once (transaction {transaction_id}).")
            if options["stay"]:
                self.stdout.write("Staying connected: answering remote starts and stops. Ctrl-C to stop.")
                await asyncio.gather(listening, charger.heartbeats())
            listening.cancel()


def basic_authorization(endpoint: str, key: str) -> dict[str, str]:
    """The handshake's Authorization header (none without a key)."""
    if not key:
        return {}
    return {"Authorization": "Basic " + base64.b64encode(f"{endpoint}:{key}".encode()).decode()}
