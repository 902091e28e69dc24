"""The central system's side of one OCPP 1.6J charger connection: the `ocpp` package's v1.6 ChargePoint.

Each `@on` handler turns a charger message into one service call (run in a thread: services are
synchronous Django code) and answers. Invalid payloads never reach a handler: the package checks
them against the OCPP schemas and answers a CallError itself, the connection staying up. Messages
that are not OCPP-J at all get a CallError too (`central`).
"""

from typing import Any

from ocpp.exceptions import PropertyConstraintViolationError
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.datatypes import IdTagInfo
from ocpp.v16.enums import Action, AuthorizationStatus, ChargePointStatus, RegistrationStatus

from ocpp_gateway import commands, stations, transactions
from ocpp_gateway.central import CentralChargePoint, in_thread, now
from ocpp_gateway.meter import charger_time, readings_parse


def _text(value: int | None) -> str | None:
    return None if value is None else str(value)


class GatewayChargePoint(CentralChargePoint, ChargePoint):
    async def command_run(self, *, action: str, payload: dict[str, Any]) -> tuple[bool, str]:
        """Call the charger; (accepted, why not). Awaits its answer: run it as a task of its own.

        `payload` is the gateway's, whatever the protocol (`remote`): `id_tag`, `connector_id` when
        there is one, and `remote_start_id` (unused in 1.6J) to start; `transaction_id` to stop.
        """
        if action == commands.REMOTE_START:
            request = call.RemoteStartTransaction(
                id_tag=payload["id_tag"], connector_id=payload.get("connector_id")
            )
        else:
            request = call.RemoteStopTransaction(transaction_id=int(payload["transaction_id"]))
        return await self.command_call(request)

    async def _tag_status(self, id_tag: str) -> AuthorizationStatus:
        status = await in_thread(transactions.id_tag_status)(
            organization_id=self.organization_id, chargestation_id=self.chargestation_id, token=id_tag
        )
        return AuthorizationStatus(status)

    @on(Action.boot_notification)
    async def on_boot_notification(
        self, charge_point_vendor: str, charge_point_model: str, **kwargs: Any
    ) -> call_result.BootNotification:
        station = await in_thread(stations.chargestation_boot)(
            chargestation_id=self.chargestation_id,
            vendor=charge_point_vendor,
            model=charge_point_model,
            charge_point_serial_number=kwargs.get("charge_point_serial_number", ""),
            charge_box_serial_number=kwargs.get("charge_box_serial_number", ""),
            firmware_version=kwargs.get("firmware_version", ""),
        )
        self.heartbeat_interval = station.heartbeat_interval
        return call_result.BootNotification(
            current_time=now(), interval=station.heartbeat_interval, status=RegistrationStatus.accepted
        )

    @on(Action.heartbeat)
    async def on_heartbeat(self, **kwargs: Any) -> call_result.Heartbeat:
        # The consumer records every message's time, this one included.
        return call_result.Heartbeat(current_time=now())

    @on(Action.status_notification)
    async def on_status_notification(
        self, connector_id: int, error_code: str, status: str, **kwargs: Any
    ) -> call_result.StatusNotification:
        await in_thread(stations.connector_status_record)(
            chargestation_id=self.chargestation_id,
            connector_number=connector_id,
            status=status,
            error_code=error_code,
        )
        if status == ChargePointStatus.suspended_ev and connector_id > 0:
            await in_thread(transactions.session_ev_charged)(
                chargestation_id=self.chargestation_id,
                connector_number=connector_id,
                at=charger_time(kwargs.get("timestamp")),
            )
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_tag: str, **kwargs: Any) -> call_result.Authorize:
        return call_result.Authorize(id_tag_info=IdTagInfo(status=await self._tag_status(id_tag)))

    @on(Action.start_transaction)
    async def on_start_transaction(
        self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **kwargs: Any
    ) -> call_result.StartTransaction:
        if connector_id < 1:
            raise PropertyConstraintViolationError(details={"cause": "connectorId must be 1 or more."})
        transaction_id, status = await in_thread(transactions.transaction_start)(
            chargestation_id=self.chargestation_id,
            connector_number=connector_id,
            id_tag=id_tag,
            meter_start=meter_start,
            timestamp=charger_time(timestamp),
        )
        return call_result.StartTransaction(
            transaction_id=int(transaction_id), id_tag_info=IdTagInfo(status=AuthorizationStatus(status))
        )

    @on(Action.meter_values)
    async def on_meter_values(
        self, connector_id: int, meter_value: list[dict[str, Any]], **kwargs: Any
    ) -> call_result.MeterValues:
        await in_thread(transactions.transaction_meter)(
            chargestation_id=self.chargestation_id,
            connector_number=connector_id,
            transaction_id=_text(kwargs.get("transaction_id")),
            readings=readings_parse(meter_value),
        )
        return call_result.MeterValues()

    @on(Action.stop_transaction)
    async def on_stop_transaction(
        self, meter_stop: int, timestamp: str, transaction_id: int, **kwargs: Any
    ) -> call_result.StopTransaction:
        await in_thread(transactions.transaction_stop)(
            chargestation_id=self.chargestation_id,
            transaction_id=str(transaction_id),
            meter_stop=meter_stop,
            timestamp=charger_time(timestamp),
        )
        id_tag = kwargs.get("id_tag")
        info = IdTagInfo(status=await self._tag_status(id_tag)) if id_tag else None
        return call_result.StopTransaction(id_tag_info=info)
