"""Reads for the dashboard's charts: an endpoint's deliveries and attempt latency over the last 24 hours
and 7 days, and an organization's events by type.

Each is one aggregate query whose answer is bounded by its buckets, never by the history: deliveries by
hour and outcome (at most 7 * 24 * 3 rows), attempts by hour and duration bucket (at most 7 * 24 * 17),
events by type (a row per type of the catalog). Days are summed from hours here.

Latency percentiles are read from a histogram, on SQLite (which has no percentile function) and
PostgreSQL alike: attempts are counted per duration bucket, with the smallest and largest duration of
each, and p50 / p95 are interpolated within the bucket where their rank falls, between those two (as
Prometheus's histogram_quantile does between bounds). An estimate, exact to within its bucket: a
bucket holding one duration (or one repeated) gives it exactly.
"""

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum

from django.db.models import Case, CharField, Count, IntegerField, Max, Min, Q, Value, When
from django.db.models.functions import TruncHour
from django.utils import timezone

from organizations.models import Organization
from webhooks.models import Attempt, Delivery, DeliveryStatus, Endpoint, Event

HOURS = 24
DAYS = 7
# Upper bounds (ms, exclusive) of the duration buckets; the last bucket is open (a timeout is 5 s).
DURATION_BOUNDS = (5, 10, 25, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000)


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"  # delivered at its first attempt
    RETRIED = "retried"  # needed more than one attempt and got through, or awaits its next one
    FAILED = "failed"  # gave up: every attempt failed (or it expired undelivered)


_OUTCOME = Case(
    When(status=DeliveryStatus.SUCCEEDED, attempt_count__lte=1, then=Value(Outcome.SUCCEEDED.value)),
    When(status=DeliveryStatus.SUCCEEDED, then=Value(Outcome.RETRIED.value)),
    When(status=DeliveryStatus.PENDING, attempt_count__gte=1, then=Value(Outcome.RETRIED.value)),
    When(status__in=[DeliveryStatus.FAILED, DeliveryStatus.EXPIRED], then=Value(Outcome.FAILED.value)),
    default=Value(""),  # not tried yet, or skipped: nothing was sent
    output_field=CharField(),
)
_DURATION_BUCKET = Case(
    *(When(duration_ms__lt=bound, then=Value(index)) for index, bound in enumerate(DURATION_BOUNDS)),
    default=Value(len(DURATION_BOUNDS)),
    output_field=IntegerField(),
)


@dataclass(frozen=True)
class Bin:
    """One duration bucket of a histogram: how many attempts, and their smallest and largest duration."""

    count: int
    low: int
    high: int


def _merged(bins: Iterable[tuple[int, Bin]]) -> dict[int, Bin]:
    merged: dict[int, Bin] = {}
    for index, one in bins:
        seen = merged.get(index)
        merged[index] = (
            one
            if seen is None
            else Bin(seen.count + one.count, min(seen.low, one.low), max(seen.high, one.high))
        )
    return merged


def percentile(histogram: dict[int, Bin], q: float) -> float | None:
    """The q-quantile (0 < q ≤ 1) of the durations counted in `histogram`; None when it is empty."""
    total = sum(one.count for one in histogram.values())
    if not total:
        return None
    rank, seen = q * total, 0
    for index in sorted(histogram):
        one = histogram[index]
        if seen + one.count >= rank:
            return one.low + (one.high - one.low) * (rank - seen) / one.count
        seen += one.count
    return float(histogram[max(histogram)].high)  # not reached: the ranks add up to the total


@dataclass
class Bucket:
    """One hour or day: its deliveries by outcome and its attempts' durations."""

    start: datetime
    end: datetime
    counts: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(Outcome, 0))
    histogram: dict[int, Bin] = field(default_factory=dict)

    @property
    def deliveries(self) -> int:
        return sum(self.counts.values())

    @property
    def attempts(self) -> int:
        return sum(one.count for one in self.histogram.values())

    @property
    def p50(self) -> float | None:
        return percentile(self.histogram, 0.5)

    @property
    def p95(self) -> float | None:
        return percentile(self.histogram, 0.95)


