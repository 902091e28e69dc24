"""`GET /metrics`: the figures of every web and worker process of this host, for Prometheus.

Open to clients whose address is in METRICS_ALLOWED_NETWORKS, or that send
`Authorization: Bearer <METRICS_TOKEN>`; anybody else gets a bare 403.

Which address counts: the TCP peer (REMOTE_ADDR) when the request carries no X-Forwarded-For. When it
carries one, the peer must be a proxy of METRICS_TRUSTED_PROXIES, and the client is the right-most
address of the header that is not one of those proxies (each proxy appends the address it received the
request from; whatever is left of that, the client wrote). A request with the header from any other peer
is admitted by token only: the header is the client's own word, and behind a proxy uvicorn believes
(its `--forwarded-allow-ips`) REMOTE_ADDR itself was taken from it (uvicorn keeps no trace of the peer
in the ASGI scope then), so the address that looks like the peer may not be the peer's.
"""

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector

from webhooks.metrics import OutboxCollector, dead_processes_gauges_drop


def scraper_allowed(request: HttpRequest) -> bool:
    return _in_networks(client_address(request), settings.METRICS_ALLOWED_NETWORKS) or _token_valid(
        request.headers.get("Authorization", "")
    )


def client_address(request: HttpRequest) -> str | None:
    """The address the check believes (module docstring); None when none can be believed."""
    peer = request.META.get("REMOTE_ADDR", "")
    forwarded = request.headers.get("X-Forwarded-For")
    if forwarded is None:
        return peer
    trusted = settings.METRICS_TRUSTED_PROXIES
    if not _in_networks(peer, trusted):
        return None
    hops = [hop.strip() for hop in forwarded.split(",")]
    return next((hop for hop in reversed(hops) if not _in_networks(hop, trusted)), hops[0])


def _in_networks(address: str | None, networks: list[str]) -> bool:
    try:
        client = ipaddress.ip_address(address or "")
    except ValueError:  # no address (a Unix socket) or not one
        return False
    if isinstance(client, ipaddress.IPv6Address) and client.ipv4_mapped:
        client = client.ipv4_mapped  # an IPv4 client of a dual-stack socket
    return any(client in ipaddress.ip_network(net, strict=False) for net in networks)


def _token_valid(authorization: str) -> bool:
    expected = settings.METRICS_TOKEN
    scheme, _, given = authorization.partition(" ")
    if not expected or scheme.lower() != "bearer":
        return False
    # Constant time, so that the answer's timing does not give the token away a byte at a time.
    return hmac.compare_digest(given.strip().encode(), expected.encode())


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not scraper_allowed(request):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain; charset=utf-8")
    # A registry per scrape: the processes' files as they are now, and the outbox as it is now.
    dead_processes_gauges_drop()
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=settings.PROMETHEUS_MULTIPROC_DIR)
    registry.register(OutboxCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_PLAIN_0_0_4)
