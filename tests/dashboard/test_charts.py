"""Pictures: an endpoint's deliveries and attempt latency (last 24 hours and 7 days) and the overview's
events by type, drawn as inline SVG from aggregates whose cost does not grow with the history."""

import re
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from organizations.models import Organization
from tests.factories import EndpointFactory
from webhooks.dashboard.activity import Bin, endpoint_activity, event_volume_by_type, percentile
from webhooks.dashboard.charts import nice_scale
from webhooks.models import Attempt, Delivery, DeliveryStatus, Endpoint, Event

pytestmark = pytest.mark.django_db


def history(
    endpoint: Endpoint,
    at: datetime,
    *,
    status: str = DeliveryStatus.SUCCEEDED,
    attempts: int = 1,
    durations: tuple[int, ...] = (40,),
    count: int = 1,
    type_name: str = "location.created",
) -> None:
    """`count` deliveries created at `at`, each with an attempt per duration (made at `at` too)."""
    events = Event.objects.bulk_create(
        Event(
            organization=endpoint.organization,
            type=type_name,
            object=type_name.split(".")[0],
            data={},
            fanned_out=True,
            created_at=at,
        )
        for _ in range(count)
    )
    deliveries = Delivery.objects.bulk_create(
        Delivery(event=event, endpoint=endpoint, status=status, attempt_count=attempts, created_at=at)
        for event in events
    )
    Attempt.objects.bulk_create(
        Attempt(
            delivery=delivery,
            created_at=at,
            duration_ms=duration,
            status_code=200 if status == DeliveryStatus.SUCCEEDED else 500,
            succeeded=status == DeliveryStatus.SUCCEEDED,
        )
        for delivery in deliveries
        for duration in durations
    )


def an_hour_ago() -> datetime:
    return timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)


def marks(html: str, series: str) -> dict[str, str]:
    """The bars or points of a series in the page's SVG: bucket (ISO time) -> value."""
    pattern = rf'data-series="{series}" data-bucket="([^"]+)" data-value="([^"]+)"'
    return dict(re.findall(pattern, html))


def test_the_endpoint_page_draws_its_deliveries_by_hour_and_day(
    admin: Client, organization: Organization
) -> None:
    # Given, in one hour, 3 deliveries that succeeded at once, 2 that needed a retry and 1 that failed
    endpoint = EndpointFactory.create(organization=organization)
    hour = an_hour_ago()
    history(endpoint, hour + timedelta(minutes=5), count=3)
    history(endpoint, hour + timedelta(minutes=10), attempts=2, durations=(900, 60), count=2)
    history(
        endpoint, hour + timedelta(minutes=59), status=DeliveryStatus.FAILED, attempts=1, durations=(5000,)
    )
    # and two days ago one more, outside the last 24 hours but in the last 7 days
    history(endpoint, hour - timedelta(days=2), count=1)

    html = admin.get(f"/developers/webhooks/{endpoint.public_id}/").content.decode()

    # Then the 24 hours' chart has that hour's bar: 3 succeeded, 2 retried, 1 failed
    day, week = html.split('data-chart="week-deliveries"')
    key = hour.isoformat()
    assert marks(day, "succeeded") == {key: "3"}
    assert marks(day, "retried") == {key: "2"}
    assert marks(day, "failed") == {key: "1"}
    assert f"{timezone.localtime(hour):%H:%M} to" in day  # its tooltip and table row say which hour
    assert "<title>" in day and 'role="img"' in day
    assert "6 deliveries: 3 succeeded, 2 retried, 1 failed." in day  # the chart's description
    # And the 7 days' chart counts today's and the one of two days ago in their days
    week = week.split('data-chart="week-latency"')[0]
    today = timezone.localtime(hour).replace(hour=0)
    assert marks(week, "succeeded") == {
        today.isoformat(): "3",
        (today - timedelta(days=2)).isoformat(): "1",
    }
    assert "7 deliveries: 4 succeeded, 2 retried, 1 failed." in week


def test_latency_percentiles_are_drawn_per_hour(admin: Client, organization: Organization) -> None:
    # Given 20 attempts in one hour: 19 of 100 ms and one of 4000 ms
    endpoint = EndpointFactory.create(organization=organization)
    hour = an_hour_ago()
    history(endpoint, hour, durations=(100,), count=19)
    history(endpoint, hour, durations=(4000,))

    html = admin.get(f"/developers/webhooks/{endpoint.public_id}/").content.decode()

    latency = html.split('data-chart="day-latency"')[1].split("</figure>")[0]
    assert marks(latency, "p50") == {hour.isoformat(): "100.0"}
    assert marks(latency, "p95") == {hour.isoformat(): "100.0"}  # the 19th of 20
    assert "20 attempts: p50 100 ms, p95 100 ms." in latency