@dataclass(frozen=True)
class Window:
    """The last 24 hours by hour, or the last 7 days by day, oldest first, with their whole."""

    name: str
    buckets: list[Bucket]
    hourly: bool

    @property
    def total(self) -> Bucket:
        whole = Bucket(start=self.buckets[0].start, end=self.buckets[-1].end)
        for one in self.buckets:
            for outcome, count in one.counts.items():
                whole.counts[outcome] += count
        whole.histogram = _merged((i, b) for one in self.buckets for i, b in one.histogram.items())
        return whole


@dataclass(frozen=True)
class EndpointActivity:
    day: Window
    week: Window


def _hours(now: datetime) -> list[Bucket]:
    # Whole hours of the current time zone (the database truncates in it), counted in UTC: 60 minutes each.
    current = timezone.localtime(now).replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    starts = [current - timedelta(hours=HOURS - 1 - n) for n in range(HOURS)]
    return [Bucket(start=start, end=start + timedelta(hours=1)) for start in starts]


def _days(now: datetime) -> list[Bucket]:
    # Days of the current time zone (the dashboard's), as every time it shows.
    zone = timezone.get_current_timezone()
    today = timezone.localtime(now, zone).date()
    starts = [
        datetime.combine(today - timedelta(days=DAYS - 1 - n), time.min, tzinfo=zone) for n in range(DAYS)
    ]
    return [Bucket(start=start, end=start + timedelta(days=1)) for start in starts]


def _bucket_of(buckets: Sequence[Bucket], moment: datetime) -> Bucket | None:
    index = bisect_right([one.start for one in buckets], moment) - 1
    return buckets[index] if index >= 0 and moment < buckets[index].end else None


def endpoint_activity(*, endpoint: Endpoint, now: datetime | None = None) -> EndpointActivity:
    """The endpoint's deliveries (by the hour they were created) and attempts (by the hour they were
    made) of the last 24 hours and 7 days: two queries, whatever the history."""
    now = now or timezone.now()
    hours, days = _hours(now), _days(now)
    since = min(hours[0].start, days[0].start)
    deliveries = (
        Delivery.objects.filter(endpoint=endpoint, created_at__gte=since)
        .annotate(hour=TruncHour("created_at"), outcome=_OUTCOME)
        .values_list("hour", "outcome")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for hour, outcome, count in deliveries:
        if outcome:
            for bucket in (_bucket_of(hours, hour), _bucket_of(days, hour)):
                if bucket is not None:
                    bucket.counts[Outcome(outcome)] += count
    attempts = (
        Attempt.objects.filter(delivery__endpoint=endpoint, created_at__gte=since)
        .annotate(hour=TruncHour("created_at"), bucket=_DURATION_BUCKET)
        .values_list("hour", "bucket")
        .annotate(n=Count("pk"), low=Min("duration_ms"), high=Max("duration_ms"))
        .order_by()
    )
    for hour, index, count, low, high in attempts:
        for bucket in (_bucket_of(hours, hour), _bucket_of(days, hour)):
            if bucket is not None:
                bucket.histogram = _merged([*bucket.histogram.items(), (index, Bin(count, low, high))])
    return EndpointActivity(
        day=Window(name="Last 24 hours", buckets=hours, hourly=True),
        week=Window(name="Last 7 days", buckets=days, hourly=False),
    )


@dataclass(frozen=True)
class TypeVolume:
    type: str
    day: int
    week: int


def event_volume_by_type(*, organization: Organization, now: datetime | None = None) -> list[TypeVolume]:
    """How many events of each type the organization had in the last 24 hours and 7 days, the busiest
    type of the week first: one query, a row per type."""
    now = now or timezone.now()
    rows = (
        Event.objects.filter(organization=organization, created_at__gte=now - timedelta(days=DAYS))
        .values("type")
        .annotate(week=Count("pk"), day=Count("pk", filter=Q(created_at__gte=now - timedelta(hours=HOURS))))
        .order_by("-week", "type")
    )
    return [TypeVolume(type=row["type"], day=row["day"], week=row["week"]) for row in rows]
