"""The endpoint page's delivery log: newest first, paginated, filtered, each delivery with its
attempts; and its cost in queries, which the number of deliveries does not change."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries

from organizations.models import Organization
from tests.dashboard.deliveries import delivery_of
from tests.factories import EndpointFactory
from webhooks.dashboard.views import DELIVERIES_PER_PAGE
from webhooks.delivery import alerts
from webhooks.models import Attempt, Delivery, DeliveryStatus, Endpoint, Event

pytestmark = pytest.mark.django_db

# Session, user, membership, endpoint with its health, count, one page, its attempts, the charts'
# deliveries and attempts, with room.
MAX_QUERIES = 11


def log_of(client: Client, endpoint: Endpoint, query: str = "") -> str:
    return client.get(f"/developers/webhooks/{endpoint.public_id}/{query}").content.decode()


def delivery_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r"/deliveries/(\d+)/resend", html)]


def test_newest_first_with_attempts(admin: Client, organization: Organization) -> None:
    # Given an older failed delivery (a 500, then a timeout) and a newer successful one
    endpoint = EndpointFactory.create(organization=organization)
    old = delivery_of(
        endpoint,
        status=DeliveryStatus.FAILED,
        at=timezone.now() - timedelta(hours=1),
        attempts=[(500, ""), (None, "timed out after 5.0 s")],
    )
    new = delivery_of(endpoint, type_name="session.started", attempts=[(200, "")])
    # When the page is opened
    html = log_of(admin, endpoint)
    # Then the newer comes first, and each expands to its attempts with code, latency, excerpt, error
    assert delivery_ids(html) == [new.pk, old.pk]
    newer, older = html.split('<li class="delivery"')[1:]
    assert "Succeeded" in newer and "<details>" in newer
    assert "Failed" in older and "2 attempts" in older
    assert re.search(
        r"<td>500</td>\s*<td>42 ms</td>\s*<td><pre class=\"excerpt\">answer 500</pre></td>", older
    )
    assert re.search(r"<td>—</td>\s*<td>42 ms</td>\s*<td>—</td>\s*<td>timed out after 5.0 s</td>", older)


def test_paginated(admin: Client, organization: Organization) -> None:
    endpoint = EndpointFactory.create(organization=organization)
    start = timezone.now() - timedelta(hours=2)
    made = [delivery_of(endpoint, at=start + timedelta(seconds=i)) for i in range(DELIVERIES_PER_PAGE + 3)]
    newest_first = [d.pk for d in reversed(made)]
    first, second = log_of(admin, endpoint), log_of(admin, endpoint, "?page=2")
    assert delivery_ids(first) == newest_first[:DELIVERIES_PER_PAGE]
    assert delivery_ids(second) == newest_first[DELIVERIES_PER_PAGE:]
    assert "Page 1 of 2" in first and 'href="?page=2"' in first


def test_filtered_by_status_and_event_type(admin: Client, organization: Organization) -> None:
    endpoint = EndpointFactory.create(organization=organization)
    failed_session = delivery_of(endpoint, type_name="session.started", status=DeliveryStatus.FAILED)
    delivery_of(endpoint, type_name="session.started", status=DeliveryStatus.SUCCEEDED)
    delivery_of(endpoint, type_name="rate.created", status=DeliveryStatus.FAILED)
    html = log_of(admin, endpoint, "?status=failed&event_type=session.started")
    assert delivery_ids(html) == [failed_session.pk]
    assert len(delivery_ids(log_of(admin, endpoint, "?status=failed"))) == 2
    # Nonsense filters are ignored rather than failing
    assert len(delivery_ids(log_of(admin, endpoint, "?status=bogus"))) == 3


def test_filters_survive_paging(admin: Client, organization: Organization) -> None:
    endpoint = EndpointFactory.create(organization=organization)
    for _ in range(DELIVERIES_PER_PAGE + 1):
        delivery_of(endpoint, status=DeliveryStatus.FAILED)
    html = log_of(admin, endpoint, "?status=failed")
    assert 'href="?status=failed&amp;page=2"' in html


def test_the_alert_emails_link_opens_the_endpoint_page(admin: Client, organization: Organization) -> None:
    # Given the link an alert email carries (no trailing slash)
    endpoint = EndpointFactory.create(organization=organization)
    link = alerts.endpoint_page_url(endpoint).removeprefix("http://127.0.0.1:8000")
    # When it is followed; then it is the endpoint's page
    response = admin.get(link, follow=True)
    assert response.status_code == 200
    assert response.request["PATH_INFO"] == f"/developers/webhooks/{endpoint.public_id}/"


def _history(endpoint: Endpoint, count: int) -> None:
    """`count` deliveries, each of its own event (one delivery per event and endpoint) and with one
    failed attempt, written in bulk; the events already fanned out, as the pipeline leaves them."""
    now = timezone.now()
    for start in range(0, count, 10_000):
        events = Event.objects.bulk_create(
            Event(
                organization=endpoint.organization,
                type="location.created",
                object="location",
                data={},
                fanned_out=True,
                created_at=now,
            )
            for _ in range(start, min(start + 10_000, count))
        )
        deliveries = Delivery.objects.bulk_create(
            Delivery(
                event=events[i - start],
                endpoint=endpoint,
                status=DeliveryStatus.FAILED,
                attempt_count=1,
                created_at=now - timedelta(seconds=i),
            )
            for i in range(start, min(start + 10_000, count))
        )
        # Only the newest page's deliveries need attempts to show: the rest are the bulk.
        if start == 0:
            Attempt.objects.bulk_create(
                Attempt(delivery=d, created_at=now, status_code=500, error="", duration_ms=3)
                for d in deliveries[:50]
            )


def test_an_endpoint_with_100000_deliveries_costs_a_bounded_number_of_queries(
    admin: Client, organization: Organization, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    # Given two endpoints, one with a few deliveries and one with a hundred thousand
    small, large = (
        EndpointFactory.create(organization=organization),
        EndpointFactory.create(organization=organization),
    )
    _history(small, 30)
    _history(large, 100_000)
    url = f"/developers/webhooks/{large.public_id}/?status=failed"
    # When each one's page is opened (a first request settles the session)
    admin.get(url)
    with CaptureQueriesContext(connection) as few:
        assert admin.get(f"/developers/webhooks/{small.public_id}/?status=failed").status_code == 200
    with django_assert_max_num_queries(MAX_QUERIES):
        response = admin.get(url)
    # Then the large one costs no more queries than the small one, and shows its newest page
    assert response.status_code == 200
    with CaptureQueriesContext(connection) as many:
        admin.get(url)
    assert len(many) == len(few)
    assert "100000 deliveries" in response.content.decode()
    # And its charts (tests/dashboard/test_charts.py) count every one of them, over the week
    assert "100,000 deliveries: 0 succeeded, 0 retried, 100,000 failed." in response.content.decode()
    assert len(delivery_ids(response.content.decode())) == DELIVERIES_PER_PAGE


def test_the_list_costs_the_same_whatever_the_history(
    admin: Client, organization: Organization, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    endpoints = [EndpointFactory.create(organization=organization) for _ in range(5)]
    for endpoint in endpoints:
        _history(endpoint, 200)
    admin.get("/developers/webhooks/")
    with django_assert_max_num_queries(6):
        assert admin.get("/developers/webhooks/").status_code == 200
