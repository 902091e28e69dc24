"""A charger built on the `ocpp` package's v1.6 ChargePoint: the demo's, and the tests'.

It speaks over any connection with `send(str)` and `recv() -> str` (a `websockets` client, or a
test's in-process adapter). Its calls return what the central system answered; commands it
receives are queued for whoever drives it, and answered as `Answers` says.

    charger = SimulatedCharger("DEMO-CP-001", websocket)
    asyncio.create_task(charger.start())
    await charger.boot()
    await charger.charge(id_tag="DEMO-RFID-0001", readings=5, interval=2, power_w=11000)
"""

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action, RemoteStartStopStatus

from edrv_project.times import utc_timestamp

logger = logging.getLogger(__name__)


@dataclass
class Answers:
    """How the charger answers commands; a delay past the gateway's timeout is no answer at all."""

    remote_start: str = RemoteStartStopStatus.accepted
    remote_stop: str = RemoteStartStopStatus.accepted
    delay: float = 0.0


def ocpp_time(moment: datetime | None = None) -> str:
    return utc_timestamp(moment or datetime.now(UTC))


class Simulated:
    """What the simulated chargers of every OCPP version share: how they answer the central
    system's commands, the queues of the commands received, and their heartbeat loop."""

    def _simulated_init(self, answers: Answers | None, auto_charge: dict[str, Any] | None) -> None:
        self.answers = answers or Answers()
        self.auto_charge = auto_charge  # charge() keyword arguments after an accepted remote start
        self.remote_starts: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.remote_stops: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.heartbeat_interval = 300  # until a boot's answer says otherwise

    async def heartbeat(self) -> Any:
        raise NotImplementedError

    async def heartbeats(self) -> None:
        """Heartbeat at the interval the central system gave at boot, until cancelled."""
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            await self.heartbeat()


class SimulatedCharger(Simulated, ChargePoint):
    def __init__(
        self,
        endpoint: str,
        connection: Any,
        *,
        answers: Answers | None = None,
        auto_charge: dict[str, Any] | None = None,
        response_timeout: float = 30,
    ) -> None:
        super().__init__(endpoint, connection, response_timeout=response_timeout, logger=logger)
        self._simulated_init(answers, auto_charge)
        self.stop_requested: set[int] = set()

    # The charger's messages.

    async def boot(self, vendor: str = "eDRV", model: str = "Simulator", **extra: Any) -> Any:
        result = await self.call(
            call.BootNotification(charge_point_vendor=vendor, charge_point_model=model, **extra)
        )
        self.heartbeat_interval = result.interval
        return result

    async def heartbeat(self) -> Any:
        return await self.call(call.Heartbeat())

    async def status(
        self, status: str, connector_id: int = 1, error_code: str = "NoError", at: datetime | None = None
    ) -> Any:
        return await self.call(
            call.StatusNotification(
                connector_id=connector_id, error_code=error_code, status=status, timestamp=ocpp_time(at)
            )
        )

    async def authorize(self, id_tag: str) -> str:
        result = await self.call(call.Authorize(id_tag=id_tag))
        return str(result.id_tag_info["status"])

    async def start_transaction(
        self, id_tag: str, connector_id: int = 1, meter_start: int = 0, at: datetime | None = None
    ) -> int:
        result = await self.call(
            call.StartTransaction(
                connector_id=connector_id, id_tag=id_tag, meter_start=meter_start, timestamp=ocpp_time(at)
            )
        )
        return int(result.transaction_id)

    async def meter(
        self,
        transaction_id: int,
        *,
        energy_wh: float,
        power_w: float,
        connector_id: int = 1,
        at: datetime | None = None,
    ) -> Any:
        samples = [
            {"value": f"{energy_wh:.0f}", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
            {"value": f"{power_w:.0f}", "measurand": "Power.Active.Import", "unit": "W"},
            {"value": f"{power_w / 230 / 3:.1f}", "measurand": "Current.Import", "unit": "A"},
        ]
        return await self.call(
            call.MeterValues(
                connector_id=connector_id,
                transaction_id=transaction_id,
                meter_value=[{"timestamp": ocpp_time(at), "sampledValue": samples}],
            )
        )

    async def stop_transaction(
        self, transaction_id: int, meter_stop: int, reason: str = "Local", at: datetime | None = None
    ) -> Any:
        return await self.call(
            call.StopTransaction(
                transaction_id=transaction_id, meter_stop=meter_stop, timestamp=ocpp_time(at), reason=reason
            )
        )

    async def charge(
        self,
        *,
        id_tag: str,
        connector_id: int = 1,
        readings: int = 5,
        interval: float = 2.0,
        power_w: float = 11000,
    ) -> int:
        """A whole session: plug in, start, meter values every `interval` seconds, stop, unplug."""
        await self.status("Preparing", connector_id)
        transaction_id = await self.start_transaction(id_tag, connector_id)
        await self.status("Charging", connector_id)
        energy = 0.0
        for _ in range(readings):
            if transaction_id in self.stop_requested:
                break
            await asyncio.sleep(interval)
            energy += power_w * interval / 3600
            await self.meter(transaction_id, energy_wh=energy, power_w=power_w, connector_id=connector_id)
        remote = transaction_id in self.stop_requested
        await self.stop_transaction(transaction_id, round(energy), reason="Remote" if remote else "Local")
        await self.status("Finishing", connector_id)
        await self.status("Available", connector_id)
        return transaction_id

    # Commands from the central system.

    @on(Action.remote_start_transaction)
    async def on_remote_start_transaction(self, id_tag: str, **kwargs: Any) -> Any:
        await self.remote_starts.put({"id_tag": id_tag, **kwargs})
        await asyncio.sleep(self.answers.delay)
        return call_result.RemoteStartTransaction(status=self.answers.remote_start)

    @after(Action.remote_start_transaction)
    async def after_remote_start_transaction(self, id_tag: str, **kwargs: Any) -> None:
        if self.auto_charge is not None and self.answers.remote_start == RemoteStartStopStatus.accepted:
            connector_id = kwargs.get("connector_id") or 1
            await self.charge(id_tag=id_tag, connector_id=connector_id, **self.auto_charge)

    @on(Action.remote_stop_transaction)
    async def on_remote_stop_transaction(self, transaction_id: int, **kwargs: Any) -> Any:
        await self.remote_stops.put({"transaction_id": transaction_id})
        await asyncio.sleep(self.answers.delay)
        if self.answers.remote_stop == RemoteStartStopStatus.accepted:
            self.stop_requested.add(transaction_id)
        return call_result.RemoteStopTransaction(status=self.answers.remote_stop)
