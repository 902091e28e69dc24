"""The whole product on private servers: PostgreSQL, Redis, the web app, workers, beat, a receiver.

The harness process itself is a Django process on the same database and broker: it creates the
organizations and endpoints, drives the service load and reads the outbox rows to count. Every
child runs in its own process group, under `setpriv --pdeathsig KILL` where it exists, and is
killed at exit whatever happened; the servers' directories are removed (see servers.py).

The knobs (KNOBS) are shortened through the environment, the way an operator would set them.
"""

import contextlib
import http.client
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from bench.faults.servers import PostgresCluster, RedisServer
from bench.faults.supervisor import Supervisor
from bench.faults.tally import Tally
from tests.e2e.broker import free_port
from tests.e2e.processes import CeleryProcess
from tests.e2e.receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]
DATABASE = "edrv_faults"

# Short enough that a scenario drains in seconds; long enough (12 attempts) that a receiver
# failing five requests in eight still gets every event within the schedule.
KNOBS = {
    "WEBHOOKS_RETRY_SCHEDULE": "0,1,1,1,2,2,2,2,3,3,3,3",
    "WEBHOOKS_TIMEOUT": "2",
    "WEBHOOKS_SWEEP_INTERVAL": "1",
    "WEBHOOKS_ALLOWED_NETWORKS": "127.0.0.0/8",
    "WEBHOOKS_ALLOW_HTTP": "true",
    # The load is ours; the throttle is not what is under test.
    "API_THROTTLE_RATE": "1000000/min",
    "DEBUG": "false",
    "CELERY_TASK_ALWAYS_EAGER": "false",
    "PYTHONUNBUFFERED": "1",
    "LOG_LEVEL": "INFO",
}


class WebServer:
    """The ASGI app under uvicorn, as the Procfile serves it."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env, self.log_path = env, log_path
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        uvicorn = Path(sys.executable).with_name("uvicorn")
        setpriv = shutil.which("setpriv")
        prefix = [setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                *(*prefix, str(uvicorn), "edrv_project.asgi:application"),
                *("--host", "127.0.0.1", "--port", str(self.port), "--lifespan", "off"),
            ],
            env=self.env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/healthz")
                conn.getresponse().read()
                conn.close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the web app did not start; see {self.log_path}") from None
                time.sleep(0.2)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


class Stack:
    def __init__(self, logs: Path) -> None:
        self.logs = logs
        logs.mkdir(parents=True, exist_ok=True)
        for old in logs.glob("*.log"):
            old.unlink()
        self.postgres = PostgresCluster(logs / "postgres.log")
        self.redis = RedisServer(logs / "redis.log")
        self.env = {
            **os.environ,
            **KNOBS,
            "DJANGO_SETTINGS_MODULE": "edrv_project.settings",
            "DATABASE_URL": self.postgres.url(DATABASE),
            "REDIS_URL": self.redis.url,
        }
        self.env.pop("CELERY_BROKER_URL", None)
        self.web = WebServer(self.env, logs / "web.log")
        self.workers: list[CeleryProcess] = []
        self.beats: list[CeleryProcess] = []
        self.tally = Tally(send_timeout=float(KNOBS["WEBHOOKS_TIMEOUT"]))
        self.receiver = Receiver().__enter__()
        self.supervisor = Supervisor(lambda: [*self.workers, *self.beats])

    def environment_apply(self) -> None:
        """Point this very process at the private servers; call before Django is set up."""
        mine = {*KNOBS, "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL"}
        os.environ.update({name: value for name, value in self.env.items() if name in mine})
        os.environ["LOG_LEVEL"] = "WARNING"
        os.environ.pop("CELERY_BROKER_URL", None)

    def servers_start(self) -> None:
        import psycopg

        self.postgres.start()
        self.redis.start()
        with psycopg.connect(self.postgres.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')

    def celery(self, kind: str, name: str) -> CeleryProcess:
        process = CeleryProcess(
            kind="worker" if kind == "worker" else "beat",
            name=name,
            env=self.env,
            log_path=self.logs / f"{name}.log",
            workdir=self.logs,
            concurrency=4,
        )
        (self.workers if kind == "worker" else self.beats).append(process)
        return process

    def apps_start(self, *, workers: int = 2) -> None:
        self.web.start()
        for n in range(1, workers + 1):
            self.celery("worker", f"worker{n}").start()
        self.celery("beat", "beat1").start()
        self.supervisor.start()

    def close(self) -> None:
        """Stop everything; a step that fails does not keep the others from running."""
        steps = [self.supervisor.stop, *(p.kill for p in [*self.beats, *self.workers]), self.web.stop]
        steps += [self.receiver.close, self.redis.close, self.postgres.close]
        for step in steps:
            try:
                step()
            except Exception as exc:
                print(f"cleanup: {step!r} failed: {exc!r}", file=sys.stderr)

    def __enter__(self) -> "Stack":
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
