"""Which destinations may receive webhooks (DESIGN section 8, issue 3 section 6).

A URL is parsed strictly, its host resolved and *every* address checked against the refused
networks (loopback, private, link-local, CGNAT, multicast, reserved, documentation, unique-local,
NAT64, IPv4-mapped, ...) unless WEBHOOKS_ALLOWED_NETWORKS opens one. webhooks/delivery/http.py then connects
to one of those very addresses: no second lookup, no DNS-rebinding window. The same check runs
when an endpoint is registered (`destination_check`) and on every connection.
"""

import ipaddress
import os
import re
import socket
import threading
import time
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import SplitResult, quote, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_URL_LENGTH = 2048
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


class DestinationRefused(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str  # IDNA ASCII without trailing dot: Host header, SNI, certificate name
    dns_host: str
    port: int
    path: str
    literal: IpAddress | None = None  # the host, when it is an IP address: nothing to resolve

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == (443 if self.scheme == "https" else 80) else f"{host}:{self.port}"


# Answers are reused this long: a stream of deliveries to one host resolves it once per period, not
# once per request. Short, well under usual DNS TTLs (getaddrinfo does not tell the TTL), so an
# endpoint moving to new addresses is followed within seconds. Caching opens no rebinding window:
# every use checks every cached address again, and http.py connects to one of those very addresses.
DNS_CACHE_SECONDS = 5.0
# "Does not resolve" is remembered shorter: a name just created is not refused for long.
DNS_NEGATIVE_CACHE_SECONDS = 1.0
# A zone that never answers must not use up what other endpoints' lookups need: beyond this many
# lookups in flight in one zone, a caller fails at once (a failed attempt, retried later).
DNS_LOOKUPS_PER_ZONE = 2
# Lookups stuck on many different silent zones at once: each holds a thread until the system
# resolver gives up, so their number is bounded too.
DNS_LOOKUPS_MAX = 64
DNS_CACHE_ENTRIES = 4096
_Answer = tuple[IpAddress, ...] | None  # None: the name does not resolve (gaierror)


def _zone(host: str) -> str:
    # Last two labels: one registered domain in most TLDs, with no public-suffix list to depend on.
    # Under a two-label suffix (example.co.uk) or a shared host (*.herokuapp.com) all names share
    # one zone: they then get DNS_LOOKUPS_PER_ZONE lookups together, which the cache makes enough.
    return ".".join(host.rsplit(".", 2)[-2:])


@dataclass
class _Dns:
    """Per process: the answers cache and the lookups in flight (one per host, a few per zone)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    cache: dict[str, tuple[float, _Answer]] = field(default_factory=dict)  # host: (expiry, answer)
    inflight: dict[str, Future[_Answer]] = field(default_factory=dict)
    zones: Counter[str] = field(default_factory=Counter)


_dns = _Dns()


def _dns_reset() -> None:
    # A forked child (Celery prefork) must not wait on its parent's lookup threads, nor its lock.
    global _dns
    _dns = _Dns()


os.register_at_fork(after_in_child=_dns_reset)


def _lookup_end(dns: _Dns, dns_host: str, zone: str) -> None:
    """Under dns.lock."""
    del dns.inflight[dns_host]
    dns.zones[zone] -= 1
    if not dns.zones[zone]:
        del dns.zones[zone]


def _lookup(dns: _Dns, dns_host: str, zone: str, future: Future[_Answer]) -> None:
    """In its own thread: getaddrinfo has no timeout, callers stop waiting for it at their deadline."""
    answer: _Answer = None
    error: BaseException | None = None
    try:
        infos = socket.getaddrinfo(dns_host, None, 0, socket.SOCK_STREAM)
        answer = tuple(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos)) or None
    except (socket.gaierror, UnicodeError):
        pass
    except BaseException as exc:  # noqa: BLE001 - handed to the callers, not cached
        error = exc
    with dns.lock:
        if error is None:
            ttl = DNS_CACHE_SECONDS if answer is not None else DNS_NEGATIVE_CACHE_SECONDS
            dns.cache.pop(dns_host, None)  # re-inserted last: the dict's order stays by age
            dns.cache[dns_host] = (time.monotonic() + ttl, answer)
            if len(dns.cache) > DNS_CACHE_ENTRIES:
                del dns.cache[next(iter(dns.cache))]
        _lookup_end(dns, dns_host, zone)
    if error is None:
        future.set_result(answer)
    else:
        future.set_exception(error)


def _resolve(target: Target, deadline: float) -> _Answer:
    dns = _dns
    with dns.lock:
        cached = dns.cache.get(target.dns_host)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        future = dns.inflight.get(target.dns_host)  # single flight: join the lookup under way
        if future is None:
            zone = _zone(target.host)
            if dns.zones[zone] >= DNS_LOOKUPS_PER_ZONE or len(dns.inflight) >= DNS_LOOKUPS_MAX:
                raise TimeoutError("DNS resolution timed out")
            future = dns.inflight[target.dns_host] = Future()
            dns.zones[zone] += 1
            args = (dns, target.dns_host, zone, future)
            try:
                # Daemon: a lookup stuck in the system resolver must not hold up the process's exit.
                threading.Thread(target=_lookup, args=args, name="webhooks-dns", daemon=True).start()
            except RuntimeError:  # no thread to be had: a failed attempt, not a host stuck forever
                _lookup_end(dns, target.dns_host, zone)
                raise TimeoutError("DNS resolution timed out") from None
    try:
        return future.result(timeout=max(deadline - time.monotonic(), 0.001))
    except TimeoutError:
        raise TimeoutError("DNS resolution timed out") from None


def url_split(url: str) -> SplitResult:
    """A destination URL's parts (an endpoint's or a broker's); DestinationRefused when it is too
    long or malformed (spaces, control characters, a port that is no number)."""
    if len(url) > MAX_URL_LENGTH:
        raise DestinationRefused(f"URL longer than {MAX_URL_LENGTH} characters")
    if any(char.isspace() or not char.isprintable() for char in url):
        raise DestinationRefused("malformed URL: spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a port that is no number raises here
    except ValueError:
        raise DestinationRefused("malformed URL") from None
    return parts


def target_parse(url: str) -> Target:
    """The destination `url` names; DestinationRefused with the reason when it may not be one."""
    return _target_parse(url, settings.DEBUG or settings.WEBHOOKS_ALLOW_HTTP)


# Every send parses its endpoint's URL: a worker sends to the same few over and over. (Refusals
# raise, and are not kept.)
@lru_cache(maxsize=1024)
def _target_parse(url: str, allow_http: bool) -> Target:
    parts = url_split(url)
    port = parts.port
    try:
        hostname = parts.hostname or ""
        dns_host = hostname.encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        raise DestinationRefused("malformed URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise DestinationRefused("the URL must start with https://")
    if scheme == "http" and not allow_http:
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
    try:
        literal: IpAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    return Target(scheme, host, dns_host, port or (443 if scheme == "https" else 80), path, literal)


def _allowed_networks() -> tuple[IpNetwork, ...]:
    value = settings.WEBHOOKS_ALLOWED_NETWORKS
    return _networks_parse(tuple(value.split(",") if isinstance(value, str) else value))


@lru_cache(maxsize=16)
def _networks_parse(raw: tuple[str, ...]) -> tuple[IpNetwork, ...]:
    try:
        return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in raw if item.strip())
    except ValueError as exc:
        raise ImproperlyConfigured(f"WEBHOOKS_ALLOWED_NETWORKS: {exc}") from exc


def _address_refusal(address: IpAddress) -> str:
    return _refusal(address, _allowed_networks())


# Checked at every send, against about thirty networks: a worker sends to the same few addresses.
@lru_cache(maxsize=1024)
def _refusal(address: IpAddress, allowed: tuple[IpNetwork, ...]) -> str:
    if any(address in network for network in allowed):
        return ""
    label = next((label for network, label in _REFUSED if address in network), "")
    if not label and not address.is_global:
        label = "reserved"  # whatever else IANA lists as not globally reachable
    return f"{label} address {address}" if label else ""


def addresses_check(target: Target, deadline: float) -> list[IpAddress]:
    """Resolve `target` and return its addresses; refuse if any single one is not allowed."""
    if target.literal is not None:
        addresses: list[IpAddress] = [target.literal]
    else:
        answer = _resolve(target, deadline)
        if answer is None:
            raise DestinationRefused(f"host {target.host} does not resolve")
        addresses = list(answer)
    for address in addresses:  # on every call, cached answers included: the setting may have changed
        if reason := _address_refusal(address):
            raise DestinationRefused(reason)
    return addresses


def destination_check(url: str) -> None:
    """Raise DestinationRefused, its message fit for users, unless `url` may receive webhooks."""
    try:
        addresses_check(target_parse(url), time.monotonic() + settings.WEBHOOKS_TIMEOUT)
    except TimeoutError:
        raise DestinationRefused("the host name could not be resolved in time") from None
