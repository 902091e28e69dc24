"""Bounded load: changes committed through the real API and through the domain services.

- `ApiLoad` POSTs `/api/v1/locations` with an organization's API key, at a fixed rate, from a
  few threads with keep-alive connections, and books every answer: when it was sent, its status
  (None when no HTTP answer came), whether a 5xx came with a JSON body.
- `ServiceLoad` calls the domain services (`location_create`, and `chargestation_update`
  toggling `public` on a few stations, whose events form FIFO chains), the very functions the
  API and the dashboard call, each one transaction. Unlike the API it does not stop when Redis
  is down, so it is what commits the bulk of the events during a broker outage.

"Committed" is never taken from these books: the ledger reads the Event rows. The books only
say what the clients were told, so that a change acknowledged without its event shows up.
"""

import http.client
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Self
from urllib.parse import urlsplit

from django.db import DatabaseError, connection

RATE_TICK = 0.002  # seconds; finer than any rate used here


@dataclass(frozen=True)
class ApiCall:
    started: float  # time.time()
    seconds: float
    status: int | None  # None: no HTTP answer at all
    json_body: bool
    object_id: str  # the `_id` of a created location
    error: str = ""


@dataclass
class Window:
    """When a fault was on (time.time()); `end` is None while it still is."""

    start: float = 0.0
    end: float | None = None

    def open(self) -> None:
        self.start, self.end = time.time(), None

    def close(self) -> None:
        self.end = time.time()

    def covers(self, moment: float) -> bool:
        return self.start <= moment <= (self.end if self.end is not None else time.time())


class _Paced:
    """Run `count` calls of `one(i)` at `rate` per second over `threads` threads."""

    def __init__(self, *, rate: float, count: int, threads: int) -> None:
        self.rate, self.count, self.threads = rate, count, threads
        self._next = 0
        self._lock = threading.Lock()
        self._started = 0.0
        self._threads: list[threading.Thread] = []

    def one(self, index: int) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Called once in each thread when its share is done."""

    def start(self) -> Self:
        self._started = time.monotonic()
        self._threads = [
            threading.Thread(target=self._run, name=f"{type(self).__name__}-{n}", daemon=True)
            for n in range(self.threads)
        ]
        for thread in self._threads:
            thread.start()
        return self

    def join(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(deadline - time.monotonic(), 0))

    @property
    def done(self) -> bool:
        return all(not t.is_alive() for t in self._threads)

    def _run(self) -> None:
        try:
            while True:
                with self._lock:
                    index, self._next = self._next, self._next + 1
                if index >= self.count:
                    return
                wait = self._started + index / self.rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                self.one(index)
        finally:
            self.finish()


class ApiLoad(_Paced):
    def __init__(
        self, *, base_url: str, api_key: str, rate: float, count: int, prefix: str, threads: int = 4
    ) -> None:
        super().__init__(rate=rate, count=count, threads=threads)
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.api_key, self.prefix = api_key, prefix
        self.calls: list[ApiCall] = []
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection(self.host, self.port, timeout=15)
        return conn

    def one(self, index: int) -> None:
        body = json.dumps({"name": f"{self.prefix}-api-{index}"}).encode()
        headers = {"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"}
        started, clock = time.time(), time.monotonic()
        status: int | None = None
        payload, error = b"", ""
        try:
            conn = self._connection()
            conn.request("POST", "/api/v1/locations", body=body, headers=headers)
            response = conn.getresponse()
            status, payload = response.status, response.read()
            if response.will_close:
                self._drop()
        except (OSError, http.client.HTTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"
            self._drop()
        try:
            parsed = json.loads(payload) if payload else None
        except ValueError:
            parsed = None
        call = ApiCall(
            started=started,
            seconds=time.monotonic() - clock,
            status=status,
            json_body=isinstance(parsed, dict),
            object_id=str(parsed.get("_id", "")) if isinstance(parsed, dict) and status == 201 else "",
            error=error,
        )
        with self._lock:
            self.calls.append(call)

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self._local.conn = None

    def finish(self) -> None:
        self._drop()


@dataclass
class ServiceBook:
    committed: int = 0
    errors: list[str] = field(default_factory=list)


class ServiceLoad(_Paced):
    """Changes through the domain services: new locations, and `public` toggles on stations.

    Each thread toggles only its own stations, so that the events of one station are committed
    in the order of their ids and a FIFO check on the receiver's side is meaningful.
    """

    def __init__(
        self,
        *,
        organization_id: int,
        rate: float,
        count: int,
        prefix: str,
        station_ids: Sequence[int] = (),
        threads: int = 2,
    ) -> None:
        super().__init__(rate=rate, count=count, threads=threads)
        self.organization_id, self.prefix = organization_id, prefix
        self.station_ids = list(station_ids)
        self.book = ServiceBook()
        self._mine = threading.local()

    def _my_stations(self) -> list[int]:
        if not hasattr(self._mine, "stations"):
            number = int(threading.current_thread().name.rsplit("-", 1)[-1])
            self._mine.stations = self.station_ids[number :: self.threads]
            self._mine.turn = 0
        return self._mine.stations

    def one(self, index: int) -> None:
        from chargestations import services
        from chargestations.models import Chargestation
        from organizations.models import Organization

        stations = self._my_stations()
        try:
            if stations and index % 4 == 3:
                self._mine.turn += 1
                station = Chargestation.objects.get(pk=stations[self._mine.turn % len(stations)])
                services.chargestation_update(chargestation=station, data={"public": not station.public})
            else:
                organization = Organization.objects.get(pk=self.organization_id)
                services.location_create(organization=organization, name=f"{self.prefix}-orm-{index}")
        except DatabaseError as exc:
            # The database went away under us: this change did not happen (or did, with its
            # event: the ledger reads the rows). A fresh connection next time.
            with self._lock:
                self.book.errors.append(type(exc).__name__)
            connection.close()
            return
        with self._lock:
            self.book.committed += 1

    def finish(self) -> None:
        connection.close()
