"""The central system's side of one OCPP 2.0.1 charger connection: the `ocpp` package's v2.0.1 ChargePoint.

Its handlers call the services 1.6J's do (`charge_point`), so that a session raises the same events
whatever its charger speaks. What 2.0.1 says differently is translated on the way: an EVSE is one of
our connectors and its statuses become 1.6's (`evse`); a transaction is numbered events, applied in
order (`transaction_events`); commands become RequestStartTransaction and RequestStopTransaction.
"""

from typing import Any

from ocpp.routing import on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action, IdTokenEnumType, RegistrationStatusEnumType

from ocpp_gateway import commands, evse, stations, transaction_events, transactions
from ocpp_gateway.central import CentralChargePoint, Connection, in_thread, now
from ocpp_gateway.meter import readings_parse


class GatewayChargePoint201(CentralChargePoint, ChargePoint):
    def __init__(
        self,
        *,
        endpoint: str,
        chargestation_id: int,
        organization_id: int,
        heartbeat_interval: int,
        connection: Connection,
    ) -> None:
        super().__init__(
            endpoint=endpoint,
            chargestation_id=chargestation_id,
            organization_id=organization_id,
            heartbeat_interval=heartbeat_interval,
            connection=connection,
        )
        # The last status of each (EVSE, connector) this connection heard: an EVSE's is made of them.
        self.connector_statuses: dict[tuple[int, int], str] = {}

    async def command_run(self, *, action: str, payload: dict[str, Any]) -> tuple[bool, str]:
        """Call the charger; (accepted, why not). Awaits its answer: run it as a task of its own.

        The gateway's payload (`remote`): its `id_tag` goes as a Central idToken, with the
        `remote_start_id` the transaction will quote and the EVSE (`connector_id`) when there is one.
        """
        if action == commands.REMOTE_START:
            request = call.RequestStartTransaction(
                id_token={"id_token": payload["id_tag"], "type": IdTokenEnumType.central},
                remote_start_id=int(payload["remote_start_id"]),
                evse_id=payload.get("connector_id"),
            )
        else:
            request = call.RequestStopTransaction(transaction_id=str(payload["transaction_id"]))
        return await self.command_call(request)

    @on(Action.boot_notification)
    async def on_boot_notification(
        self, charging_station: dict[str, Any], reason: str, **kwargs: Any
    ) -> call_result.BootNotification:
        station = await in_thread(stations.chargestation_boot)(
            chargestation_id=self.chargestation_id,
            vendor=charging_station["vendor_name"],
            model=charging_station["model"],
            charge_point_serial_number=charging_station.get("serial_number", ""),
            firmware_version=charging_station.get("firmware_version", ""),
        )
        self.heartbeat_interval = station.heartbeat_interval
        return call_result.BootNotification(
            current_time=now(),
            interval=station.heartbeat_interval,
            status=RegistrationStatusEnumType.accepted,
        )

    @on(Action.heartbeat)
    async def on_heartbeat(self, **kwargs: Any) -> call_result.Heartbeat:
        # The consumer records every message's time, this one included.
        return call_result.Heartbeat(current_time=now())

    @on(Action.status_notification)
    async def on_status_notification(
        self, connector_status: str, evse_id: int, connector_id: int, **kwargs: Any
    ) -> call_result.StatusNotification:
        self.connector_statuses[(evse_id, connector_id)] = connector_status
        status = evse.evse_status(s for (e, _), s in self.connector_statuses.items() if e == evse_id)
        await in_thread(evse.evse_status_record)(
            chargestation_id=self.chargestation_id, evse_id=evse_id, connector_status=status
        )
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_token: dict[str, Any], **kwargs: Any) -> call_result.Authorize:
        status = await in_thread(transactions.id_tag_status)(
            organization_id=self.organization_id,
            chargestation_id=self.chargestation_id,
            token=id_token["id_token"],
        )
        return call_result.Authorize(id_token_info={"status": status})

    @on(Action.transaction_event)
    async def on_transaction_event(self, **event: Any) -> call_result.TransactionEvent:
        status = await in_thread(transaction_events.transaction_event_receive)(
            chargestation_id=self.chargestation_id, event=event
        )
        return call_result.TransactionEvent(id_token_info=None if status is None else {"status": status})

    @on(Action.meter_values)
    async def on_meter_values(
        self, evse_id: int, meter_value: list[dict[str, Any]], **kwargs: Any
    ) -> call_result.MeterValues:
        # EVSE 0 is the station's main meter: no session's.
        if evse_id > 0:
            await in_thread(transactions.transaction_meter)(
                chargestation_id=self.chargestation_id,
                connector_number=evse_id,
                transaction_id=None,
                readings=readings_parse(meter_value),
            )
        return call_result.MeterValues()
