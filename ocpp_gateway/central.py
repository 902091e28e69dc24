"""What the central system's side of a connection is, whatever the OCPP version it speaks.

`CentralChargePoint` is the `ocpp` package's ChargePoint with the gateway's constructor, its answer
to messages that are not OCPP-J at all (a CallError: the package would only log them), and its way
of calling the charger (an answer, or why not). Each version's class (`charge_point` for 1.6J,
`charge_point_v201` for 2.0.1) adds the package's version class and its `@on` handlers.
"""

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from channels.db import database_sync_to_async
from ocpp.charge_point import ChargePoint
from ocpp.exceptions import OCPPError, UnknownCallErrorCodeError
from ocpp.messages import CallError, unpack

from ocpp_gateway import conf

logger = logging.getLogger(__name__)
# Every frame in and out, as the ocpp package logs them (INFO): silence this logger to quiet them.
frames_logger = logging.getLogger("ocpp_gateway.frames")

T = TypeVar("T")


class Connection(Protocol):
    async def send(self, message: str) -> None: ...


def in_thread(function: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """A service, run where Django's database code may run (and its connections are tidied)."""
    return database_sync_to_async(function)


def now() -> str:
    """Our clock, as OCPP writes times (CurrentTime of BootNotification and Heartbeat)."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _unique_id(raw: str) -> str:
    """The message id of a message we could not read, when there is one; OCPP's "-1" otherwise."""
    try:
        message = json.loads(raw)
    except ValueError:
        return "-1"
    if isinstance(message, list) and len(message) > 1 and isinstance(message[1], str):
        return message[1]
    return "-1"


class CentralChargePoint(ChargePoint):
    """Put it before the package's version class: `class X(CentralChargePoint, v16.ChargePoint)`."""

    def __init__(
        self,
        *,
        endpoint: str,
        chargestation_id: int,
        organization_id: int,
        heartbeat_interval: int,
        connection: Connection,
    ) -> None:
        super().__init__(endpoint, connection, response_timeout=conf.command_timeout(), logger=frames_logger)
        self.chargestation_id = chargestation_id
        self.organization_id = organization_id
        self.heartbeat_interval = heartbeat_interval

    async def route_message(self, raw_msg: str) -> None:
        try:
            unpack(raw_msg)
        except OCPPError as error:
            logger.info("ocpp.message.unreadable", extra={"endpoint": self.id, "error": error.code})
            reply = CallError(_unique_id(raw_msg), error.code, error.description, error.details)
            await self._send(reply.to_json())
            return
        await super().route_message(raw_msg)

    async def command_call(self, request: Any) -> tuple[bool, str]:
        """Send a command whose answer has a `status`; (accepted, why not)."""
        try:
            result = await self.call(request, suppress=False)
        except TimeoutError:
            return False, f"The chargestation did not answer within {self._response_timeout:g} seconds."
        except (OCPPError, UnknownCallErrorCodeError) as error:
            return False, f"The chargestation answered with an error: {error}"[:200]
        if result.status == "Accepted":
            return True, ""
        return False, f"The chargestation answered {result.status}."
