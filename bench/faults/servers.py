"""Private PostgreSQL and Redis servers that a fault scenario may stop, restart or empty.

Nothing here touches the machine's shared services: each server gets a temporary directory and
a free port of its own, and goes away with its directory when the harness exits, however it
exits. PostgreSQL refuses to run as root, so its server runs as the `postgres` user.

Both servers are direct children (no daemonizing `pg_ctl start`), started through
`setpriv --pdeathsig KILL` where it exists: if the harness itself is SIGKILLed, the kernel takes
them down too, and no orphan keeps a port or a directory.
"""

import atexit
import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.e2e.broker import free_port

_live: set["_Server"] = set()


def _pdeathsig() -> list[str]:
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []


def _server_spawn(command: list[str], log_path: Path, cwd: Path | None = None) -> subprocess.Popen[bytes]:
    """A server in its own session, its output appended to `log_path`."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
        )


def _ready_wait(
    process: subprocess.Popen[bytes], ready: Callable[[], bool], *, timeout: float, failure: str
) -> None:
    """Poll `ready` until it says yes; fail at once if the server exits, or at the deadline."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(failure)
        time.sleep(0.05)


def postgres_bin() -> Path | None:
    """The newest PostgreSQL server binaries on this machine, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def postgres_available() -> str:
    """Why a private cluster cannot run here ("" when it can)."""
    if postgres_bin() is None:
        return "no initdb (PostgreSQL server binaries) on this machine"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no `postgres` user to run the server as"
        if not shutil.which("runuser"):
            return "running as root and there is no `runuser` to run the server as `postgres`"
    return ""


class _Server:
    """A server of our own in a temporary directory: started, stopped, and removed with it."""

    process: subprocess.Popen[bytes] | None = None
    dir: Path

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
        _live.discard(self)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class PostgresCluster(_Server):
    """`initdb` into a temporary directory, then a postmaster on a free port; stoppable at will."""

    def __init__(self, log_path: Path) -> None:
        bindir = postgres_bin()
        if bindir is None:
            raise RuntimeError(postgres_available())
        self.bindir, self.log_path = bindir, log_path
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        self.data = self.dir / "data"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            account = pwd.getpwnam("postgres")
            os.chown(self.dir, account.pw_uid, account.pw_gid)
        os.chmod(self.dir, 0o700)
        self._run(
            [str(bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
            check=True,
        )
        _live.add(self)

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _command(self, command: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *command] if self._as_postgres else command

    def _run(self, command: list[str], *, check: bool) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            self._command(command), check=check, capture_output=True, timeout=120, cwd=self.dir
        )

    def start(self, timeout: float = 30) -> None:
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.dir),
            # A throwaway cluster: no fsync. Commits still go through the WAL and every stop below
            # is a clean one, so nothing the harness counts as committed can vanish.
            "fsync": "off",
            "full_page_writes": "off",
            "max_connections": "200",
        }
        options = [arg for name, value in settings.items() for arg in ("-c", f"{name}={value}")]
        self.process = _server_spawn(
            self._command([*_pdeathsig(), str(self.bindir / "postgres"), "-D", str(self.data), *options]),
            self.log_path,
            cwd=self.dir,
        )
        ready = [str(self.bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)]
        _ready_wait(
            self.process,
            lambda: self._run(ready, check=False).returncode == 0,
            timeout=timeout,
            failure=f"PostgreSQL did not start; see {self.log_path}",
        )

    def stop(self, mode: str = "fast") -> None:
        """A clean stop (`fast`: sessions are cut, committed work is kept)."""
        if self.process is None or self.process.poll() is not None:
            return
        self._run(
            [str(self.bindir / "pg_ctl"), "stop", "-D", str(self.data), "-m", mode, "-t", "30"], check=False
        )
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, 9)
            self.process.wait(10)


class RedisServer(_Server):
    """A `redis-server` on a free port that can go down and come back on that same port.

    `restart(empty=True)` is a Redis that lost everything (no persistence: every queued task is
    gone); `stop(save=True)` followed by `start()` is an outage after which the data is back.
    """

    def __init__(self, log_path: Path, executable: str = "redis-server") -> None:
        found = shutil.which(executable)
        if found is None:
            raise RuntimeError("no redis-server on this machine")
        self.executable, self.log_path = found, log_path
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="faults-redis-"))
        _live.add(self)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        # No retries: a server going away must be noticed at once, not after a reconnect backoff.
        return redis.Redis(
            port=self.port, socket_connect_timeout=0.5, socket_timeout=2, retry=Retry(NoBackoff(), 0)
        )

    def start(self, timeout: float = 10) -> None:
        command = [*_pdeathsig(), self.executable, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.dir), "--logfile", ""]
        self.process = _server_spawn(command, self.log_path)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        with contextlib.closing(self.client()) as client:
            _ready_wait(
                self.process,
                answers,
                timeout=timeout,
                failure=f"redis-server did not start; see {self.log_path}",
            )

    def stop(self, save: bool = False) -> None:
        """Shut down; with `save`, what it held is back at the next start."""
        if self.process is None or self.process.poll() is not None:
            return
        client = self.client()
        with contextlib.suppress(redis.ConnectionError):  # the server closes the connection: expected
            client.shutdown(save=save, nosave=not save)
        client.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        if not save:
            for dump in self.dir.glob("*.rdb"):
                dump.unlink()

    def restart(self, *, empty: bool) -> None:
        self.stop(save=not empty)
        self.start()


@atexit.register
def _close_leftovers() -> None:
    for server in list(_live):
        server.close()
