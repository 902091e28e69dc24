"""(l) The event feed's long polls: how many waiting clients one web process holds, and how fast they wake.

One web process exactly as the Procfile's `web` line runs it (uvicorn, on a free port). A client
process (bench/feed_client.py) opens N keep-alive connections, each a consumer with an API key of
its own (of one organization) in a loop: `GET /api/v1/events/feed?wait=30`, then again at once with
`after=<next>`: N/30 requests a second while nothing happens, each authenticated and throttled.
Once all N wait, the server's resident memory, threads and open files are read from /proc; then
this process saves one Location of the clients' organization (one event, announced on Redis at
commit) and takes, for every client, the time from the commit to its receipt of the event. N grows
(100, 1,000, 5,000, 10,000, ...) until a step has errors or clients that never receive the event,
or N would pass the open-files limit (raised to its hard limit first: each client is a socket in
the server and one here).
"""

import json
import os
import resource
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction

from bench import report, stack
from chargestations.models import Location
from organizations.models import Organization, Plan, Scope
from organizations.services import api_key_create
from webhooks.models import Event

STEPS = (100, 1000, 5000, 7500, 10_000, 15_000, 20_000, 30_000)
SPARE_FILES = 200  # the server's own files beside its clients' sockets
WARM_UP_TIMEOUT = 120.0
RECEIPT_TIMEOUT = 45.0  # a client's request may just have started its 30 s wait: it is answered at once
KEYS = stack.LOGS / "feed-keys.txt"
OBSERVE = 30.0  # seconds watched while every client waits: one whole wait, each asks again once


@dataclass
class Step:
    clients: int
    waiting: int = 0  # requests waiting in the server when the event committed
    received: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    cpu_share: float = 0.0  # of one core, while they all waited and nothing happened
    rss_mib: float = 0.0
    threads: int = 0
    files: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    unready: str = ""  # why the step never got as far as its measured event

    @property
    def held(self) -> bool:
        return not self.errors and self.received == self.clients == self.waiting

    def latency(self, quantile: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(quantile * len(ordered)))] if ordered else float("nan")


@dataclass
class Capacity:
    idle_rss_mib: float
    steps: list[Step]
    stopped_by: str  # why it went no further

    @property
    def held(self) -> Step | None:
        """The largest step held whole."""
        return max((step for step in self.steps if step.held), key=lambda s: s.clients, default=None)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _proc(pid: int) -> tuple[float, int, int]:
    """Resident MiB, threads, open files of `pid`."""
    status = Path(f"/proc/{pid}/status").read_text()
    values = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    rss = int(values["VmRSS"].split()[0]) / 1024
    return rss, int(values["Threads"]), len(os.listdir(f"/proc/{pid}/fd"))


def _files_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:  # children inherit it: the server and the clients
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class WebProcess:
    """One web process as the Procfile's `web` line starts it, on a free port."""

    def __init__(self) -> None:
        self.port = _free_port()
        words = stack.procfile_command("web")
        words[words.index("--port") + 1] = str(self.port)
        env = {**os.environ, **stack.ENV}
        self.process = stack._spawn(words, stack.LOGS / "feed-web.log", env)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"uvicorn did not start; see {stack.LOGS / 'feed-web.log'}") from None
                time.sleep(0.1)

    def cpu(self) -> float:
        return stack.cpu_seconds([self.process.pid])

    def quiet(self, seconds: float = 1.0, share: float = 0.05, timeout: float = 60.0) -> None:
        """Until the process uses less than `share` of a core over `seconds` (at most `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            before = self.cpu()
            time.sleep(seconds)
            if self.cpu() - before < share * seconds:
                return

    def stop(self) -> None:
        stack.stop(self.process)


def _keys(organization: Organization, count: int) -> Path:
    """A file of `count` API keys of the organization, each with `webhooks:read`, a line each."""
    keys: list[str] = []
    with transaction.atomic():
        while len(keys) < count:
            try:
                with transaction.atomic():  # a savepoint: a key whose prefix is taken is made again
                    _, key = api_key_create(
                        organization=organization, name=f"feed {len(keys)}", scopes=[Scope.WEBHOOKS_READ]
                    )
            except IntegrityError:
                continue  # 8 hex digits of prefix: among 15,000 keys, two alike now and then
            keys.append(key)
    KEYS.parent.mkdir(parents=True, exist_ok=True)
    KEYS.write_text("\n".join(keys) + "\n")
    return KEYS


class ClientProcess:
    def __init__(self, port: int, keys: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.feed_client", str(port), str(keys)],
            cwd=stack.ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def call(self, **command: object) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        answer: dict[str, Any] = json.loads(self.process.stdout.readline())
        return answer

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()  # it ends at the end of its input
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _received(clients: ClientProcess, count: int, timeout: float) -> dict[str, Any]:
    """The clients' stats once `count` have received an event (or on an error, or at `timeout`)."""
    deadline = time.monotonic() + timeout
    while (stats := clients.call(stats=True))["received"] < count and not stats["errors"]:
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    return stats


