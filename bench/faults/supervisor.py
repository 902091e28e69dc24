"""Restart a worker or beat that exited on its own, as `Restart=always` (systemd) or a pod's
restart policy would, and remember that it happened.

A crash is a finding in itself (the product should ride out the fault without one), so each is
booked with the process's last CRITICAL/ERROR line and shows up in the scenario's row; but the
harness carries on like production would, so that the later scenarios and the count of lost
events are not skewed by a dead worker.
"""

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.e2e.processes import CeleryProcess

CHECK_EVERY = 0.5
READY_TIMEOUT = 15.0
_CRITICAL = re.compile(r"CRITICAL/MainProcess\] (.+)")
_ERROR = re.compile(r"ERROR/MainProcess\] (.+)")


@dataclass(frozen=True)
class Crash:
    at: float
    process: str
    reason: str


class Supervisor:
    def __init__(self, processes: Callable[[], list[CeleryProcess]]) -> None:
        self.processes = processes
        self.crashes: list[Crash] = []
        self._held = 0
        self._down: set[str] = set()  # crashed and not yet back: one crash however many tries
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)

    def start(self) -> "Supervisor":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(60)

    @contextmanager
    def hold(self) -> Iterator[None]:
        """While held, a process that is down was taken down on purpose: leave it be."""
        with self._lock:
            self._held += 1
        try:
            yield
        finally:
            with self._lock:
                self._held -= 1

    def _run(self) -> None:
        while not self._stop.wait(CHECK_EVERY):
            with self._lock:
                if self._held:
                    continue
                for process in self.processes():
                    if process.starts and not process.running:
                        self._restart(process)

    def _restart(self, process: CeleryProcess) -> None:
        if process.name not in self._down:
            log = process.log_text().rpartition("===== start #")[2]  # this run of the process only
            reasons = _CRITICAL.findall(log) or _ERROR.findall(log) or ["exited"]
            self.crashes.append(Crash(time.time(), process.name, reasons[-1]))
            self._down.add(process.name)
        process.kill()  # forgets the dead one (closes its log)
        try:
            # Not ready while its broker is still down: it is killed, and tried again next round.
            process.start(timeout=READY_TIMEOUT)
        except RuntimeError:
            return
        self._down.discard(process.name)
