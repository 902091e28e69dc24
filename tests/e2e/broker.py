"""The broker an end-to-end test shares with its worker, and a way to take it away.

- `Broker`: where tasks go. CI's Redis (`REDIS_URL`, a database number of our own) as is;
  without it, a fresh folder for kombu's filesystem transport.
- `publishing_to(app, broker)`: points the test process's own Celery app at that broker for
  the duration of a test. Celery caches a connection pool (`app.pool`) and a producer pool
  (`app.amqp.producer_pool`) on first use, built from the configuration of that moment, so
  both are closed and dropped on the way in and on the way out.
- `BrokerOutage`: a TCP proxy in front of Redis that can refuse service and come back on the
  same port, without touching the Redis other people use.
- `PrivateRedis`: a throwaway `redis-server` for the outage tests when there is no `REDIS_URL`.

No pytest here: plain context managers, wired into fixtures by conftest.py.
"""

import os
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import kombu.pools
import redis
from celery import Celery
from django.conf import settings

# What settings.py gives Redis when REDIS_URL is set; used when the test brings its own Redis.
REDIS_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5}


@dataclass(frozen=True)
class Broker:
    url: str
    transport_options: dict[str, Any]
    env: dict[str, str | None]  # what a worker's environment needs; None removes a variable
    outage: "BrokerOutage | None" = None

    @property
    def is_redis(self) -> bool:
        return self.url.startswith("redis")


def filesystem_broker(folder: Path) -> Broker:
    """Kombu's filesystem transport in `folder`, as settings.py builds it for CELERY_FILESYSTEM_BROKER_DIR."""
    folder.mkdir(parents=True, exist_ok=True)
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "processed_folder": str(folder),
        "store_processed": False,
        "control_folder": str(folder / "control"),
        "polling_interval": 0.2,
    }
    return Broker("filesystem://", options, {"REDIS_URL": None, "CELERY_FILESYSTEM_BROKER_DIR": str(folder)})


def redis_broker(url: str, outage: "BrokerOutage | None" = None) -> Broker:
    options = (
        dict(settings.CELERY_BROKER_TRANSPORT_OPTIONS) if settings.REDIS_URL else REDIS_TRANSPORT_OPTIONS
    )
    return Broker(url, options, {"REDIS_URL": url, "CELERY_FILESYSTEM_BROKER_DIR": None}, outage)


def pools_reset(app: Celery) -> None:
    """Close and forget the connections Celery cached for the previous broker configuration.

    Kombu keeps process-wide pools keyed by broker URL and options (`kombu.pools`), and the
    app keeps a reference to its two (`app._pool`, `app.amqp._producer_pool`): clearing only
    the app's would hand the next test the closed pool of the same URL. No public API drops
    the app's references; Celery's own after-fork hook clears the same two attributes.
    """
    kombu.pools.reset()
    state: Any = app
    state._pool = None
    state.amqp._producer_pool = None


@contextmanager
def publishing_to(app: Celery, broker: Broker) -> Iterator[None]:
    if os.environ.get("CELERY_BROKER_URL"):
        raise RuntimeError(
            "CELERY_BROKER_URL is set: it overrides app.conf.broker_url; unset it for e2e tests"
        )
    # Here, not at the top: the fault harness imports this module before Django is set up.
    from webhooks.delivery import queue
    from webhooks.outbox import publishing

    saved = {key: app.conf[key] for key in ("broker_url", "broker_transport_options", "task_always_eager")}
    # Ids committed before (an earlier test's) go to the broker they were meant for, not this one.
    publishing.publisher_flush()
    app.conf.update(broker_url=broker.url, broker_transport_options=broker.transport_options)
    app.conf.task_always_eager = False  # the point is the real broker, whatever a unit test set
    pools_reset(app)
    queue.broker_backoff_reset()
    try:
        yield
    finally:
        publishing.publisher_flush()
        app.conf.update(saved)
        pools_reset(app)
        queue.broker_backoff_reset()


def queue_purge(app: Celery, broker: Broker) -> None:
    """Drop tasks a previous test left on the broker, waiting or delivered-but-unacked.

    Only keys of this broker's own database are touched (never FLUSHDB). Unacked tasks of a
    killed worker would otherwise come back after the visibility timeout in a later test.
    """
    with app.connection_for_write() as connection:
        app.control.purge(connection=connection)
        if broker.is_redis:
            channel: Any = connection.default_channel
            channel.client.delete(channel.unacked_key, channel.unacked_index_key, channel.unacked_mutex_key)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class PrivateRedis:
    """A `redis-server` of our own on a free port, nothing persisted."""

    def __init__(self, executable: str = "/usr/bin/redis-server") -> None:
        self.executable = executable
        self.port = free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="e2e-redis-")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def __enter__(self) -> "PrivateRedis":
        command = [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--dir", self._dir.name]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self._process.poll() is not None:
                    self.__exit__(None, None, None)
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.05)
        client.close()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._dir.cleanup()


class BrokerOutage:
    """A TCP proxy to `upstream` ("redis://host:port/db") that can be paused and resumed.

    Paused, it closes every proxied connection and stops listening, so clients get
    "connection refused" at once, as with a Redis that is down; resumed, it listens on the
    same port again. Point the test process and the worker at `url`.

    A worker or beat whose broker connection drops retries `CELERY_BROKER_CONNECTION_MAX_RETRIES`
    times: with 0 it exits ("Unrecoverable error") instead of waiting for the broker to return.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._live: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, name="broker-proxy", daemon=True)

    @property
    def url(self) -> str:
        parts = urlsplit(self.upstream)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = f"{credentials}@127.0.0.1:{self.port}" if credentials else f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    @property
    def paused(self) -> bool:
        return self._listener is None

    def __enter__(self) -> "BrokerOutage":
        self.resume()
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._closed.set()
        self.pause()
        self._thread.join(5)

    def pause(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            live, self._live = self._live, set()
        for sock in [*live, *([listener] if listener else [])]:
            _close(sock)

    def resume(self) -> None:
        with self._lock:
            if self._listener is not None:
                return
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(64)
            listener.settimeout(0.1)  # so the loop notices pause() and close promptly
            self._listener = listener

    def _accept_loop(self) -> None:
        upstream = urlsplit(self.upstream)
        while not self._closed.is_set():
            listener = self._listener
            if listener is None:
                time.sleep(0.05)
                continue
            try:
                client, _ = listener.accept()
            except OSError:  # a timeout, or the listener closed by pause()
                continue
            try:
                server = socket.create_connection((upstream.hostname, upstream.port or 6379), timeout=2)
            except OSError:
                _close(client)  # Redis itself is unreachable: the client sees its connection drop
                continue
            client.settimeout(None)
            server.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # paused meanwhile: this connection must not live
                    _close(client)
                    _close(server)
                    continue
                self._live |= {client, server}
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass  # the other side, or pause(), closed the connection
        finally:
            with self._lock:
                self._live -= {source, target}
            _close(source)
            _close(target)


def _close(sock: socket.socket) -> None:
    # shutdown() first: it wakes a thread blocked in recv() on this socket, close() alone does not.
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
