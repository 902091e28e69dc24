"""The gateway in-process: the real ASGI app, and a charger on the `ocpp` package speaking to it.

`WebsocketCommunicator` is adapted to the connection interface the ocpp ChargePoint expects
(`send(str)`, `recv() -> str`), so the charger is the package's own v1.6 ChargePoint. Tests are
synchronous and run their scenario with `run()`: the gateway's database work then happens in the
test's thread (asgiref's thread-sensitive mode), on the test database.
"""

import asyncio
import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any, TypeVar

from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator

from edrv_project.asgi import application
from ocpp_gateway.simulator import SimulatedCharger

T = TypeVar("T")

# Long: a communicator that times out waiting for output cancels the application.
RECV_TIMEOUT = 600


class Closed(Exception):
    """The gateway closed the connection."""

    def __init__(self, code: int | None) -> None:
        super().__init__(f"closed by the gateway (code {code})")
        self.code = code


class CommunicatorConnection:
    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.communicator = communicator

    async def send(self, message: str) -> None:
        await self.communicator.send_to(text_data=message)

    async def recv(self) -> str:
        output = await self.communicator.receive_output(timeout=RECV_TIMEOUT)
        if output["type"] == "websocket.close":
            raise Closed(output.get("code"))
        return str(output["text"])


def basic_auth(user: str, password: str) -> tuple[bytes, bytes]:
    """The Authorization header of OCPP security profiles 1 and 2 (HTTP Basic)."""
    return b"authorization", b"Basic " + base64.b64encode(f"{user}:{password}".encode())


def communicator_for(
    endpoint: str, subprotocols: tuple[str, ...] = ("ocpp1.6",), authorization_key: str | None = None
) -> WebsocketCommunicator:
    headers = [basic_auth(endpoint, authorization_key)] if authorization_key is not None else []
    return WebsocketCommunicator(
        application, f"/ocpp/{endpoint}", headers=headers, subprotocols=list(subprotocols)
    )


@asynccontextmanager
async def charger_at(
    endpoint: str,
    *,
    authorization_key: str | None = None,
    subprotocol: str = "ocpp1.6",
    charger_class: Callable[..., Any] = SimulatedCharger,
    **charger_options: Any,
) -> AsyncIterator[Any]:
    """A charger connected to the gateway as `endpoint`, listening; disconnected on the way out.

    `charger_options` go to the charger class (`answers`, `auto_charge` for the simulators).
    """
    communicator = communicator_for(endpoint, (subprotocol,), authorization_key)
    accepted, chosen = await communicator.connect(timeout=10)
    assert (accepted, chosen) == (True, subprotocol), f"refused: {chosen}"
    charger = charger_class(endpoint, CommunicatorConnection(communicator), **charger_options)
    listening = asyncio.create_task(charger.start())
    try:
        yield charger
    finally:
        listening.cancel()
        with suppress(asyncio.CancelledError, Closed):
            await listening
        await communicator.disconnect(timeout=10)


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    """Run an async scenario from a synchronous test."""
    return async_to_sync(scenario)()


async def in_db(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Synchronous Django code from a scenario (queries, factories, API calls)."""
    return await sync_to_async(function)(*args, **kwargs)
