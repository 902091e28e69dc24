"""The only code that opens outgoing sockets (DESIGN section 8, issue 3 section 6), with
webhooks/delivery/amqp.py for endpoints that are RabbitMQ exchanges.

Every destination is resolved and *every* address checked (webhooks/delivery/destinations.py); the
connection then goes to one of those very addresses (no second DNS lookup, so no rebinding
window), with Host header, SNI and certificate check on the hostname. A watchdog bounds each
request as a whole: socket timeouts bound only one read, and a server that trickles bytes would
otherwise hold a worker thread.
The protocol itself (the request written, the answer parsed) is webhooks/delivery/http1.py.
Headers, bodies and URLs are never logged: they carry signatures and, often, tokens.
"""

import logging
import math
import os
import ssl
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import certifi
from django.conf import settings

from webhooks.delivery import http1
from webhooks.delivery.destinations import (
    DestinationRefused,
    IpAddress,
    Target,
    addresses_check,
    target_parse,
)
from webhooks.delivery.watchdog import Watchdog

logger = logging.getLogger(__name__)

_Key = tuple[str, str, int, str]  # scheme, host, port, ip: one keep-alive pool each
ResponseHeaders = tuple[tuple[str, str], ...]
# status, body excerpt, Retry-After seconds, headers kept, whether some were not
_Answer = tuple[int, str, float | None, ResponseHeaders, bool]
EXCERPT_BYTES = 2048
# The response headers kept for the delivery page: what a receiver or its proxy said, bounded
# against one that answers with kilobytes of them (cookies, traces).
MAX_RESPONSE_HEADERS = 30
MAX_RESPONSE_HEADER_CHARS = 4096
MAX_RESPONSE_HEADER_VALUE = 512
MAX_IDLE_PER_DESTINATION = 32
_STALE = (ConnectionResetError, BrokenPipeError)  # http1.ClosedWithoutAnswer is a ConnectionResetError


@dataclass(frozen=True, slots=True)
class HttpResult:
    status_code: int | None
    body_excerpt: str
    error: str
    duration_ms: int
    retry_after: float | None = None
    headers: ResponseHeaders = ()
    headers_truncated: bool = False  # some headers or the end of a value were not kept

    @property
    def ok(self) -> bool:
        return not self.error and self.status_code is not None and 200 <= self.status_code < 300


class _State:
    """Per-process: keep-alive connections per (scheme, host, port, ip), the watchdog, TLS contexts."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.idle: dict[_Key, list[http1.Connection]] = {}
        self.watchdog = Watchdog("webhooks-http-watchdog")
        self.ssl_contexts: dict[str, ssl.SSLContext] = {}

    def checkout(self, key: _Key) -> http1.Connection | None:
        while True:
            with self.lock:
                idle = self.idle.get(key)
                if not idle:
                    return None
                conn = idle.pop()
            if not conn.dropped:
                return conn
            conn.close()

    def checkin(self, key: _Key, conn: http1.Connection) -> None:
        with self.lock:
            idle = self.idle.setdefault(key, [])
            if len(idle) < MAX_IDLE_PER_DESTINATION:
                idle.append(conn)
                return
        conn.close()

    def ssl_context(self, cafile: str) -> ssl.SSLContext:
        with self.lock:
            if cafile not in self.ssl_contexts:
                self.ssl_contexts[cafile] = ssl.create_default_context(cafile=cafile)
            return self.ssl_contexts[cafile]


_state = _State()


def _state_reset() -> None:
    # A forked child (Celery prefork) must not share the parent's sockets, nor wait on its threads.
    global _state
    _state = _State()


os.register_at_fork(after_in_child=_state_reset)


def _connection_new(target: Target, address: IpAddress) -> http1.Connection:
    if target.scheme == "http":
        return http1.Connection(str(address), target.port)
    cafile = os.environ.get("REQUESTS_CA_BUNDLE") or certifi.where()  # the variable `requests` honours
    return http1.Connection(
        str(address), target.port, hostname=target.host, context=_state.ssl_context(cafile)
    )


def _retry_after_parse(value: str | None) -> float | None:
    value = (value or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(when.timestamp() - time.time(), 0.0) if when.tzinfo else None


def _storable(text: str) -> str:
    """`text` as the database can keep it: PostgreSQL's text and jsonb hold no NUL character."""
    return text.replace("\x00", "\ufffd")