def _commit(organization: Organization, name: str) -> tuple[float, str]:
    """Save a Location of the organization (one event): when it committed (wall clock), its id."""
    committed: list[float] = []
    with transaction.atomic():
        transaction.on_commit(lambda: committed.append(time.time()))
        Location.objects.create(organization=organization, name=name)
    saved = Event.objects.filter(organization=organization, type="location.created")
    return committed[0], saved.latest("pk").public_id


def _step(web: WebProcess, clients: ClientProcess, organization: Organization, count: int) -> Step:
    step = Step(count)
    _, start = _commit(organization, f"Feed bench {count}, start")
    clients.call(open=count, after=start)
    # An event that every client must receive, once all ask: then each waits in the server, after it.
    _commit(organization, f"Feed bench {count}, warm-up")
    warmed = _received(clients, count, timeout=WARM_UP_TIMEOUT)
    if warmed["received"] < count or warmed["errors"]:
        step.errors = dict(warmed["errors"])
        step.unready = (
            f"{warmed['received']:,} of {count:,} answered a first event within {WARM_UP_TIMEOUT:.0f} s"
        )
        clients.call(close=True)
        return step
    clients.call(reset=True)
    # Each client now waits 30 s, asks again, and waits again: a whole wait is watched (re-asks
    # included), and the event commits halfway through the next, when they all wait.
    time.sleep(5)
    cpu = web.cpu()
    time.sleep(OBSERVE)
    step.cpu_share = (web.cpu() - cpu) / OBSERVE
    step.rss_mib, step.threads, step.files = _proc(web.process.pid)
    time.sleep(10)
    step.waiting = int(clients.call(stats=True)["waiting"])
    committed, _ = _commit(organization, f"Feed bench {count}")
    stats = _received(clients, count, timeout=RECEIPT_TIMEOUT)
    step.received, step.errors = int(stats["received"]), dict(stats["errors"])
    step.latencies_ms = [(at - committed) * 1000 for at in clients.call(receipts=True)["receipts"]]
    clients.call(close=True)
    return step


def feed_capacity(steps: tuple[int, ...] = STEPS) -> Capacity:
    organization = Organization.objects.create(name="feed", email="feed@bench.invalid", plan=Plan.PRO)
    limit = _files_limit()
    within = tuple(count for count in steps if count + SPARE_FILES <= limit)
    beyond = [count for count in steps if count + SPARE_FILES > limit]
    stopped_by = (
        f"the open-files limit ({limit:,}): {beyond[0]:,} clients would pass it"
        if beyond
        else f"the last step ({steps[-1]:,})"
    )
    keys = _keys(organization, max(within, default=0))
    web = WebProcess()
    clients = ClientProcess(web.port, keys)
    done: list[Step] = []
    try:
        web.quiet()
        idle_rss = _proc(web.process.pid)[0]
        for count in within:
            step = _step(web, clients, organization, count)
            done.append(step)
            print(
                f"(l) {count:,} clients: "
                + (
                    step.unready
                    or f"{step.waiting:,} waiting ({step.cpu_share:.0%} of a core), {step.received:,} woken, "
                    f"{step.rss_mib:,.0f} MiB, {step.threads} threads, "
                    f"wake-up p50 {step.latency(0.5):,.0f} ms p99 {step.latency(0.99):,.0f} ms"
                )
                + f", errors {step.errors or 'none'}",
                flush=True,
            )
            if not step.held:
                stopped_by = f"{count:,} clients: " + (
                    ", ".join(f"{n} x {kind}" for kind, n in step.errors.items())
                    or step.unready
                    or f"{count - step.received:,} not woken within {RECEIPT_TIMEOUT:.0f} s"
                )
                break
            web.quiet()
    finally:
        clients.stop()
        web.stop()
    return Capacity(idle_rss, done, stopped_by)


def rows(capacity: Capacity) -> list[report.Row]:
    found: list[report.Row] = []
    for step in capacity.steps:
        if step.unready:
            found.append(
                report.Row(f"(l) {step.clients:,} clients long-polling one web process", step.unready)
            )
            continue
        per_client = (step.rss_mib - capacity.idle_rss_mib) * 1024 / step.clients
        slowest = max(step.latencies_ms, default=float("nan"))
        found.append(
            report.Row(
                f"(l) {step.clients:,} clients long-polling one web process",
                f"{step.received:,} of {step.clients:,} woken: p50 {step.latency(0.5):,.0f} ms, "
                f"p99 {step.latency(0.99):,.0f} ms, max {slowest:,.0f} ms; "
                f"{step.rss_mib:,.0f} MiB ({per_client:,.0f} KiB a client), {step.threads} threads; "
                f"waiting, {step.cpu_share:.0%} of a core"
                + (f"; errors: {step.errors}" if step.errors else ""),
            )
        )
    held = capacity.held
    found.append(
        report.Row(
            "(l) concurrent waiting clients one web process held, each woken by one commit",
            f"{held.clients:,}" if held else "none",
        )
    )
    return found
