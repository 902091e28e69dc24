"""`GET /metrics`: the figures of every web and worker process of this host, for Prometheus.

Open to clients whose address is in METRICS_ALLOWED_NETWORKS, or that send
`Authorization: Bearer <METRICS_TOKEN>`; anybody else gets a bare 403. The address is REMOTE_ADDR,
the peer of this process: behind a reverse proxy that is the proxy, so either scrape the process
directly or let the proxy refuse /metrics from outside and use the token. X-Forwarded-For is never
believed: any client can send one.
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
    return _address_allowed(request.META.get("REMOTE_ADDR", "")) or _token_valid(
        request.headers.get("Authorization", "")
    )


def _address_allowed(address: str) -> bool:
    try:
        client = ipaddress.ip_address(address)
    except ValueError:  # no address (a Unix socket) or not one
        return False
    if isinstance(client, ipaddress.IPv6Address) and client.ipv4_mapped:
        client = client.ipv4_mapped  # an IPv4 client of a dual-stack socket
    return any(client in ipaddress.ip_network(net, strict=False) for net in settings.METRICS_ALLOWED_NETWORKS)


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
