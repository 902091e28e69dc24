"""An exchange and a queue of a test's own on the RabbitMQ at RABBITMQ_URL (127.0.0.1:5672, guest).

The broker is shared: every name is unique to the test, and both are deleted at the end. A broker
that refuses or hangs is made here too, on free ports of 127.0.0.1. No pytest here: plain context
managers, wired into fixtures by the tests (and `rabbitmq_missing` for when there is no broker).
"""

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import amqp
import pytest

from tests.e2e.broker import free_port

RABBITMQ_URL = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")


def rabbitmq_missing() -> None:
    """No broker answers: skip where none was asked for, fail where RABBITMQ_URL names one (CI)."""
    reason = f"a RabbitMQ is needed at {RABBITMQ_URL} (RABBITMQ_URL)"
    if os.environ.get("RABBITMQ_URL"):
        pytest.fail(f"{reason}, and it does not answer")
    pytest.skip(reason)


def rabbitmq_connection() -> amqp.Connection:
    """A connection for the test itself (declaring, consuming); OSError when no broker answers."""
    parts = urlsplit(RABBITMQ_URL)
    connection = amqp.Connection(
        f"{parts.hostname}:{parts.port or 5672}",
        userid=parts.username or "guest",
        password=parts.password or "guest",
        connect_timeout=2,
    )
    connection.connect()
    return connection


@dataclass
class RabbitQueue:
    """A topic exchange and a durable queue bound to it; `url()` is an endpoint URL for it."""

    connection: amqp.Connection
    channel: Any
    exchange: str
    queue: str
    received: list[amqp.Message] = field(default_factory=list)

    def url(self, *, host: str = "", password: str = "", **parameters: str) -> str:
        parts = urlsplit(RABBITMQ_URL)
        user, password = parts.username or "guest", password or parts.password or "guest"
        login = f"{quote(user, safe='')}:{quote(password, safe='')}"
        query = "&".join(
            f"{name}={quote(value, safe='')}"
            for name, value in {"exchange": self.exchange, **parameters}.items()
        )
        return f"amqp://{login}@{host or parts.netloc.rpartition('@')[2]}/?{query}"

    def wait_for(self, count: int, timeout: float = 15) -> list[amqp.Message]:
        """Every message received so far, once there are `count` of them (AssertionError otherwise)."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            message = self.channel.basic_get(self.queue, no_ack=True)
            if message is None:
                time.sleep(0.05)
            else:
                self.received.append(message)
        assert len(self.received) >= count, f"{len(self.received)} of {count} messages within {timeout} s"
        return list(self.received)

    def declare(self) -> None:
        """The exchange, with the queue bound to it for every routing key."""
        self.channel.exchange_declare(self.exchange, "topic", durable=False, auto_delete=False)
        self.channel.queue_bind(self.queue, self.exchange, "#")


@contextmanager
def rabbit_queue(
    *, declared: bool = True, queue_arguments: dict[str, Any] | None = None
) -> Iterator[RabbitQueue]:
    """A queue named for this test, and its exchange (declared now, or later with `declare()`)."""
    connection = rabbitmq_connection()
    name = f"edrv-test-{uuid.uuid4().hex[:12]}"
    channel = connection.channel()
    channel.queue_declare(name, durable=True, auto_delete=False, arguments=queue_arguments or {})
    rabbit = RabbitQueue(connection, channel, exchange=f"{name}-x", queue=name)
    if declared:
        rabbit.declare()
    try:
        yield rabbit
    finally:
        with suppress(Exception):
            channel = connection.channel()  # the test's channel may have been closed by an error
            channel.exchange_delete(rabbit.exchange)
            channel.queue_delete(rabbit.queue)
        connection.close()


@contextmanager
def silent_broker() -> Iterator[int]:
    """A port that accepts connections and never says a word: a broker that hangs."""
    listener = socket.create_server(("127.0.0.1", free_port()))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            with suppress(OSError):
                accepted.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        for sock in [*accepted, listener]:
            sock.close()
