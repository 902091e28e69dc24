"""A charger built on the `ocpp` package's v2.0.1 ChargePoint: `simulator`'s twin for OCPP 2.0.1.

It has the public methods of `SimulatedCharger` (boot, heartbeat, status, authorize,
start_transaction, meter, stop_transaction, charge, heartbeats; `remote_starts`, `remote_stops`,
`Answers`, `auto_charge`), saying them the 2.0.1 way: a status is an EVSE's connector's (Available,
Occupied, Reserved, Unavailable, Faulted), a transaction is the charger's own id and numbered
TransactionEvents. `transaction_event` sends any one of those (tests send queued, out-of-order and
repeated ones with it).

    charger = SimulatedCharger201("DEMO-CP-001", websocket)
    asyncio.create_task(charger.start())
    await charger.boot()
    await charger.status("Available")
    await charger.charge(id_tag="DEMO-RFID-0001", readings=5, interval=2, power_w=11000)
"""

import asyncio
import logging
import uuid
from datetime import datetime
from typing import Any

from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action, RequestStartStopStatusEnumType

from ocpp_gateway.simulator import Answers, Simulated, ocpp_time

logger = logging.getLogger(__name__)

ENERGY = "Energy.Active.Import.Register"


def meter_value(
    *, energy_wh: float, power_w: float | None = None, at: datetime | None = None, context: str | None = None
) -> dict[str, Any]:
    """One sampled moment: the energy register, and power and current per phase when `power_w`."""
    samples: list[dict[str, Any]] = [
        {"value": round(energy_wh), "measurand": ENERGY, "unit_of_measure": {"unit": "Wh"}}
    ]
    if power_w is not None:
        samples += [
            {"value": round(power_w), "measurand": "Power.Active.Import", "unit_of_measure": {"unit": "W"}},
            {
                "value": round(power_w / 230 / 3, 1),
                "measurand": "Current.Import",
                "unit_of_measure": {"unit": "A"},
            },
        ]
    if context is not None:
        samples = [{**sample, "context": context} for sample in samples]
    return {"timestamp": ocpp_time(at), "sampled_value": samples}


