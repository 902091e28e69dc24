"""The gateway in-process: the real ASGI app, and a charger on the `ocpp` package speaking to it.

`WebsocketCommunicator` is adapted to the connection interface the ocpp ChargePoint expects
(`send(str)`, `recv() -> str`), so the charger is the package's own v1.6 ChargePoint. Tests are
synchronous and run their scenario with `run()`: the gateway's database work then happens in the
test's thread (asgiref's thread-sensitive mode), on the test database.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any, TypeVar

from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator

from edrv_project.asgi import application
from ocpp_gateway.simulator import Answers, SimulatedCharger

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


def communicator_for(endpoint: str, subprotocols: tuple[str, ...] = ("ocpp1.6",)) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, f"/ocpp/{endpoint}", subprotocols=list(subprotocols))


@asynccontextmanager
async def charger_at(
    endpoint: str, *, answers: Answers | None = None, auto_charge: dict[str, Any] | None = None
) -> AsyncIterator[SimulatedCharger]:
    """A charger connected to the gateway as `endpoint`, listening; disconnected on the way out."""
    communicator = communicator_for(endpoint)
    accepted, subprotocol = await communicator.connect(timeout=10)
    assert (accepted, subprotocol) == (True, "ocpp1.6"), f"refused: {subprotocol}"
    charger = SimulatedCharger(
        endpoint, CommunicatorConnection(communicator), answers=answers, auto_charge=auto_charge
    )
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
