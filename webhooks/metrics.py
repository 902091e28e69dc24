"""The pipeline's Prometheus figures: what each process counts, and what the outbox holds.

Web, worker and beat processes count in files of their own under PROMETHEUS_MULTIPROC_DIR
(prometheus_client's multiprocess mode, set up in settings); `GET /metrics` adds up the files of
every process of the host, those of processes that have exited included, so that a restart does
not lose what was counted. Gauges a process keeps (`livesum`) drop out when it exits
(`process_gone`), or at the next scrape when it was killed (`dead_processes_gauges_drop`).
The outbox gauges are nobody's count: `OutboxCollector` reads them from the database at each
scrape.

Callers count after their transaction commits: a batch rolled back is sent (and counted) again.
"""

import atexit
import bisect
import collections
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import BooleanField, Count, ExpressionWrapper, Min, Q
from django.utils import timezone
from prometheus_client import Counter, Gauge, Histogram, values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import mark_process_dead

from webhooks.models import Delivery, DeliveryStatus, Endpoint

logger = logging.getLogger(__name__)

SUCCEEDED, FAILED, RETRIED, SKIPPED, EXPIRED = "succeeded", "failed", "retried", "skipped", "expired"
ANSWERING, FAILING = "answering", "failing"  # an endpoint's state: its last attempt failed, or not
# A delivery an attempt left pending has another attempt scheduled.
_OUTCOME_OF_STATUS = {
    DeliveryStatus.SUCCEEDED: SUCCEEDED,
    DeliveryStatus.FAILED: FAILED,
    DeliveryStatus.PENDING: RETRIED,
}
# A scrape must answer within Prometheus's scrape timeout (10 s by default) even on a busy database.
OUTBOX_QUERY_TIMEOUT_MS = 2000

if os.environ.get("PROMETHEUS_MULTIPROC_DIR") and not getattr(values.ValueClass, "_multiprocess", False):
    # prometheus_client chooses how to store values when it is first imported: had anything imported
    # it before settings exported the directory, this process would count in memory, unseen by
    # /metrics. Every metric below is created after this line.
    values.ValueClass = values.MultiProcessValue()

