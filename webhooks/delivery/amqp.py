"""Publishing to a RabbitMQ exchange: what webhooks/delivery/http.py is for HTTPS endpoints.

Each attempt publishes one persistent message (the body as for HTTP; the signature headers as
application headers; `message_id` the webhook-id) with `mandatory`, on a channel in confirm mode,
and waits for the broker's confirm. It returns the HttpResult that http.post returns, so that
outcomes, retries, ordering, disabling, alerts and the delivery page treat it like an HTTP attempt.
Its `status_code` is AMQP's own reply code when the broker gave one: 200 for a confirm (success),
312 when no queue is bound for the routing key, 403 refused login or permission, 404 no such
exchange, 530 no such virtual host. It is None, with an `error`, when the broker gave none: a
refused connection, a timeout, or a nack (the broker did not take the message, e.g. a full queue).
None of these disables an endpoint at once (only an HTTP 410 does): a missing exchange is as likely
a deployment under way as one gone for good, and is retried on the usual schedule.

The broker's address passes the SSRF guard (webhooks.delivery.brokers, .destinations) on every
attempt, and the connection goes to one of the very addresses checked, with TLS (amqps) checked
against the host name. Connections are kept per broker address, account and virtual host for the
next attempts (AMQP has no per-message handshake; a new connection costs several round trips). A
watchdog bounds each attempt as a whole (WEBHOOKS_TIMEOUT), connect to confirm.
URLs, passwords, headers and bodies are never logged.
"""

import logging
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from hashlib import sha256

import amqp
import certifi
from amqp.exceptions import AMQPError, MessageNacked, RecoverableConnectionError
from django.conf import settings

from webhooks.delivery import brokers, destinations
from webhooks.delivery.destinations import DestinationRefused, IpAddress
from webhooks.delivery.http import HttpResult
from webhooks.delivery.watchdog import Watchdog

logger = logging.getLogger(__name__)

CONFIRMED = 200  # AMQP's reply-success
NO_ROUTE = 312
NOT_FOUND = 404
PERSISTENT = 2
MAX_IDLE_PER_DESTINATION = 16
# No heartbeats are negotiated (nothing would send them between attempts), so an idle connection
# is not kept long: the broker or a middlebox may have dropped it since.
IDLE_SECONDS = 30.0
# scheme, host, port, ip, user, vhost, digest of the password: one pool each
_Key = tuple[str, str, int, str, str, str, str]


@dataclass(eq=False)
class _Link:
    """A connection and its one channel (in confirm mode from its first publish), used by one
    thread at a time."""

    connection: amqp.Connection
    channel: amqp.Channel
    returned: list[str] = field(default_factory=list)  # routing keys the broker returned
    idle_since: float = 0.0


@dataclass(frozen=True)
class _Cuttable:
    connection: amqp.Connection

    @property
    def sock(self) -> socket.socket | None:
        # Read past `connection.transport`, which would connect when there is none yet.
        transport = getattr(self.connection, "_transport", None)
        return transport.sock if transport is not None else None


class _Unroutable(Exception):
    """The broker returned the message: no queue is bound for its routing key."""


