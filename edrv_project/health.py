from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from edrv_project.celery import app as celery_app


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:  # noqa: BLE001 - any failure to reach the database means "down"
        return False


def _broker_ok() -> bool:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=0, timeout=2)
        return True
    except Exception:  # noqa: BLE001 - any failure to reach the broker means "down"
        return False


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Database and broker reachability: 200 when both answer, 503 otherwise."""
    checks = {"database": _database_ok(), "broker": _broker_ok()}
    healthy = all(checks.values())
    return JsonResponse(
        {
            "status": "ok" if healthy else "unavailable",
            **{k: "ok" if v else "down" for k, v in checks.items()},
        },
        status=200 if healthy else 503,
    )