EVENTS = Counter("webhooks_events_total", "Events recorded, by type.", ["type"])
DELIVERIES = Counter(
    "webhooks_deliveries_total",
    "Delivery outcomes: succeeded; retried (an attempt failed, another is scheduled); failed (the last "
    "attempt failed); skipped (the endpoint is disabled or the plan has no webhooks); expired (still "
    "pending at the end of the retention period).",
    ["outcome"],
)
ATTEMPT_DURATION = Histogram(
    "webhooks_attempt_duration_seconds",
    "Duration of every HTTP attempt, connect to last byte (or error).",
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
ATTEMPTS_IN_FLIGHT = Gauge(
    "webhooks_attempts_in_flight",
    "HTTP attempts waiting for an answer now, in the live processes of this host.",
    multiprocess_mode="livesum",
)
# Every outcome is there from the start, at 0: a rate over a series that does not exist yet is no
# rate at all, and an alert on "no success" would never fire.
for _outcome in (SUCCEEDED, RETRIED, FAILED, SKIPPED, EXPIRED):
    DELIVERIES.labels(outcome=_outcome)


def events_counted(types: Iterable[str]) -> None:
    """Count recorded events, one per type name given."""
    for name in types:
        EVENTS.labels(type=name).inc()


def deliveries_counted(outcome: str, n: int = 1) -> None:
    if n:
        DELIVERIES.labels(outcome=outcome).inc(n)


def events_counted_on_commit(types: Iterable[str]) -> None:
    """Count recorded events once the transaction recording them commits; never if it rolls back."""
    recorded = list(types)
    transaction.on_commit(lambda: events_counted(recorded), robust=True)


def deliveries_counted_on_commit(outcome: str, n: int) -> None:
    if n:
        transaction.on_commit(lambda: deliveries_counted(outcome, n), robust=True)


def attempts_settled(statuses: Iterable[str]) -> None:
    """Count attempted deliveries by the status the attempt left them in."""
    # One increment per outcome, not per delivery: each is a locked write to a shared file.
    for status, n in collections.Counter(statuses).items():
        DELIVERIES.labels(outcome=_OUTCOME_OF_STATUS[DeliveryStatus(status)]).inc(n)


def attempts_started(count: int) -> None:
    """`count` HTTP attempts are under way (one write for a group: each is a locked write)."""
    if count:
        ATTEMPTS_IN_FLIGHT.inc(count)


def attempts_ended(seconds: Sequence[float], *, started: int) -> None:
    """`started` attempts are over, of which those that were made took `seconds` each.

    The durations go into the histogram a bucket at a time: `observe()` writes its sum and a bucket
    for every value, a locked write to a shared file each, which cost a worker as much as a tenth
    of a delivery's CPU. What a bucket counts is the same as `observe()`'s (tests/ops/test_metrics.py
    holds it to that, on the private attributes of prometheus_client's Histogram this reads).
    """
    if started:
        ATTEMPTS_IN_FLIGHT.dec(started)
    if not seconds:
        return
    bounds = ATTEMPT_DURATION._upper_bounds
    per_bucket = collections.Counter(bisect.bisect_left(bounds, value) for value in seconds)
    ATTEMPT_DURATION._sum.inc(sum(seconds))
    for index, count in per_bucket.items():
        ATTEMPT_DURATION._buckets[index].inc(count)


def process_gone(*, pid: int) -> None:
    """Drop the gauges of an exited process; its counters stay and keep counting."""
    mark_process_dead(pid, settings.PROMETHEUS_MULTIPROC_DIR)


def dead_processes_gauges_drop() -> None:
    """Drop the gauges of processes that died without a word (SIGKILL, out of memory).

    prometheus_client names files by pid, so the processes sharing a directory must share a pid
    namespace (one host, or one container): a pid that does not exist here is a dead process.
    """
    for path in Path(settings.PROMETHEUS_MULTIPROC_DIR).glob("gauge_live*_*.db"):
        pid = path.stem.rpartition("_")[2]
        if pid.isdigit() and not _alive(int(pid)):
            process_gone(pid=int(pid))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # no signal sent: only whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, as another user
        return True
    return True


# Web, beat and command processes leave through here; Celery's pool children do not (os._exit),
# edrv_project/celery.py sees to them and to the worker itself.
atexit.register(lambda: process_gone(pid=os.getpid()))


class OutboxCollector:
    """The outbox gauges, read from the database at scrape time (the same on every host).

    Due deliveries are split by their endpoint's state: those of an endpoint whose last attempts
    failed wait by design (one send at a time, later events of a chain behind a retried one), so
    only the `answering` ones say whether the workers keep up. A database that cannot be reached
    leaves the gauges out and sets `webhooks_outbox_up` to 0: the scrape still succeeds.
    """

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "webhooks_outbox_up", "1 when the outbox gauges could be read from the database, else 0."
        )
        try:
            due, disabled = _outbox_state()
        except DatabaseError as exc:
            logger.warning("webhooks.metrics.database_unavailable", extra={"error": str(exc)})
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        count = GaugeMetricFamily(
            "webhooks_outbox_due",
            "Deliveries pending and due now, by endpoint state (failing: its last attempt failed).",
            labels=["endpoint"],
        )
        age = GaugeMetricFamily(
            "webhooks_outbox_oldest_due_seconds",
            "Seconds since the oldest pending delivery became due (0 when none is due), by endpoint state.",
            labels=["endpoint"],
        )
        now = timezone.now()
        for state in (ANSWERING, FAILING):
            n, oldest = due.get(state, (0, None))
            count.add_metric([state], n)
            age.add_metric([state], max((now - oldest).total_seconds(), 0.0) if oldest else 0.0)
        yield count
        yield age
        yield GaugeMetricFamily(
            "webhooks_endpoints_disabled", "Endpoints not active (disabled or paused).", value=disabled
        )


def _outbox_state() -> tuple[dict[str, tuple[int, datetime | None]], int]:
    """({endpoint state: (deliveries due, when the oldest became due)}, endpoints disabled)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('statement_timeout', %s, true)", [str(OUTBOX_QUERY_TIMEOUT_MS)]
                )
        # Pending and due: a range of the partial index `delivery_due`, which claims read too.
        rows = (
            Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now())
            .annotate(
                failing=ExpressionWrapper(
                    Q(endpoint__consecutive_failures__gt=0), output_field=BooleanField()
                )
            )
            .values("failing")
            .annotate(n=Count("*"), oldest=Min("next_attempt_at"))
            .order_by()
        )
        due = {FAILING if row["failing"] else ANSWERING: (row["n"], row["oldest"]) for row in rows}
        disabled = Endpoint.objects.filter(active=False).count()
    return due, disabled
