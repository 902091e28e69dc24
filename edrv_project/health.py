"""`GET /healthz`: can this process reach its database and its broker right now?

Load balancers and `make run`'s smoke test poll it, so it must answer quickly even when a
dependency hangs rather than refuses: every check has a hard, short timeout.
"""

import logging

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET
from kombu.exceptions import KombuError

from edrv_project.celery import app as celery_app

logger = logging.getLogger(__name__)

BROKER_TIMEOUT = 2  # seconds
# The project's own socket_timeout (5 s) suits publishing; a health probe must give up sooner,
# or a broker that accepts connections but never answers would stall the probe.
BROKER_PROBE_OPTIONS = {"socket_connect_timeout": BROKER_TIMEOUT, "socket_timeout": BROKER_TIMEOUT}


def database_reachable() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        logger.warning("healthz.database.down", extra={"error": str(exc)})
        return False
    return True


def broker_reachable() -> bool:
    try:
        with celery_app.connection_for_write(transport_options=BROKER_PROBE_OPTIONS) as conn:
            conn.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT)
    except (KombuError, OSError) as exc:
        # The message names host and port, never the URL, so a broker password cannot leak here.
        logger.warning("healthz.broker.down", extra={"error": str(exc)})
        return False
    return True


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Database and broker reachability: 200 when both answer, 503 otherwise."""
    checks = {"database": database_reachable(), "broker": broker_reachable()}
    healthy = all(checks.values())
    return JsonResponse(
        {
            "status": "ok" if healthy else "unavailable",
            **{name: "ok" if ok else "down" for name, ok in checks.items()},
        },
        status=200 if healthy else 503,
    )
