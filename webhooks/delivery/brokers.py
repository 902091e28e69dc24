"""RabbitMQ destinations: what an endpoint URL of a broker says, and whether it may receive webhooks.

    amqps://user:password@host:port/vhost?exchange=NAME&routing_key=KEY

The host passes the SSRF guard of HTTP endpoints (webhooks.delivery.destinations): the same
spelling rules, every resolved address checked, and webhooks.delivery.amqp connects to one of
those very addresses. `amqps://` is AMQP over TLS (port 5671 by default, certificate checked
against the host name); plain `amqp://` (5672) is allowed where `http://` is (WEBHOOKS_ALLOW_HTTP,
or DEBUG). The user and password are percent-decoded, as in RabbitMQ's URI spec; no user at all
is the spec's default account (guest/guest). The virtual host is the path's one segment ("/"
when there is none: write a "/" inside a name as %2F). `exchange` is required; `routing_key`
defaults to each event's type.

The password is a secret. An endpoint keeps its URL with the password written as MASK (what every
page, answer, log line and audit entry then shows) and the password itself encrypted
(Endpoint.url_password); a URL given back with MASK keeps the stored password.
"""

import time
from dataclasses import dataclass, replace
from urllib.parse import parse_qsl, unquote, urlsplit

from django.conf import settings

from webhooks.delivery import destinations
from webhooks.delivery.destinations import DestinationRefused, Target

SCHEMES = {"amqps": 5671, "amqp": 5672}  # and their default ports
MASK = "****"
DEFAULT_VHOST = "/"
DEFAULT_LOGIN = ("guest", "guest")  # RabbitMQ's URI spec: a URL without user and password
MAX_NAME_BYTES = 255  # AMQP's shortstr: exchange names and routing keys
PARAMETERS = ("exchange", "routing_key")


@dataclass(frozen=True, slots=True)
class Broker:
    target: Target  # scheme amqp or amqps, host, port
    user: str
    password: str | None  # None: the URL has none (MASK when it stands for a stored one)
    vhost: str
    exchange: str
    routing_key: str | None  # None: each event's type

    def login(self, stored_password: str) -> tuple[str, str]:
        """User and password to log in with: MASK stands for the endpoint's stored password."""
        return self.user, stored_password if self.password == MASK else (self.password or "")

    @property
    def account(self) -> tuple[str, str, int, str]:
        """Who logs in where: a stored password is only ever sent to the same account."""
        return (self.target.scheme, self.target.host, self.target.port, self.user)


def is_broker_url(url: str) -> bool:
    return url.strip().partition(":")[0].lower() in SCHEMES


def broker_parse(url: str) -> Broker:
    """Parse a broker URL; DestinationRefused, its reason fit for users, when it cannot be used."""
    parts = destinations.url_split(url)
    port = parts.port
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise DestinationRefused("a broker's URL starts with amqps://")
    if scheme == "amqp" and not (settings.DEBUG or settings.WEBHOOKS_ALLOW_HTTP):
        raise DestinationRefused("TLS is required: use amqps://")
    if parts.fragment:
        raise DestinationRefused("a broker's URL has no #fragment")
    userinfo, at, host_port = parts.netloc.rpartition("@")
    # The host rules (IDNA, no ambiguous IP spellings, no zone ids) are those of HTTP endpoints.
    host = destinations.target_parse(f"https://{host_port}/")
    target = replace(host, scheme=scheme, port=port or SCHEMES[scheme], path="")
    user, password = _login_parse(userinfo) if at else DEFAULT_LOGIN
    exchange, routing_key = _parameters(parts.query)
    return Broker(target, user, password, _vhost(parts.path), exchange, routing_key)


def _login_parse(userinfo: str) -> tuple[str, str | None]:
    user, colon, password = userinfo.partition(":")
    if not user:
        raise DestinationRefused("a user name is needed before the password")
    if not colon:
        return unquote(user), None
    return unquote(user), password if password == MASK else unquote(password)


def _vhost(path: str) -> str:
    if path in ("", "/"):
        return DEFAULT_VHOST
    name = path[1:]
    if "/" in name:
        raise DestinationRefused("the virtual host is one path segment: write a / in its name as %2F")
    return unquote(name)


def _parameters(query: str) -> tuple[str, str | None]:
    """The exchange and the routing key (None: not given)."""
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise DestinationRefused("malformed query: give ?exchange=NAME&routing_key=KEY") from None
    given: dict[str, str] = {}
    for name, value in pairs:
        if name not in PARAMETERS:
            raise DestinationRefused(f"unknown parameter {name!r}: only exchange and routing_key are")
        if name in given:
            raise DestinationRefused(f"{name} is given twice")
        if len(value.encode()) > MAX_NAME_BYTES:
            raise DestinationRefused(f"{name} is longer than {MAX_NAME_BYTES} bytes")
        given[name] = value
    if not given.get("exchange"):
        raise DestinationRefused("the exchange is missing: add ?exchange=NAME")
    return given["exchange"], given.get("routing_key")


def broker_check(url: str) -> Broker:
    """`url` parsed, its host resolved and every address accepted by the SSRF guard; else
    DestinationRefused, its message fit for users."""
    broker = broker_parse(url)
    try:
        destinations.addresses_check(broker.target, time.monotonic() + settings.WEBHOOKS_TIMEOUT)
    except TimeoutError:
        raise DestinationRefused("the host name could not be resolved in time") from None
    return broker


def password_split(url: str) -> tuple[str, str | None]:
    """The URL as it is stored and shown (its password as MASK), and the password: "" when it has
    none, None when it already carries MASK (the stored password stands)."""
    if not is_broker_url(url):
        return url, ""
    userinfo = urlsplit(url).netloc.rpartition("@")[0]
    user, _, password = userinfo.partition(":")
    if not password:
        return url, ""
    if password == MASK:
        return url, None
    start = url.index("//") + 2  # where the netloc, and so the user, begins
    return url[:start] + f"{user}:{MASK}" + url[start + len(userinfo) :], unquote(password)


def same_account(url: str, other: str) -> bool:
    """Both URLs log in as the same user on the same broker (scheme, host, port)."""
    try:
        return broker_parse(url).account == broker_parse(other).account
    except DestinationRefused:
        return False