class _State:
    """Per process: idle connections per destination and account, and the watchdog."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.idle: dict[_Key, list[_Link]] = {}
        self.watchdog = Watchdog("webhooks-amqp-watchdog")
        self.swept_at = time.monotonic()

    def checkout(self, key: _Key) -> _Link | None:
        now = time.monotonic()
        while True:
            with self.lock:
                idle = self.idle.get(key)
                if not idle:
                    return None
                link = idle.pop()
            if now - link.idle_since < IDLE_SECONDS and link.channel.is_open:
                return link
            _discard(link)

    def checkin(self, key: _Key, link: _Link) -> None:
        now = link.idle_since = time.monotonic()
        expired: list[_Link] = []
        with self.lock:
            if now - self.swept_at >= IDLE_SECONDS:
                # Brokers no longer published to (an endpoint changed or deleted) keep no connection.
                self.swept_at = now
                for links in self.idle.values():
                    expired += [old for old in links if now - old.idle_since >= IDLE_SECONDS]
                    links[:] = [old for old in links if now - old.idle_since < IDLE_SECONDS]
                self.idle = {k: links for k, links in self.idle.items() if links}
            idle = self.idle.setdefault(key, [])
            if len(idle) < MAX_IDLE_PER_DESTINATION:
                idle.append(link)
            else:
                expired.append(link)
        for old in expired:
            _discard(old)


_state = _State()


def _state_reset() -> None:
    # A forked child (Celery prefork) must not share the parent's sockets, nor wait on its threads.
    global _state
    _state = _State()


os.register_at_fork(after_in_child=_state_reset)


def _discard(link: _Link) -> None:
    # Without the closing handshake: it could wait on a broker that no longer answers.
    with suppress(Exception):
        link.connection.collect()


@contextmanager
def _deadline(connection: amqp.Connection, deadline: float) -> Iterator[None]:
    """Whatever the connection waits for at `deadline` fails then, as a timeout."""
    token = _state.watchdog.arm(_Cuttable(connection), deadline)
    try:
        yield
    finally:
        if not _state.watchdog.disarm(token):
            raise TimeoutError


def _link_new(broker: brokers.Broker, address: IpAddress, login: tuple[str, str], deadline: float) -> _Link:
    tls: dict[str, object] | bool = False
    if broker.target.scheme == "amqps":
        cafile = os.environ.get("REQUESTS_CA_BUNDLE") or certifi.where()  # as http.py's HTTPS
        tls = {"server_hostname": broker.target.host, "ca_certs": cafile, "cert_reqs": ssl.CERT_REQUIRED}
    host = f"[{address}]" if address.version == 6 else str(address)
    remaining = max(deadline - time.monotonic(), 0.001)
    connection = amqp.Connection(
        f"{host}:{broker.target.port}",
        userid=login[0],
        password=login[1],
        virtual_host=broker.vhost,
        ssl=tls,
        connect_timeout=remaining,
        read_timeout=remaining,
        write_timeout=remaining,
        heartbeat=0,
        client_properties={"product": "eDRV Webhooks"},
    )
    try:
        with _deadline(connection, deadline):
            connection.connect()
            link = _Link(connection, connection.channel())
    except BaseException:
        with suppress(Exception):
            connection.collect()
        raise
    returns = link.channel.events["basic_return"]  # type: ignore[attr-defined]  # not in the stubs
    returns.add(lambda exc, exchange, key, message: link.returned.append(key))
    return link


def _send(
    link: _Link, pool: _Key, broker: brokers.Broker, message: amqp.Message, key: str, deadline: float
) -> None:
    """Publish on `link` and wait for the confirm. The link goes back to the pool unless the
    attempt broke it (a channel error closes the channel; a timeout leaves frames unread)."""
    try:
        with _deadline(link.connection, deadline):
            link.returned.clear()
            link.channel.basic_publish_confirm(
                message,
                exchange=broker.exchange,
                routing_key=key,
                mandatory=True,
                confirm_timeout=max(deadline - time.monotonic(), 0.001),
            )
    except MessageNacked:
        _state.checkin(pool, link)
        raise
    except BaseException:
        _discard(link)
        raise
    _state.checkin(pool, link)
    if link.returned:  # the return came before the confirm, on a channel still fine
        raise _Unroutable(key)


def _publish(
    broker: brokers.Broker,
    addresses: list[IpAddress],
    login: tuple[str, str],
    message: amqp.Message,
    key: str,
    deadline: float,
) -> None:
    digest = sha256(login[1].encode()).hexdigest()  # the pool's key holds no password
    target = broker.target
    for index, address in enumerate(addresses):
        pool = (target.scheme, target.host, target.port, str(address), login[0], broker.vhost, digest)
        pooled = _state.checkout(pool)
        if pooled is not None:
            try:
                return _send(pooled, pool, broker, message, key, deadline)
            except TimeoutError:
                raise
            except (OSError, RecoverableConnectionError):
                if time.monotonic() >= deadline:
                    raise
                # The broker had closed this idle connection: once more on a fresh one. The message
                # may then arrive twice, as an HTTP request retried on a stale keep-alive connection may.
        try:
            link = _link_new(broker, address, login, deadline)
        except ConnectionRefusedError:
            if index + 1 == len(addresses):
                raise
            continue  # every address was checked: the next one is as legitimate
        return _send(link, pool, broker, message, key, deadline)
    raise AssertionError("no address to try")


def _message(body: bytes, headers: Mapping[str, str], event_type: str) -> amqp.Message:
    """The body as for HTTP; the HTTP headers as application headers, those that AMQP has
    properties for (content type, webhook-id, webhook-timestamp, user agent) as properties too."""
    own = {name.lower(): value for name, value in headers.items()}
    timestamp = own.get("webhook-timestamp", "")
    return amqp.Message(
        body,
        content_type=own.pop("content-type", "application/json"),
        delivery_mode=PERSISTENT,
        message_id=own.get("webhook-id"),
        timestamp=int(timestamp) if timestamp.isdigit() else None,  # unix seconds
        type=event_type,
        app_id=own.pop("user-agent", None),
        application_headers=own,
    )


def _error_describe(
    exc: BaseException, broker: brokers.Broker | None, limit: float
) -> tuple[int | None, str]:
    """The attempt's status code (the broker's reply code, if it gave one) and error text."""
    if isinstance(exc, MessageNacked):
        return None, "not confirmed: the broker refused the message (nack), e.g. a full queue"
    if isinstance(exc, _Unroutable) and broker:
        return (
            NO_ROUTE,
            f"unroutable: no queue is bound to exchange {broker.exchange!r} for routing key {str(exc)!r}",
        )
    if isinstance(exc, AMQPError) and exc.reply_code:
        if exc.reply_code == NOT_FOUND and broker and "exchange" in (exc.reply_text or ""):
            return NOT_FOUND, f"exchange not found: {broker.exchange!r} in vhost {broker.vhost!r}"
        return exc.reply_code, f"broker: {exc.reply_text or type(exc).__name__}"[:500]
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return None, f"TLS: {cause.verify_message or cause.reason or cause}"
        if isinstance(cause, ssl.SSLError):
            return None, f"TLS: {cause.reason or cause}"
        if isinstance(cause, ConnectionRefusedError):
            return None, "connection refused"
        if isinstance(cause, TimeoutError):
            return None, f"timeout after {limit:.1f} s"
        if isinstance(cause, ConnectionError | AMQPError):
            return None, "connection closed by the broker"
        if isinstance(cause, OSError) and cause.strerror:
            return None, f"network error: {cause.strerror}"
        cause = cause.__cause__ or cause.__context__
    return None, f"network error: {type(exc).__name__}"


def publish(
    url: str,
    *,
    password: str,
    body: bytes,
    headers: Mapping[str, str],
    event_type: str,
    timeout: float | None = None,
) -> HttpResult:
    """Publish `body` to the exchange of `url` (an amqp/amqps endpoint URL; `password` stands for
    its MASK) within `timeout` seconds and wait for the broker's confirm. Problems come back in
    `error`, as from http.post."""
    limit = settings.WEBHOOKS_TIMEOUT if timeout is None else timeout
    started = time.monotonic()
    status, error, host = None, "", ""
    broker: brokers.Broker | None = None
    try:
        broker = brokers.broker_parse(url)
        host = broker.target.host
        addresses = destinations.addresses_check(broker.target, started + limit)
        message = _message(body, headers, event_type)
        key = event_type if broker.routing_key is None else broker.routing_key
        _publish(broker, addresses, broker.login(password), message, key, started + limit)
        status = CONFIRMED
    except DestinationRefused as exc:
        error = f"refused destination: {exc.reason}"
    except (OSError, AMQPError, MessageNacked, _Unroutable) as exc:
        status, error = _error_describe(exc, broker, limit)
    duration_ms = round((time.monotonic() - started) * 1000)
    if error:
        logger.info(
            "webhook.amqp.failed",
            extra={"host": host, "status_code": status, "error": error, "duration_ms": duration_ms},
        )
    return HttpResult(status, "", error, duration_ms)