def test_percentiles_interpolate_within_a_bucket_between_its_smallest_and_largest() -> None:
    histogram = {3: Bin(count=2, low=10, high=20)}
    assert percentile(histogram, 0.5) == 15  # the median of 10 and 20
    assert percentile({}, 0.5) is None
    # 90 fast attempts and 10 slow ones: p95 falls among the slow, p50 among the fast
    spread = {0: Bin(count=90, low=2, high=4), 15: Bin(count=10, low=4000, high=5000)}
    assert percentile(spread, 0.5) == pytest.approx(2 + 2 * 50 / 90)
    assert percentile(spread, 0.95) == 4500


def test_an_endpoint_without_deliveries_says_so(admin: Client, organization: Organization) -> None:
    endpoint = EndpointFactory.create(organization=organization)

    html = admin.get(f"/developers/webhooks/{endpoint.public_id}/").content.decode()

    assert html.count(">No deliveries</text>") == 2 and html.count(">No attempts</text>") == 2


def test_nice_scales_are_round() -> None:
    assert nice_scale(0) == (1, 1)
    assert nice_scale(3) == (3, 1)
    assert nice_scale(37) == (40, 10)
    assert nice_scale(1234) == (1500, 500)


def test_the_charts_cost_two_queries_whatever_the_history(organization: Organization) -> None:
    small, large = (
        EndpointFactory.create(organization=organization),
        EndpointFactory.create(organization=organization),
    )
    hour = an_hour_ago()
    history(small, hour, count=10)
    for day in range(7):
        history(large, hour - timedelta(days=day), count=1000, durations=(30, 3000), attempts=2)

    # Seen from within that hour: in the first hour of a day, an hour ago is yesterday, and six days
    # before it falls out of a week counted from today
    now = hour + timedelta(minutes=30)
    with CaptureQueriesContext(connection) as few:
        endpoint_activity(endpoint=small, now=now)
    with CaptureQueriesContext(connection) as many:
        activity = endpoint_activity(endpoint=large, now=now)

    assert len(few) == len(many) == 2
    assert activity.week.total.deliveries == 7000 and activity.week.total.attempts == 14000


def test_an_endpoint_page_with_5000_deliveries_costs_what_one_with_100_does(
    admin: Client, organization: Organization
) -> None:
    # Given an endpoint with a hundred deliveries and one with five thousand over the week, with their
    # attempts (tests/dashboard/test_delivery_log.py opens one with a hundred thousand)
    small = EndpointFactory.create(organization=organization)
    large = EndpointFactory.create(organization=organization)
    hour = an_hour_ago()
    history(small, hour, count=100)
    for n in range(5):
        history(large, hour - timedelta(hours=30 * n), count=1000, durations=(50, 70), attempts=2)
    admin.get(f"/developers/webhooks/{small.public_id}/")  # the session settles

    # When each page is opened
    with CaptureQueriesContext(connection) as few:
        assert admin.get(f"/developers/webhooks/{small.public_id}/").status_code == 200
    with CaptureQueriesContext(connection) as many:
        response = admin.get(f"/developers/webhooks/{large.public_id}/")

    # Then both cost the same queries, and the large one draws all of it
    assert response.status_code == 200
    assert len(many) == len(few)
    assert "5,000 deliveries: 0 succeeded, 5,000 retried, 0 failed." in response.content.decode()
    assert "10,000 attempts: p50 " in response.content.decode()


def test_the_overview_draws_the_events_by_type(admin: Client, organization: Organization) -> None:
    # Given events of two types today, one of them also five days ago, and another organization's
    endpoint = EndpointFactory.create(organization=organization)
    now = timezone.now()
    history(endpoint, now - timedelta(hours=2), count=4, type_name="session.started")
    history(endpoint, now - timedelta(hours=3), count=1, type_name="location.created")
    history(endpoint, now - timedelta(days=5), count=2, type_name="location.created")
    history(EndpointFactory.create(), now, count=9, type_name="rate.created")

    html = admin.get("/").content.decode()

    day, week = html.split('data-chart="events-week"')
    assert marks(day, "events") == {"session.started": "4", "location.created": "1"}
    assert marks(week, "events") == {"session.started": "4", "location.created": "3"}
    assert "5 events of 2 types. The most: session.started (4)." in day
    assert "rate.created" not in html


def test_the_overview_costs_the_same_whatever_the_number_of_events(
    admin: Client, organization: Organization
) -> None:
    endpoint = EndpointFactory.create(organization=organization)
    history(endpoint, timezone.now(), count=10)
    admin.get("/")
    with CaptureQueriesContext(connection) as few:
        admin.get("/")
    history(endpoint, timezone.now() - timedelta(days=1), count=5000, type_name="session.updated")
    with CaptureQueriesContext(connection) as many:
        admin.get("/")

    assert len(many) == len(few)
    with CaptureQueriesContext(connection) as one:
        volumes = event_volume_by_type(organization=organization)
    assert len(one) == 1 and [v.type for v in volumes] == ["session.updated", "location.created"]
