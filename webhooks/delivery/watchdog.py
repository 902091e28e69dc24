"""A deadline for a whole exchange on a socket, HTTP request or AMQP publish.

Socket timeouts bound only one read: a server that trickles bytes (or AMQP frames) would
otherwise hold a worker thread for as long as it likes. One daemon thread per watchdog shuts
down the socket of whatever is still armed at its deadline; the caller then sees a failed read.
"""

import contextlib
import heapq
import itertools
import socket
import threading
import time
from typing import Protocol


class Socketed(Protocol):
    """A connection whose socket (None before connecting or after closing) can be cut."""

    @property
    def sock(self) -> socket.socket | None: ...


class Watchdog:
    """One daemon thread that cuts the socket of any connection still armed at its deadline."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int]] = []
        self._armed: dict[int, Socketed] = {}
        self._tokens = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, conn: Socketed, deadline: float) -> int:
        with self._cond:
            token = next(self._tokens)
            self._armed[token] = conn
            heapq.heappush(self._heap, (deadline, token))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            elif self._heap[0][1] == token:
                self._cond.notify()
        return token

    def disarm(self, token: int) -> bool:
        """False when the deadline had passed and the socket was cut."""
        with self._cond:
            return self._armed.pop(token, None) is not None

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][1] not in self._armed:
                    heapq.heappop(self._heap)
                wait = self._heap[0][0] - time.monotonic() if self._heap else None
                if wait is None or wait > 0:
                    self._cond.wait(wait)
                    continue
                conn = self._armed.pop(heapq.heappop(self._heap)[1])
            sock = conn.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    # The plain-socket method: on an SSLSocket it cuts the fd without touching TLS state.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
