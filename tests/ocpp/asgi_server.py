"""A real ASGI server for end-to-end tests: uvicorn, as the Procfile runs it, serving the project on a
free port of 127.0.0.1.

Like the harness's Celery processes: its own process group (killed at exit whatever happens),
its output in a log file, ready once its port accepts connections. The `server` fixture serves the
gateway so (conftest.py makes it every gateway test's); `charger_over` connects a charger to it: the
`ocpp` package's ChargePoint (1.6J or 2.0.1) on a `websockets` client, with the station's key.
"""

import asyncio
import base64
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import pytest
from django.conf import settings as project_settings
from django.db import connection
from pytest_django.fixtures import Settings
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from edrv_project.channel_layers import redis_channel_layers
from ocpp_gateway.simulator import SimulatedCharger
from tests.e2e.broker import Broker, free_port
from tests.e2e.processes import database_url, process_environment

ROOT = Path(__file__).resolve().parents[2]


class AsgiServer:
    def __init__(self, *, env: dict[str, str], log_path: Path) -> None:
        self.env, self.log_path = env, log_path
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid  # setpriv execs uvicorn: the same process

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> "AsgiServer":
        script = Path(sys.executable).with_name("uvicorn")
        command = [
            *(str(script), "edrv_project.asgi:application"),
            *("--host", "127.0.0.1", "--port", str(self.port), "--lifespan", "off"),
        ]
        pdeathsig = shutil.which("setpriv")  # the kernel kills it if the test process dies
        if pdeathsig:
            command = [pdeathsig, "--pdeathsig", "KILL", "--", *command]
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            command,
            env=self.env,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            with suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return self
            time.sleep(0.1)
        self.__exit__(None, None, None)
        raise RuntimeError(f"uvicorn did not start on port {self.port}; log:\n{self.log_text()}")

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._process is not None:
            with suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(10)
        if self._log is not None:
            self._log.close()


@pytest.fixture
def server(
    celery_broker: Broker, artifacts_dir: Path, channel_layer_url: str, settings: Settings
) -> Iterator[AsgiServer]:
    """The gateway served by uvicorn on the test database and broker; this process's channel layer is
    the server's, so that a command sent here (a remote start, a stop) reaches its chargers."""
    settings.CHANNEL_LAYERS = redis_channel_layers(
        channel_layer_url, max_connections=project_settings.CHANNEL_LAYER_MAX_CONNECTIONS
    )
    env = process_environment(
        database=database_url(connection.settings_dict),
        broker=celery_broker,
        extra={
            "DJANGO_SETTINGS_MODULE": "tests.ocpp.settings",
            "OCPP_TEST_CHANNEL_LAYER_URL": channel_layer_url,
            "OCPP_REFUSAL_DELAY": "0.05",
        },
    )
    with AsgiServer(env=env, log_path=artifacts_dir / "uvicorn.log") as asgi_server:
        yield asgi_server


def basic(user: str, password: str) -> dict[str, str]:
    """The Authorization header of OCPP security profiles 1 and 2 (HTTP Basic)."""
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def handshake_refused(
    server: AsgiServer, endpoint: str, *, subprotocol: str, headers: dict[str, str]
) -> tuple[int, str | None]:
    """Connect as `endpoint` with these headers, expecting a refusal: its status and challenge."""
    url = server.url(f"/ocpp/{endpoint}")
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, subprotocols=[Subprotocol(subprotocol)], additional_headers=headers):
            pass
    response = refused.value.response
    return response.status_code, response.headers.get("WWW-Authenticate")


class TappedConnection:
    """A client WebSocket as the `ocpp` ChargePoint uses it (`send`, `recv`), keeping every frame it
    receives: what the central system asked of the charger, as it came over the wire."""

    def __init__(self, websocket: ClientConnection, received: list[str]) -> None:
        self.websocket, self.received = websocket, received

    async def send(self, message: str) -> None:
        await self.websocket.send(message)

    async def recv(self) -> str:
        message = await self.websocket.recv()
        text = message if isinstance(message, str) else message.decode()
        self.received.append(text)
        return text


@asynccontextmanager
async def charger_over(
    server: AsgiServer,
    endpoint: str,
    *,
    authorization_key: str,
    subprotocol: str = "ocpp1.6",
    charger_class: Callable[..., Any] = SimulatedCharger,
    received: list[str] | None = None,
    **charger_options: Any,
) -> AsyncIterator[Any]:
    """A charger connected to the server as `endpoint` with its key, listening; it leaves on the way out.

    `received`, when given, gets every frame the charger receives. `charger_options` go to the charger
    class (`answers`, `auto_charge` for the simulators).
    """
    async with connect(
        server.url(f"/ocpp/{endpoint}"),
        subprotocols=[Subprotocol(subprotocol)],
        additional_headers=basic(endpoint, authorization_key),
    ) as websocket:
        assert websocket.subprotocol == subprotocol
        connection = TappedConnection(websocket, [] if received is None else received)
        charger = charger_class(endpoint, connection, **charger_options)
        listening = asyncio.create_task(charger.start())
        try:
            yield charger
        finally:
            listening.cancel()
            with suppress(asyncio.CancelledError, ConnectionClosed):
                await listening
