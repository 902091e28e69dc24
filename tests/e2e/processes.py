"""Real Celery worker and beat processes for end-to-end tests.

A `CeleryProcess` runs `celery -A edrv_project worker` (or `beat`) as a child process in its
own session, with its output in a log file, and can be started, stopped, SIGKILLed and
restarted. It is ready when its log says so ("<node> ready." / "beat: Starting...").

The worker uses the threads pool by default: a single process, so SIGKILL takes the whole
worker down at once the way a crashed container does (no prefork children left behind to
finish the batch or to outlive the test), and it starts in about a second.
`--without-gossip/mingle/heartbeat` skip broadcasts the filesystem broker does not carry
and that only slow startup.

No child outlives the test run: each runs in its own process group, which the fixture's
teardown SIGKILLs whatever the outcome; an atexit hook kills any left over; and where
`setpriv` exists the kernel SIGKILLs the child if the test process itself dies.
"""

import atexit
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path
from typing import IO, Literal
from urllib.parse import quote

from tests.e2e.broker import Broker

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
READY_MARKERS = {"worker": " ready.", "beat": "beat: Starting..."}

_running: set["CeleryProcess"] = set()


def database_url(settings_dict: dict) -> str:
    """The URL of the database the test process uses (its test database, once created)."""
    name = str(settings_dict["NAME"])
    if settings_dict["ENGINE"].endswith(".sqlite3"):  # Django's backend, or ours built on it
        return f"sqlite:///{Path(name).resolve()}"
    if "postgresql" not in settings_dict["ENGINE"]:
        raise NotImplementedError(f"no e2e support for {settings_dict['ENGINE']}")
    user, password = quote(settings_dict.get("USER") or ""), quote(settings_dict.get("PASSWORD") or "")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{quote(name)}"


def process_environment(*, database: str, broker: Broker, extra: dict[str, str]) -> dict[str, str]:
    """A child's environment: the test process's, pointed at the test database and broker.

    Endpoints in tests live on 127.0.0.1 over plain HTTP, so the worker allows both unless
    the test says otherwise.
    """
    env = dict(os.environ)
    env.pop("CELERY_BROKER_URL", None)
    env.update(
        DJANGO_SETTINGS_MODULE=os.environ.get("DJANGO_SETTINGS_MODULE", "edrv_project.settings"),
        DATABASE_URL=database,
        PYTHONUNBUFFERED="1",
        CELERY_TASK_ALWAYS_EAGER="false",
        WEBHOOKS_ALLOWED_NETWORKS="127.0.0.0/8,::1/128",
        WEBHOOKS_ALLOW_HTTP="true",
    )
    for key, value in broker.env.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    env.update(extra)
    return env


def celery_command() -> list[str]:
    script = Path(sys.executable).with_name("celery")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "celery"]
    # Ask the kernel to SIGKILL the child if we die, so a crashed test run leaves no orphan.
    pdeathsig = shutil.which("setpriv")
    return [pdeathsig, "--pdeathsig", "KILL", "--", *command] if pdeathsig else command


class CeleryProcess:
    def __init__(
        self,
        *,
        kind: Literal["worker", "beat"],
        name: str,
        env: dict[str, str],
        log_path: Path,
        pool: Literal["threads", "prefork", "solo"] = "threads",
        concurrency: int = 4,
        queues: str = "celery,webhooks-backlog",
        workdir: Path,
    ) -> None:
        self.kind, self.name, self.env, self.log_path = kind, name, env, log_path
        self.pool, self.concurrency, self.queues, self.workdir = pool, concurrency, queues, workdir
        self.starts = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def __repr__(self) -> str:
        return f"<CeleryProcess {self.kind} {self.name} pid={self.pid}>"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def nodename(self) -> str:
        return f"{self.name}@e2e"

    def arguments(self) -> list[str]:
        if self.kind == "beat":
            schedule = self.workdir / f"{self.name}-schedule"
            return ["beat", "-l", "INFO", "-s", str(schedule), "--max-interval", "1"]
        return [
            "worker",
            *("-l", "INFO", "-P", self.pool, "-c", str(self.concurrency), "-Q", self.queues),
            *("-n", self.nodename, "-I", "edrv_project.tasks"),
            *("--without-gossip", "--without-mingle", "--without-heartbeat"),
        ]

    def start(self, timeout: float = 30) -> "CeleryProcess":
        """Start and wait until ready; RuntimeError with the log if it is not."""
        if self.running:
            raise RuntimeError(f"{self!r} is already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._log.write(f"\n===== start #{self.starts + 1} of {self.name} =====\n".encode())
        self._log.flush()
        offset = self._log.tell()
        self._process = subprocess.Popen(
            [*celery_command(), "-A", "edrv_project", *self.arguments()],
            env=self.env,
            cwd=Path(__file__).resolve().parents[2],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: signals reach it and only it
        )
        self.starts += 1
        _running.add(self)
        self._wait_ready(offset, timeout)
        return self

    def stop(self, timeout: float = 10) -> None:
        """Warm shutdown (SIGTERM); SIGKILL if it is not gone within `timeout`."""
        if self.running:
            self._signal(signal.SIGTERM)
            try:
                self._wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._forget()

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, tasks in flight are lost to this process.

        On Redis a task published in the very instant after the kill can still be handed to the
        dead worker's pending BRPOP and vanish (kombu's Redis transport is at most once there;
        the product's sweeper covers it). A test that needs such a task to survive waits a
        moment after `kill()` before publishing.
        """
        if self.running:
            self._signal(signal.SIGKILL)
            self._wait(10)
        self._forget()

    def pause(self) -> None:
        """SIGSTOP: the process holds what it holds and takes nothing more until `resume()`."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def restart(self, timeout: float = 30) -> "CeleryProcess":
        self.stop()
        return self.start(timeout)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _wait_ready(self, offset: int, timeout: float) -> None:
        marker = READY_MARKERS[self.kind].encode()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.log_path.open("rb") as log:
                log.seek(offset)
                if marker in log.read():
                    return
            if not self.running:
                break
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"{self.kind} {self.name} not ready within {timeout}s; log:\n{self.log_text()}")

    def _signal(self, signum: int) -> None:
        assert self._process is not None
        with suppress(ProcessLookupError):  # already gone
            os.killpg(self._process.pid, signum)

    def _wait(self, timeout: float) -> None:
        assert self._process is not None
        self._process.wait(timeout)

    def _forget(self) -> None:
        _running.discard(self)
        if self._log is not None:
            self._log.close()
            self._log = None


@atexit.register
def _kill_leftovers() -> None:
    for process in list(_running):
        process.kill()