def _headers_kept(headers: Iterable[tuple[str, str]]) -> tuple[ResponseHeaders, bool]:
    """The response headers in order, up to the bounds; and whether anything was left out."""
    kept: list[tuple[str, str]] = []
    room, truncated = MAX_RESPONSE_HEADER_CHARS, False
    for name, value in ((_storable(name), _storable(value)) for name, value in headers):
        if len(kept) == MAX_RESPONSE_HEADERS or len(name) >= room:
            return tuple(kept), True
        limit = min(MAX_RESPONSE_HEADER_VALUE, room - len(name))
        if len(value) > limit:
            value, truncated = value[:limit] + "…", True
        kept.append((name, value))
        room -= len(name) + len(value)
    return tuple(kept), truncated


def _exchange_on(
    conn: http1.Connection, key: _Key, target: Target, body: bytes, headers: dict[str, str], deadline: float
) -> _Answer:
    token = _state.watchdog.arm(conn, deadline)
    reusable = False
    try:
        if conn.sock is None:
            conn.connect(max(deadline - time.monotonic(), 0.001))
        answer = conn.post(
            target.path,
            host=target.host_header,
            headers=headers,
            body=body,
            excerpt=EXCERPT_BYTES,
            # Each read's, in whole seconds, so that a kept connection keeps it from one request to
            # the next (setting it is a system call that hands the GIL over: with many sender
            # threads, about a tenth of a send's CPU). The watchdog ends the exchange at its deadline.
            timeout=math.ceil(max(deadline - time.monotonic(), 0.001)),
        )
        reusable = answer.reusable  # a longer body is not read on: the connection is dropped
        retry_after = _retry_after_parse(
            next((v for n, v in answer.headers if n.lower() == "retry-after"), None)
        )
        kept, truncated = _headers_kept(answer.headers)
        return answer.status, _storable(answer.body.decode(errors="replace")), retry_after, kept, truncated
    finally:
        if not _state.watchdog.disarm(token):
            conn.close()
            raise TimeoutError  # whatever the cut socket made the read look like
        if reusable:
            _state.checkin(key, conn)
        else:
            conn.close()


def _exchange(
    target: Target, addresses: list[IpAddress], body: bytes, headers: dict[str, str], deadline: float
) -> _Answer:
    for index, address in enumerate(addresses):
        key = (target.scheme, target.host, target.port, str(address))
        pooled = _state.checkout(key)
        try:
            conn = pooled or _connection_new(target, address)
            return _exchange_on(conn, key, target, body, headers, deadline)
        except http1.Unreachable:
            if index + 1 == len(addresses):
                raise  # else: every address was checked, the next one is as legitimate
        except _STALE:
            if pooled is None or time.monotonic() >= deadline:
                raise
            # The server had closed this idle keep-alive connection: once more on a fresh one.
            return _exchange_on(_connection_new(target, address), key, target, body, headers, deadline)
    raise AssertionError("no address to try")


def _error_describe(exc: BaseException, limit: float) -> str:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS: {cause.verify_message or cause.reason or cause}"
        if isinstance(cause, ssl.SSLError):
            return f"TLS: {cause.reason or cause}"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, TimeoutError):
            return f"timeout after {limit:.1f} s"
        if isinstance(cause, http1.ClosedWithoutAnswer):  # a ConnectionResetError too
            return "connection closed without a response"
        if isinstance(cause, ConnectionResetError):
            return "connection reset by the server"
        if isinstance(cause, http1.InvalidResponse):
            return f"invalid HTTP response ({cause})"
        if isinstance(cause, http1.InvalidRequest):
            return f"invalid request ({cause})"
        if isinstance(cause, OSError) and cause.strerror:
            return f"network error: {cause.strerror}"
        cause = cause.__cause__ or cause.__context__
    return f"network error: {exc}"


def post(url: str, *, body: bytes, headers: Mapping[str, str], timeout: float | None = None) -> HttpResult:
    """POST `body` to `url` within `timeout` seconds; network problems come back in `error`."""
    limit = settings.WEBHOOKS_TIMEOUT if timeout is None else timeout
    started = time.monotonic()
    status, excerpt, error, retry_after, host = None, "", "", None, ""
    kept: ResponseHeaders = ()
    truncated = False
    try:
        target = target_parse(url)
        host = target.host
        addresses = addresses_check(target, started + limit)
        sent = {k: v for k, v in headers.items() if k.lower() != "host"}
        status, excerpt, retry_after, kept, truncated = _exchange(
            target, addresses, body, sent, started + limit
        )
    except DestinationRefused as exc:
        error = f"refused destination: {exc.reason}"
    except (http1.Unreachable, http1.InvalidResponse, http1.InvalidRequest, OSError) as exc:
        error = _error_describe(exc, limit)
    duration_ms = round((time.monotonic() - started) * 1000)
    if error:
        logger.info("webhook.http.failed", extra={"host": host, "error": error, "duration_ms": duration_ms})
    return HttpResult(status, excerpt, error, duration_ms, retry_after, kept, truncated)
