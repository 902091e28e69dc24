"""What the benchmark runs against: its own database and Redis db, a receiver, Celery workers.

Nothing here touches the developer's data: the database is `edrv_bench` (dropped, recreated and
migrated on every run) and the broker is Redis db 12, of which only the Celery queue is purged.
DATABASE_URL / REDIS_URL are deliberately ignored. Every child process runs in its own process
group and is killed at exit, whatever happened.
"""

import atexit
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "var" / "bench"
PG = "postgres://postgres@127.0.0.1:5432"
DATABASE = "edrv_bench"
REDIS = "redis://127.0.0.1:6379/12"

ENV = {
    "DJANGO_SETTINGS_MODULE": "edrv_project.settings",
    "DATABASE_URL": f"{PG}/{DATABASE}",
    "REDIS_URL": REDIS,
    "WEBHOOKS_ALLOWED_NETWORKS": "127.0.0.0/8",
    "WEBHOOKS_ALLOW_HTTP": "true",
    "CELERY_TASK_ALWAYS_EAGER": "false",
    "DEBUG": "false",
    "PYTHONUNBUFFERED": "1",
}

_children: list[subprocess.Popen[bytes]] = []


def environment_apply() -> None:
    """Point this process at the bench database and broker; call before Django is set up."""
    os.environ.update(ENV)
    os.environ.setdefault("LOG_LEVEL", "WARNING")


def database_recreate() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')


def database_migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def queues() -> set[str]:
    """The Celery queues the workers consume: the Procfile's `-Q`/`--queues`, else the default."""
    words = procfile_command("worker")
    names: set[str] = set()
    for n, word in enumerate(words):
        if word in ("-Q", "--queues") and n + 1 < len(words):
            names.update(words[n + 1].split(","))
        elif word.startswith("--queues="):
            names.update(word.partition("=")[2].split(","))
        elif word.startswith("-Q") and len(word) > 2:
            names.update(word[2:].lstrip("=").split(","))
    from django.conf import settings

    names.add(getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery"))
    return {name.strip() for name in names if name.strip()}


def queue_purge() -> None:
    """Empty Celery's queues (and their unacked bookkeeping) in the bench Redis db only.

    Call once Django is set up. Kombu keeps a queue's priority levels in keys named after it
    (`<queue>\\x06\\x16<n>`): those go too.
    """
    import redis

    client = redis.Redis.from_url(REDIS)
    keys: list[str | bytes] = ["unacked", "unacked_index", "unacked_mutex"]
    for name in queues():
        keys.append(name)
        keys.extend(client.scan_iter(match=f"{name}\x06\x16*"))
    client.delete(*keys)


def _spawn(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    LOGS.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    _children.append(process)
    return process


def stop(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    if process.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
    if process in _children:
        _children.remove(process)


@atexit.register
def _stop_all() -> None:
    for process in list(_children):
        stop(process, timeout=5)


def procfile_command(kind: str) -> list[str]:
    """The Procfile's command for `kind`: the benchmark runs workers exactly as production does."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == kind:
            words = shlex.split(os.path.expandvars(command))
            if words[0].startswith(".venv/"):
                words[0] = str(Path(sys.executable).with_name(Path(words[0]).name))
            return words
    raise RuntimeError(f"no {kind} line in the Procfile")


def workers_start(count: int, extra_env: dict[str, str] | None = None) -> list[subprocess.Popen[bytes]]:
    """`count` Celery worker processes (each as the Procfile says), once all say they are ready."""
    env = {**os.environ, **ENV, "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"), **(extra_env or {})}
    started = []
    for n in range(1, count + 1):
        log = LOGS / f"worker{n}.log"
        started.append((_spawn([*procfile_command("worker"), "-n", f"bench{n}@%h"], log, env), log))
    deadline = time.monotonic() + 60
    for process, log in started:
        while b" ready." not in log.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker not ready; see {log}:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
    return [process for process, _ in started]


def beat_start() -> subprocess.Popen[bytes]:
    """Beat as the Procfile says, with its schedule file under var/bench (the last `-s` wins)."""
    env = {**os.environ, **ENV}
    schedule = LOGS / "celerybeat-schedule"
    for old in LOGS.glob(f"{schedule.name}*"):  # a fresh schedule; its file appearing says beat is up
        old.unlink()
    log = LOGS / "beat.log"
    process = _spawn([*procfile_command("beat"), "--schedule", str(schedule)], log, env)
    deadline = time.monotonic() + 60
    while b"beat: Starting" not in log.read_bytes() and not any(LOGS.glob(f"{schedule.name}*")):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"beat not started; see {log}:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    return process


class Node:
    """A worker node as production runs one: `count` worker processes and beat, per the Procfile."""

    def __init__(self, count: int) -> None:
        self.workers = workers_start(count)
        self.beat = beat_start()

    def worker_cpu(self) -> float:
        """CPU seconds the worker processes (and their children) have used so far."""
        return cpu_seconds([process.pid for process in self.workers])

    def cpu(self) -> float:
        """CPU seconds the whole node (workers, their children, beat) has used so far."""
        return cpu_seconds([process.pid for process in [*self.workers, self.beat]])

    def stop(self) -> None:
        for process in [*self.workers, self.beat]:
            stop(process)


_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat's fields from the state on (the name, in parentheses, may hold spaces)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text[text.rindex(")") + 2 :].split()


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of `pids` and every live descendant, by the kernel's accounting.

    Each process counts its own threads (utime, stime) and its children already waited for
    (cutime, cstime); live children count themselves, so nothing is counted twice.
    """
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    ticks = 0
    todo = list(pids)
    seen: set[int] = set()
    while todo:
        pid = todo.pop()
        if pid in seen or (fields := _stat(pid)) is None:
            continue
        seen.add(pid)
        ticks += sum(int(field) for field in fields[11:15])  # utime stime cutime cstime
        todo.extend(children.get(pid, []))
    return ticks / _TICKS


class Receiver:
    """The receiver process (bench/receiver.py) and a client for its control paths."""

    def __init__(self) -> None:
        self.process = _spawn(
            [sys.executable, "-m", "bench.receiver"], LOGS / "receiver.log", dict(os.environ)
        )
        self.port = 0
        deadline = time.monotonic() + 10
        log = LOGS / "receiver.log"
        while not self.port:
            text = log.read_text()
            if text.strip().isdigit() and text.endswith("\n"):
                self.port = int(text)
            elif self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"receiver did not start: {text}")
            else:
                time.sleep(0.02)
        import http.client

        self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        payload = json.dumps(body).encode() if body is not None else None
        self._conn.request(method, path, body=payload)
        return json.loads(self._conn.getresponse().read())

    def secret_set(self, path: str, secret: str, verify_every: int | None = None) -> None:
        """Verify signatures on `path` with `secret`: one request in `verify_every` (default 50)."""
        self._call("POST", "/__secret", {"path": path, "secret": secret, "every": verify_every})

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/__stats")

    def count(self, prefix: str) -> int:
        """Distinct webhook-ids received on paths starting with `prefix`."""
        return sum(s["unique"] for p, s in self.stats()["paths"].items() if p.startswith(prefix))

    def receipts(self, path: str) -> dict[str, float]:
        return self._call("GET", f"/__receipts?path={quote(path)}")

    def reset(self) -> None:
        self._call("POST", "/__reset", {})

    def close(self) -> None:
        self._conn.close()
        stop(self.process)
