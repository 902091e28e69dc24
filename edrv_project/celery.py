import os
from typing import Any

from celery import Celery, signals

from edrv_project.broker import transport_register

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "edrv_project.settings")

transport_register()  # redis:// brokers ride out a Redis restart (edrv_project/broker.py)
app = Celery("edrv_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The webhooks tasks live in webhooks.delivery, not in an app-level `tasks` module autodiscovery finds.
app.conf.include = ["edrv_project.tasks", "webhooks.delivery.tasks"]


# Connections live as long as in the web process (CONN_MAX_AGE, health checks): checked, not reopened,
# around each task. Celery's Django fixup would close them around every task unless
# CELERY_DB_REUSE_MAX says otherwise (settings); a new PostgreSQL connection per task costs a process
# fork on the server and more CPU than the task itself.
@signals.task_prerun.connect
@signals.task_postrun.connect
def _database_connections_recycle(**_: Any) -> None:
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        connection.close_if_unusable_or_obsolete()


# A process's gauges in /metrics (webhooks.metrics) must go when it does; its counters stay.
@signals.worker_process_shutdown.connect
def _pool_process_metrics_drop(pid: int | None = None, **_: Any) -> None:
    """A prefork child leaves through os._exit, which skips atexit: this is its last word."""
    from webhooks.metrics import process_gone  # models: Django is set up by the time a worker stops

    process_gone(pid=pid or os.getpid())


@signals.worker_shutdown.connect
def _worker_metrics_drop(**_: Any) -> None:
    """The worker's own process: with the threads pool it is the one that sends."""
    from webhooks.metrics import process_gone

    process_gone(pid=os.getpid())