class SimulatedCharger201(Simulated, ChargePoint):
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
        self.stop_requested: set[str] = set()
        self.next_seq_no: dict[str, int] = {}

    # The charger's messages.

    async def boot(
        self,
        vendor: str = "eDRV",
        model: str = "Simulator",
        *,
        serial_number: str | None = None,
        firmware_version: str | None = None,
        reason: str = "PowerUp",
    ) -> Any:
        station = {
            "vendor_name": vendor,
            "model": model,
            "serial_number": serial_number,
            "firmware_version": firmware_version,
        }
        result = await self.call(
            call.BootNotification(
                charging_station={k: v for k, v in station.items() if v is not None}, reason=reason
            )
        )
        self.heartbeat_interval = result.interval
        return result

    async def heartbeat(self) -> Any:
        return await self.call(call.Heartbeat())

    async def status(
        self, status: str, evse_id: int = 1, *, connector_id: int = 1, at: datetime | None = None
    ) -> Any:
        """The status of connector `connector_id` of EVSE `evse_id` (the gateway's connector number)."""
        return await self.call(
            call.StatusNotification(
                timestamp=ocpp_time(at), connector_status=status, evse_id=evse_id, connector_id=connector_id
            )
        )

    async def authorize(self, id_tag: str) -> str:
        result = await self.call(call.Authorize(id_token={"id_token": id_tag, "type": "ISO14443"}))
        return str(result.id_token_info["status"])

    async def transaction_event(
        self,
        event_type: str,
        transaction_id: str,
        *,
        trigger_reason: str,
        at: datetime | None = None,
        seq_no: int | None = None,
        offline: bool = False,
        **details: Any,
    ) -> Any:
        """One TransactionEvent, numbered after the transaction's last unless `seq_no` says otherwise.

        `details`: the TransactionEvent's optional fields (`meter_value`, `id_token`, `evse`), and
        the transaction's (`charging_state`, `stopped_reason`, `remote_start_id`).
        """
        if seq_no is None:
            seq_no = self.next_seq_no.get(transaction_id, 0)
        self.next_seq_no[transaction_id] = max(self.next_seq_no.get(transaction_id, 0), seq_no + 1)
        info = {"transaction_id": transaction_id}
        for name in ("charging_state", "stopped_reason", "remote_start_id"):
            if details.get(name) is not None:
                info[name] = details.pop(name)
        return await self.call(
            call.TransactionEvent(
                event_type=event_type,
                timestamp=ocpp_time(at),
                trigger_reason=trigger_reason,
                seq_no=seq_no,
                transaction_info=info,
                offline=offline or None,
                **{name: value for name, value in details.items() if value is not None},
            )
        )

    async def start_transaction(
        self,
        id_tag: str,
        evse_id: int = 1,
        meter_start: int = 0,
        at: datetime | None = None,
        *,
        remote_start_id: int | None = None,
    ) -> str:
        """Started, with the cable in and the driver known: our transaction id."""
        transaction_id = str(uuid.uuid4())
        await self.transaction_event(
            "Started",
            transaction_id,
            trigger_reason="RemoteStart" if remote_start_id is not None else "Authorized",
            at=at,
            charging_state="EVConnected",
            remote_start_id=remote_start_id,
            id_token={"id_token": id_tag, "type": "Central" if remote_start_id is not None else "ISO14443"},
            evse={"id": evse_id, "connector_id": 1},
            meter_value=[meter_value(energy_wh=meter_start, at=at, context="Transaction.Begin")],
        )
        return transaction_id

    async def charging_state(self, transaction_id: str, state: str, at: datetime | None = None) -> Any:
        """The car started or paused drawing power (Charging, SuspendedEV, SuspendedEVSE...)."""
        return await self.transaction_event(
            "Updated", transaction_id, trigger_reason="ChargingStateChanged", at=at, charging_state=state
        )

    async def meter(
        self, transaction_id: str, *, energy_wh: float, power_w: float, at: datetime | None = None
    ) -> Any:
        return await self.transaction_event(
            "Updated",
            transaction_id,
            trigger_reason="MeterValuePeriodic",
            at=at,
            meter_value=[meter_value(energy_wh=energy_wh, power_w=power_w, at=at, context="Sample.Periodic")],
        )

    async def meter_values(
        self, *, energy_wh: float, power_w: float, evse_id: int = 1, at: datetime | None = None
    ) -> Any:
        """A MeterValues message of an EVSE (outside its TransactionEvents)."""
        return await self.call(
            call.MeterValues(
                evse_id=evse_id,
                meter_value=[meter_value(energy_wh=energy_wh, power_w=power_w, at=at)],
            )
        )

    async def stop_transaction(
        self, transaction_id: str, meter_stop: int, reason: str = "Local", at: datetime | None = None
    ) -> Any:
        """Ended, the cable still in (`reason`: 1.6's Local or Remote, which 2.0.1 also has)."""
        return await self.transaction_event(
            "Ended",
            transaction_id,
            trigger_reason="RemoteStop" if reason == "Remote" else "StopAuthorized",
            at=at,
            charging_state="EVConnected",
            stopped_reason=reason,
            meter_value=[meter_value(energy_wh=meter_stop, at=at, context="Transaction.End")],
        )

    async def charge(
        self,
        *,
        id_tag: str,
        connector_id: int = 1,
        readings: int = 5,
        interval: float = 2.0,
        power_w: float = 11000,
        remote_start_id: int | None = None,
    ) -> str:
        """A whole session: plug in, start, charge with meter values every `interval` s, stop, unplug.

        `connector_id` is the EVSE (as the gateway numbers connectors), named so as in `SimulatedCharger`.
        """
        await self.status("Occupied", connector_id)
        transaction_id = await self.start_transaction(id_tag, connector_id, remote_start_id=remote_start_id)
        await self.charging_state(transaction_id, "Charging")
        energy = 0.0
        for _ in range(readings):
            if transaction_id in self.stop_requested:
                break
            await asyncio.sleep(interval)
            energy += power_w * interval / 3600
            await self.meter(transaction_id, energy_wh=energy, power_w=power_w)
        remote = transaction_id in self.stop_requested
        await self.stop_transaction(transaction_id, round(energy), reason="Remote" if remote else "Local")
        await self.status("Available", connector_id)
        return transaction_id

    # Commands from the central system.

    @on(Action.request_start_transaction)
    async def on_request_start_transaction(
        self, id_token: dict[str, Any], remote_start_id: int, **kwargs: Any
    ) -> Any:
        await self.remote_starts.put({"id_token": id_token, "remote_start_id": remote_start_id, **kwargs})
        await asyncio.sleep(self.answers.delay)
        return call_result.RequestStartTransaction(status=self.answers.remote_start)

    @after(Action.request_start_transaction)
    async def after_request_start_transaction(
        self, id_token: dict[str, Any], remote_start_id: int, **kwargs: Any
    ) -> None:
        accepted = self.answers.remote_start == RequestStartStopStatusEnumType.accepted
        if self.auto_charge is not None and accepted:
            await self.charge(
                id_tag=id_token["id_token"],
                connector_id=kwargs.get("evse_id") or 1,
                remote_start_id=remote_start_id,
                **self.auto_charge,
            )

    @on(Action.request_stop_transaction)
    async def on_request_stop_transaction(self, transaction_id: str, **kwargs: Any) -> Any:
        await self.remote_stops.put({"transaction_id": transaction_id})
        await asyncio.sleep(self.answers.delay)
        if self.answers.remote_stop == RequestStartStopStatusEnumType.accepted:
            self.stop_requested.add(transaction_id)
        return call_result.RequestStopTransaction(status=self.answers.remote_stop)
