"""The only code that opens outgoing sockets (DESIGN section 8, issue 3 section 6).

Every destination is resolved and *every* address checked; the connection then goes to one of
those very addresses (no second DNS lookup, so no rebinding window), with Host header, SNI and
certificate check on the hostname. A watchdog bounds each request as a whole: socket timeouts
bound only one read, and a server that trickles bytes would otherwise hold a worker thread.
Headers, bodies and URLs are never logged: they carry signatures and, often, tokens.
"""

import contextlib
import heapq
import http.client
import ipaddress
import itertools
import logging
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import quote, urlsplit

import certifi
import urllib3.exceptions
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from urllib3.connection import HTTPConnection, HTTPSConnection

logger = logging.getLogger(__name__)

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_Key = tuple[str, str, int, str]  # scheme, host, port, ip: one keep-alive pool each
_Answer = tuple[int, str, float | None]  # status, body excerpt, Retry-After seconds
MAX_URL_LENGTH = 2048
EXCERPT_BYTES = 2048
MAX_IDLE_PER_DESTINATION = 32
# Most specific first: the first match names the reason users see.
_REFUSED = tuple(
    (ipaddress.ip_network(cidr), label)
    for cidr, label in (
        ("0.0.0.0/32", "unspecified"), ("0.0.0.0/8", "this-network"), ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared (CGNAT)"), ("127.0.0.0/8", "loopback"), ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"), ("192.0.0.0/24", "IETF protocol"), ("192.0.2.0/24", "documentation"),
        ("192.168.0.0/16", "private"), ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"), ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"), ("255.255.255.255/32", "broadcast"), ("240.0.0.0/4", "reserved"),
        ("::/128", "unspecified"), ("::1/128", "loopback"), ("::ffff:0:0/96", "IPv4-mapped"),
        ("::/96", "IPv4-compatible"), ("64:ff9b::/96", "NAT64"), ("64:ff9b:1::/48", "NAT64"),
        ("2001::/32", "Teredo"), ("2001:db8::/32", "documentation"), ("2002::/16", "6to4"),
        ("fc00::/7", "unique-local"), ("fe80::/10", "link-local"), ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
)  # fmt: skip
# A number as last label (WHATWG "ends in a number") makes an IPv4 literal, which must be canonical.
_NUMERIC_LABEL = re.compile(r"^(\d+|0x[0-9a-f]*)$")
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class DestinationRefused(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class HttpResult:
    status_code: int | None
    body_excerpt: str
    error: str
    duration_ms: int
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return not self.error and self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True, slots=True)
class _Target:
    scheme: str
    host: str  # IDNA ASCII without trailing dot: Host header, SNI, certificate name
    dns_host: str
    port: int
    path: str

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == (443 if self.scheme == "https" else 80) else f"{host}:{self.port}"


class _Watchdog:
    """One daemon thread that cuts the socket of any request still running at its deadline."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int]] = []
        self._armed: dict[int, HTTPConnection] = {}
        self._tokens = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, conn: HTTPConnection, deadline: float) -> int:
        with self._cond:
            token = next(self._tokens)
            self._armed[token] = conn
            heapq.heappush(self._heap, (deadline, token))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="webhooks-http-watchdog", daemon=True)
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


class _State:
    """Per-process: keep-alive connections per (scheme, host, port, ip), watchdog, resolver, caches."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.idle: dict[_Key, list[HTTPConnection]] = {}
        self.watchdog = _Watchdog()
        # getaddrinfo has no timeout of its own; a pool lets the caller stop waiting for it.
        self.resolver = ThreadPoolExecutor(max_workers=8, thread_name_prefix="webhooks-dns")
        self.ssl_contexts: dict[str, ssl.SSLContext] = {}
        self.networks: dict[tuple[str, ...], tuple[IpNetwork, ...]] = {}

    def checkout(self, key: _Key) -> HTTPConnection | None:
        while True:
            with self.lock:
                idle = self.idle.get(key)
                if not idle:
                    return None
                conn = idle.pop()
            if conn.is_connected:  # False once the server has closed its side
                return conn
            conn.close()

    def checkin(self, key: _Key, conn: HTTPConnection) -> None:
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


