"""One charger's WebSocket: the handshake, its messages, commands for it, and its silence.

Channels hands this consumer the charger's frames and the channel layer's messages one at a
time, on one loop. A command therefore runs as a task of its own: awaited here, the charger's
answer (a frame) could never be read, since reading it is this loop's next step.

The handshake authenticates the charger (`auth`) before anything else: a refused one is answered
before the socket is accepted, without a word to the channel layer (a connected charger of the same
station is left alone) and without a write (no event). It is an HTTP 401 asking for Basic credentials
where the server offers ASGI's denial response (`websocket.http.response`, as uvicorn does); elsewhere
the server answers a closed handshake with a 403.
"""

import asyncio
import logging
from collections.abc import Coroutine
from datetime import datetime
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer

from ocpp_gateway import auth, commands, conf, protocols, remote, stations
from ocpp_gateway.charge_point import in_thread

logger = logging.getLogger(__name__)

GROUP_REFRESH = 3600.0  # seconds; a Redis channel layer forgets group members after a day
DENIAL_EXTENSION = "websocket.http.response"
UNAUTHORIZED_HEADERS = [
    (b"www-authenticate", b'Basic realm="OCPP"'),
    (b"content-type", b"text/plain; charset=utf-8"),
]
UNAUTHORIZED_BODY = (
    b"Connect with HTTP Basic authentication: the chargestation's endpoint and its authorization key.\n"
)


class _Frames:
    """The connection interface the ocpp ChargePoint sends through."""

    def __init__(self, consumer: "OcppConsumer") -> None:
        self.consumer = consumer

    async def send(self, message: str) -> None:
        await self.consumer.send(text_data=message)


class OcppConsumer(AsyncWebsocketConsumer):
    charge_point: protocols.CentralSide | None = None
    connected_at: datetime | None = None
    group = ""
    endpoint = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tasks: set[asyncio.Task[None]] = set()

    async def connect(self) -> None:
        self.endpoint = str(self.scope["url_route"]["kwargs"]["endpoint"])
        station = await in_thread(stations.chargestation_for_endpoint)(endpoint=self.endpoint)
        refusal = auth.handshake_refusal(
            station=station, endpoint=self.endpoint, headers=self.scope["headers"]
        )
        if refusal is not None or station is None:
            return await self._refuse_unauthorized(refusal or "unknown or inactive endpoint")
        subprotocol = protocols.subprotocol_for(station.protocol)
        if subprotocol is None or subprotocol not in self.scope.get("subprotocols", []):
            return await self._refuse("subprotocol")
        self.group = commands.chargestation_group(public_id=station.public_id)
        # An older connection of this charger that we did not see close gives way to this one.
        await self.channel_layer.group_send(self.group, {"type": "ocpp.superseded"})
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept(subprotocol=subprotocol)
        self.connected_at = await in_thread(stations.chargestation_connect)(chargestation_id=station.pk)
        self.charge_point = protocols.CHARGE_POINTS[subprotocol](
            endpoint=self.endpoint,
            chargestation_id=station.pk,
            organization_id=station.organization_id,
            heartbeat_interval=station.heartbeat_interval,
            connection=_Frames(self),
        )
        self.last_seen = self.last_recorded = asyncio.get_running_loop().time()
        self._spawn(self._watch())
        logger.info("ocpp.connection.opened", extra={"endpoint": self.endpoint})

    async def _refuse(self, reason: str) -> None:
        logger.info(
            "ocpp.handshake.refused",
            extra={"endpoint": self.endpoint, "reason": reason, "address": self._address()},
        )
        await self.close()

    async def _refuse_unauthorized(self, reason: str) -> None:
        """Refuse a charger that did not prove it is the station, once its wait (`auth`) is over."""
        delay = await auth.refusal_delay(endpoint=self.endpoint, address=self._address())
        logger.info(
            "ocpp.handshake.refused",
            extra={"endpoint": self.endpoint, "reason": reason, "address": self._address(), "delay": delay},
        )
        await asyncio.sleep(delay)
        if DENIAL_EXTENSION not in (self.scope.get("extensions") or {}):
            return await self.close()
        await self.base_send(
            {"type": "websocket.http.response.start", "status": 401, "headers": UNAUTHORIZED_HEADERS}
        )
        await self.base_send({"type": "websocket.http.response.body", "body": UNAUTHORIZED_BODY})

    def _address(self) -> str:
        client = self.scope.get("client")
        return str(client[0]) if client else ""

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.charge_point is None or self.connected_at is None:
            return
        self.last_seen = asyncio.get_running_loop().time()
        # Written at most twice per heartbeat interval: plenty for the silence check (twice the
        # interval), and not one more write per message on the database every charger shares.
        if self.last_seen - self.last_recorded >= self.charge_point.heartbeat_interval / 2:
            self.last_recorded = self.last_seen
            await in_thread(stations.chargestation_seen)(
                chargestation_id=self.charge_point.chargestation_id, connected_at=self.connected_at
            )
        raw = text_data if text_data is not None else (bytes_data or b"").decode("utf-8", "replace")
        await self.charge_point.route_message(raw)

    async def disconnect(self, code: int) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        await self._offline()
        if self.charge_point is not None:  # a refused handshake never opened
            logger.info("ocpp.connection.closed", extra={"endpoint": self.endpoint, "code": code})

    async def _offline(self) -> None:
        """This connection is over: offline, once (close and silence may both get here)."""
        if self.charge_point is not None and self.connected_at is not None:
            connected_at, self.connected_at = self.connected_at, None
            await in_thread(stations.chargestation_disconnect)(
                chargestation_id=self.charge_point.chargestation_id, connected_at=connected_at
            )

    # Messages from the channel layer.

    async def ocpp_command(self, message: dict[str, Any]) -> None:
        if self.charge_point is not None:
            self._spawn(self._command(message))

    async def ocpp_superseded(self, message: dict[str, Any]) -> None:
        # The newer connection owns the station's state now: leave it online.
        logger.info("ocpp.connection.superseded", extra={"endpoint": self.endpoint})
        self.connected_at = None
        await self.close()

    # Tasks of this connection.

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("ocpp.task.failed", exc_info=task.exception(), extra={"endpoint": self.endpoint})

    async def _command(self, message: dict[str, Any]) -> None:
        assert self.charge_point is not None
        action, session_id = message["action"], int(message["session_id"])
        answered = in_thread(remote.session_command_answered)
        try:
            accepted, reason = await self.charge_point.command_run(action=action, payload=message["payload"])
        except asyncio.CancelledError:
            await answered(
                session_id=session_id,
                action=action,
                accepted=False,
                reason="The chargestation disconnected before answering.",
            )
            raise
        await answered(session_id=session_id, action=action, accepted=accepted, reason=reason)

    async def _watch(self) -> None:
        """Close a connection silent for too long (its TCP may be dead without us knowing)."""
        loop = asyncio.get_running_loop()
        refreshed = loop.time()
        while self.charge_point is not None:
            limit = conf.silence_factor() * self.charge_point.heartbeat_interval
            await asyncio.sleep(min(max(limit / 4, 0.1), 60.0))
            if loop.time() - self.last_seen > limit:
                logger.info("ocpp.connection.silent", extra={"endpoint": self.endpoint, "seconds": limit})
                await self._offline()
                await self.close()
                return
            if loop.time() - refreshed > GROUP_REFRESH:
                await self.channel_layer.group_add(self.group, self.channel_name)
                refreshed = loop.time()
