"""A real ASGI server for end-to-end tests: uvicorn, as the Procfile runs it, serving the project on a
free port of 127.0.0.1.

Like the harness's Celery processes: its own process group (killed at exit whatever happens),
its output in a log file, ready once its port accepts connections.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path
from types import TracebackType
from typing import IO

from tests.e2e.broker import free_port

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
