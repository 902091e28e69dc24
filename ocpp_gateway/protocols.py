"""The OCPP versions the gateway speaks: a chargestation's protocol is a WebSocket subprotocol, and
each has its ChargePoint class (the central system's side of one connection)."""

from typing import Any, Protocol

from chargestations.models import Protocol as StationProtocol
from ocpp_gateway.central import Connection
from ocpp_gateway.charge_point import GatewayChargePoint
from ocpp_gateway.charge_point_v201 import GatewayChargePoint201


class CentralSide(Protocol):
    """What the consumer needs of a connection's ChargePoint, whatever the OCPP version."""

    chargestation_id: int
    heartbeat_interval: int

    async def route_message(self, raw_msg: str) -> None: ...

    async def command_run(self, *, action: str, payload: dict[str, Any]) -> tuple[bool, str]: ...


class CentralSideClass(Protocol):
    def __call__(
        self,
        *,
        endpoint: str,
        chargestation_id: int,
        organization_id: int,
        heartbeat_interval: int,
        connection: Connection,
    ) -> CentralSide: ...


SUBPROTOCOLS: dict[str, str] = {StationProtocol.OCPP16: "ocpp1.6", StationProtocol.OCPP201: "ocpp2.0.1"}

CHARGE_POINTS: dict[str, CentralSideClass] = {
    "ocpp1.6": GatewayChargePoint,
    "ocpp2.0.1": GatewayChargePoint201,
}


def subprotocol_for(protocol: str) -> str | None:
    """The subprotocol a station of this protocol connects with; None when the gateway lacks it."""
    return SUBPROTOCOLS.get(protocol)