def _target_parse(url: str) -> _Target:
    if len(url) > MAX_URL_LENGTH:
        raise DestinationRefused(f"URL longer than {MAX_URL_LENGTH} characters")
    if any(char.isspace() or not char.isprintable() for char in url):
        raise DestinationRefused("malformed URL: spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
        hostname = parts.hostname or ""
        dns_host = hostname.encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        raise DestinationRefused("malformed URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise DestinationRefused("the URL must start with https://")
    if scheme == "http" and not (settings.DEBUG or settings.WEBHOOKS_ALLOW_HTTP):
        raise DestinationRefused("HTTPS is required")
    if "@" in parts.netloc:
        raise DestinationRefused("credentials in the URL are not allowed")
    host = dns_host.removesuffix(".")
    if not host or "%" in host:
        raise DestinationRefused("malformed URL: no valid host")
    if ":" not in host and _NUMERIC_LABEL.match(host.rsplit(".", 1)[-1]):
        # Decimal, octal and hex spellings (2130706433, 0177.0.0.1, 0x7f.1) parse differently
        # from one library to the next; a real endpoint never needs them.
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise DestinationRefused(f"ambiguous IP address spelling {hostname}") from None
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    if parts.query:
        path += "?" + quote(parts.query, safe="/?%:@!$&'()*+,;=-._~")
    return _Target(scheme, host, dns_host, port or (443 if scheme == "https" else 80), path)


def _allowed_networks() -> tuple[IpNetwork, ...]:
    value = settings.WEBHOOKS_ALLOWED_NETWORKS
    raw = tuple(value.split(",") if isinstance(value, str) else value)
    cached = _state.networks.get(raw)
    if cached is None:
        try:
            cached = tuple(ipaddress.ip_network(item.strip(), strict=False) for item in raw if item.strip())
        except ValueError as exc:
            raise ImproperlyConfigured(f"WEBHOOKS_ALLOWED_NETWORKS: {exc}") from exc
        _state.networks[raw] = cached
    return cached


def _address_refusal(address: IpAddress) -> str:
    if any(address in network for network in _allowed_networks()):
        return ""
    label = next((label for network, label in _REFUSED if address in network), "")
    if not label and not address.is_global:
        label = "reserved"  # whatever else IANA lists as not globally reachable
    return f"{label} address {address}" if label else ""


def _addresses_check(target: _Target, deadline: float) -> list[IpAddress]:
    """Resolve `target` and return its addresses; refuse if any single one is not allowed."""
    try:
        addresses: list[IpAddress] = [ipaddress.ip_address(target.host)]
    except ValueError:
        future = _state.resolver.submit(
            socket.getaddrinfo, target.dns_host, target.port, 0, socket.SOCK_STREAM
        )
        try:
            infos = future.result(timeout=max(deadline - time.monotonic(), 0.001))
        except TimeoutError:
            raise TimeoutError("DNS resolution timed out") from None
        except (socket.gaierror, UnicodeError):
            raise DestinationRefused(f"host {target.host} does not resolve") from None
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    for address in addresses:
        if reason := _address_refusal(address):
            raise DestinationRefused(reason)
    return addresses


def destination_check(url: str) -> None:
    """Raise DestinationRefused, its message fit for users, unless `url` may receive webhooks."""
    try:
        _addresses_check(_target_parse(url), time.monotonic() + settings.WEBHOOKS_TIMEOUT)
    except TimeoutError:
        raise DestinationRefused("the host name could not be resolved in time") from None


def _connection_new(target: _Target, address: IpAddress) -> HTTPConnection:
    if target.scheme == "http":
        return HTTPConnection(str(address), target.port)
    cafile = os.environ.get("REQUESTS_CA_BUNDLE") or certifi.where()  # the variable `requests` honours
    return HTTPSConnection(
        str(address), target.port, server_hostname=target.host, ssl_context=_state.ssl_context(cafile)
    )


def _retry_after_parse(value: str | None) -> float | None:
    value = (value or "").strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(when.timestamp() - time.time(), 0.0) if when.tzinfo else None


def _exchange_on(
    conn: HTTPConnection, key: _Key, path: str, body: bytes, headers: dict[str, str], deadline: float
) -> _Answer:
    token = _state.watchdog.arm(conn, deadline)
    reusable = False
    try:
        conn.timeout = max(deadline - time.monotonic(), 0.001)
        if conn.sock is None:
            conn.connect()
        conn.request("POST", path, body=body, headers=headers, preload_content=False)
        response = conn.getresponse()
        excerpt = response.read(EXCERPT_BYTES, decode_content=False)
        # One byte more tells whether the body is over; if not, stop reading and drop the connection.
        finished = len(excerpt) < EXCERPT_BYTES or not response.read(1, decode_content=False)
        # http.client has already let go of the socket (sock None) if the server said it would close.
        reusable = finished and conn.sock is not None
        response.close()
        retry_after = _retry_after_parse(response.headers.get("retry-after"))
        return response.status, excerpt.decode(errors="replace"), retry_after
    finally:
        if not _state.watchdog.disarm(token):
            conn.close()
            raise TimeoutError  # whatever the cut socket made the read look like
        if reusable:
            _state.checkin(key, conn)
        else:
            conn.close()


def _exchange(
    target: _Target, addresses: list[IpAddress], body: bytes, headers: dict[str, str], deadline: float
) -> _Answer:
    for index, address in enumerate(addresses):
        key = (target.scheme, target.host, target.port, str(address))
        pooled = _state.checkout(key)
        try:
            conn = pooled or _connection_new(target, address)
            return _exchange_on(conn, key, target.path, body, headers, deadline)
        except urllib3.exceptions.NewConnectionError:
            if index + 1 == len(addresses):
                raise  # else: every address was checked, the next one is as legitimate
        except _STALE:
            if pooled is None or time.monotonic() >= deadline:
                raise
            # The server had closed this idle keep-alive connection: once more on a fresh one.
            return _exchange_on(_connection_new(target, address), key, target.path, body, headers, deadline)
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
        if isinstance(cause, TimeoutError | urllib3.exceptions.ConnectTimeoutError) and not isinstance(
            cause, urllib3.exceptions.NewConnectionError
        ):
            return f"timeout after {limit:.1f} s"
        if isinstance(cause, http.client.RemoteDisconnected):  # a ConnectionResetError too
            return "connection closed without a response"
        if isinstance(cause, ConnectionResetError):
            return "connection reset by the server"
        if isinstance(cause, http.client.HTTPException):
            return f"invalid HTTP response ({type(cause).__name__})"
        if isinstance(cause, OSError) and cause.strerror:
            return f"network error: {cause.strerror}"
        cause = cause.__cause__ or cause.__context__
    return f"network error: {exc}"


def post(url: str, *, body: bytes, headers: Mapping[str, str], timeout: float | None = None) -> HttpResult:
    """POST `body` to `url` within `timeout` seconds; network problems come back in `error`."""
    limit = settings.WEBHOOKS_TIMEOUT if timeout is None else timeout
    started = time.monotonic()
    status, excerpt, error, retry_after, host = None, "", "", None, ""
    try:
        target = _target_parse(url)
        host = target.host
        addresses = _addresses_check(target, started + limit)
        sent = {**{k: v for k, v in headers.items() if k.lower() != "host"}, "Host": target.host_header}
        status, excerpt, retry_after = _exchange(target, addresses, body, sent, started + limit)
    except DestinationRefused as exc:
        error = f"refused destination: {exc.reason}"
    except (OSError, http.client.HTTPException, urllib3.exceptions.HTTPError) as exc:
        error = _error_describe(exc, limit)
    duration_ms = round((time.monotonic() - started) * 1000)
    if error:
        logger.info("webhook.http.failed", extra={"host": host, "error": error, "duration_ms": duration_ms})
    return HttpResult(status, excerpt, error, duration_ms, retry_after)
