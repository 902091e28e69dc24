"""`GET /metrics` in this process: who may scrape it, the outbox gauges, what this process counts.

The figures of worker processes, seen through this process's /metrics, are tests/e2e/test_metrics_e2e.py.
Counters are cumulative over the test run (every process of it counts in one directory), so tests
compare a scrape before with a scrape after.
"""

import contextlib
import socket
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks, Settings

from organizations.models import Organization
from tests.e2e.receiver import Receiver
from tests.factories import EndpointFactory, LocationFactory
from tests.metrics_samples import Samples, scrape, value
from tests.pipeline import deliver_waiting, fan_out_waiting
from webhooks import metrics
from webhooks.endpoints.services import endpoint_disable
from webhooks.models import Delivery, DeliveryStatus, Endpoint, Event

pytestmark = pytest.mark.django_db


def increase(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


# --- who may scrape --------------------------------------------------------------------------------


def test_loopback_may_scrape_without_a_token() -> None:
    # Given the default networks (loopback); When the test client (127.0.0.1) asks
    samples = scrape()

    # Then it gets the figures, the outbox's and the counters'
    assert value(samples, "webhooks_outbox_up") == 1
    assert ("webhooks_deliveries_total", frozenset({("outcome", "succeeded")})) in samples


def test_an_address_outside_the_networks_is_refused_without_a_word(settings: Settings) -> None:
    # Given only 10.0.0.0/8 allowed, and no token configured
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    settings.METRICS_TOKEN = ""

    # When 127.0.0.1 asks, with or without something that looks like a token
    plain = Client().get("/metrics")
    bearer = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ")

    # Then both are refused, and the answer says nothing of why or what is there
    for response in (plain, bearer):
        assert response.status_code == 403
        assert response.content == b"Forbidden\n"
        assert response["Content-Type"].startswith("text/plain")


def test_the_token_opens_it_from_anywhere_and_a_wrong_one_does_not(settings: Settings) -> None:
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    settings.METRICS_TOKEN = "scrape-me-7f3a9c"

    right = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me-7f3a9c")
    wrong = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me-7f3a9d")
    prefix = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me")
    other_scheme = Client().get("/metrics", HTTP_AUTHORIZATION="Basic scrape-me-7f3a9c")
    not_ascii = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-m\u00e9-7f3a9c")

    assert right.status_code == 200
    assert b"webhooks_outbox_up" in right.content
    assert [r.status_code for r in (wrong, prefix, other_scheme, not_ascii)] == [403, 403, 403, 403]


def test_x_forwarded_for_is_not_believed() -> None:
    # Given a client outside the default loopback networks that claims to be loopback
    response = Client().get("/metrics", REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR="127.0.0.1")

    # Then only its own address counts
    assert response.status_code == 403


@pytest.mark.parametrize("address", ["::1", "::ffff:127.0.0.1"])
def test_ipv6_loopback_and_ipv4_mapped_loopback_may_scrape(address: str) -> None:
    assert Client().get("/metrics", REMOTE_ADDR=address).status_code == 200


def test_only_get() -> None:
    assert Client().post("/metrics").status_code == 405


# --- the outbox gauges -----------------------------------------------------------------------------


def test_the_outbox_gauges_report_what_the_database_holds(organization: Organization) -> None:
    # Given an answering endpoint, a failing one, two not active, and deliveries in every state
    now = timezone.now()
    answering = EndpointFactory.create(organization=organization)
    failing = EndpointFactory.create(organization=organization, consecutive_failures=3, failing_since=now)
    EndpointFactory.create(organization=organization, active=False)
    EndpointFactory.create(organization=organization, active=False, disabled_reason="410 Gone")

    def delivery_at(endpoint: Endpoint, status: str, due_in: float | None) -> None:
        """A delivery of an event of its own (one per event and endpoint), fanned out already."""
        due_at = None if due_in is None else now + timedelta(seconds=due_in)
        event = Event.objects.create(
            organization=organization,
            type="location.created",
            object="location",
            data={},
            fanned_out=True,
            created_at=now,
        )
        Delivery.objects.create(
            event=event, endpoint=endpoint, status=status, next_attempt_at=due_at, created_at=now
        )

    delivery_at(answering, DeliveryStatus.PENDING, -120)  # due for two minutes: the oldest
    delivery_at(answering, DeliveryStatus.PENDING, -30)
    delivery_at(answering, DeliveryStatus.PENDING, 0)  # due just now
    delivery_at(answering, DeliveryStatus.PENDING, 600)  # a retry later on: not due
    delivery_at(answering, DeliveryStatus.SUCCEEDED, None)
    delivery_at(answering, DeliveryStatus.FAILED, None)
    delivery_at(answering, DeliveryStatus.SKIPPED, -3600)  # not pending: never due, whatever its date
    delivery_at(failing, DeliveryStatus.PENDING, -900)  # e.g. behind its chain's retried head

    # When scraped
    samples = scrape()

    # Then
    assert value(samples, "webhooks_outbox_up") == 1
    assert value(samples, "webhooks_outbox_due", endpoint="answering") == 3
    assert value(samples, "webhooks_outbox_due", endpoint="failing") == 1
    assert 120 <= value(samples, "webhooks_outbox_oldest_due_seconds", endpoint="answering") < 150
    assert 900 <= value(samples, "webhooks_outbox_oldest_due_seconds", endpoint="failing") < 930
    assert value(samples, "webhooks_endpoints_disabled") == 2


def test_an_empty_outbox_reports_zeros() -> None:
    samples = scrape()

    for state in ("answering", "failing"):
        for name in ("webhooks_outbox_due", "webhooks_outbox_oldest_due_seconds"):
            assert (name, frozenset({("endpoint", state)})) in samples
            assert value(samples, name, endpoint=state) == 0
    assert value(samples, "webhooks_endpoints_disabled") == 0


@pytest.fixture
def database_unreachable(transactional_db: None) -> Iterator[None]:
    """This process's database connection pointed where no database answers, then put back."""
    saved = dict(connection.settings_dict)
    connection.close()
    with socket.socket() as closed:  # bound, never listening: connections to it are refused
        closed.bind(("127.0.0.1", 0))
        if connection.vendor == "sqlite":
            connection.settings_dict["NAME"] = "/nonexistent-directory/db.sqlite3"
        else:
            connection.settings_dict.update(HOST="127.0.0.1", PORT=str(closed.getsockname()[1]))
        try:
            yield
        finally:
            connection.close()
            connection.settings_dict.clear()
            connection.settings_dict.update(saved)


@pytest.mark.django_db(transaction=True)  # the connection is closed and reopened: no test transaction
@pytest.mark.usefixtures("database_unreachable")
def test_a_database_that_is_down_leaves_the_outbox_gauges_out_not_the_scrape() -> None:
    # Given this process cannot reach its database; When scraped
    samples = scrape()

    # Then the answer is still 200, says the outbox could not be read, and keeps the counters
    assert value(samples, "webhooks_outbox_up") == 0
    names = {name for name, _ in samples}
    assert not names & {
        "webhooks_outbox_due",
        "webhooks_outbox_oldest_due_seconds",
        "webhooks_endpoints_disabled",
    }
    assert "webhooks_deliveries_total" in names
    assert "webhooks_attempt_duration_seconds_count" in names


# --- what this process counts ----------------------------------------------------------------------


def test_an_endpoint_disabled_before_its_delivery_is_sent_counts_a_skip(
    receiver: Receiver, organization: Organization
) -> None:
    # Given a delivery written for an active endpoint by a worker that died before sending it (its
    # lease has run out), and the endpoint then paused before any other worker sends it
    endpoint = EndpointFactory.create(organization=organization, url=receiver.url("/paused"))
    LocationFactory.create(organization=organization)
    fan_out_waiting()
    Delivery.objects.update(claimed_until=timezone.now() - timedelta(seconds=1))
    Endpoint.objects.filter(pk=endpoint.pk).update(active=False)
    before = scrape()

    # When this process sends what is due
    deliver_waiting()

    # Then nothing went out, the delivery is skipped, and so counted
    assert receiver.requests("/paused") == []
    assert Delivery.objects.get(endpoint=endpoint).status == DeliveryStatus.SKIPPED
    after = scrape()
    assert increase(before, after, "webhooks_deliveries_total", outcome="skipped") == 1
    assert increase(before, after, "webhooks_attempt_duration_seconds_count") == 0


# Events are counted once committed, by the callback that hints the workers
# (webhooks/outbox/publishing.py), deliveries skipped at
# fan-out where they are written (webhooks/delivery/fanout.py): each once its transaction commits.


def test_recorded_events_are_counted_by_type(
    organization: Organization, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    before = scrape()

    with django_capture_on_commit_callbacks(execute=True):
        LocationFactory.create(organization=organization)
        LocationFactory.create(organization=organization)

    after = scrape()
    assert increase(before, after, "webhooks_events_total", type="location.created") == 2


def test_deliveries_recorded_as_skipped_are_counted(
    organization: Organization, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    # Given an endpoint that is not active, subscribed to location events
    EndpointFactory.create(organization=organization, active=False, events=["location.created"])
    before = scrape()

    # When a location is created, and a worker fans its event out
    with django_capture_on_commit_callbacks(execute=True):
        LocationFactory.create(organization=organization)
    with django_capture_on_commit_callbacks(execute=True):
        fan_out_waiting()

    # Then its delivery was recorded as skipped, and counted
    assert Delivery.objects.get().status == DeliveryStatus.SKIPPED
    after = scrape()
    assert increase(before, after, "webhooks_deliveries_total", outcome="skipped") == 1


def test_deliveries_pending_when_their_endpoint_is_disabled_are_counted_as_skipped(
    organization: Organization, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    # Given an active endpoint with two deliveries pending
    endpoint = EndpointFactory.create(organization=organization, events=["location.created"])
    LocationFactory.create_batch(2, organization=organization)
    fan_out_waiting()
    before = scrape()

    # When it is disabled
    with django_capture_on_commit_callbacks(execute=True):
        endpoint_disable(endpoint_id=endpoint.pk, reason="by hand")

    # Then both became skipped, and were counted so
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SKIPPED}
    assert increase(before, scrape(), "webhooks_deliveries_total", outcome="skipped") == 2


def test_a_change_rolled_back_counts_no_event(
    organization: Organization, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    before = scrape()

    with django_capture_on_commit_callbacks(execute=True):
        LocationFactory.create(organization=organization)  # counted: the change commits
        with contextlib.suppress(RuntimeError), transaction.atomic():
            LocationFactory.create(organization=organization)
            raise RuntimeError("the change fails after its event was written")

    after = scrape()
    assert increase(before, after, "webhooks_events_total", type="location.created") == 1


def test_attempts_ended_fill_the_buckets_and_sum_as_observe_does() -> None:
    # Given five attempts: two on bucket bounds (an attempt of exactly 25 ms is within `le=0.025`),
    # one past the last bound, and a group of sends still under way
    durations = [0.025, 0.03, 0.05, 2.0, 11.0]
    before = scrape()
    metrics.attempts_started(6)
    during = scrape()

    # When they end, with one more that was never made (its lease ran out)
    metrics.attempts_ended(durations, started=6)
    after = scrape()

    # Then each bucket counts the attempts up to its bound, as Histogram.observe() counts them
    name = "webhooks_attempt_duration_seconds_bucket"
    cumulative = {"0.025": 1, "0.05": 3, "0.1": 3, "0.25": 3, "1.0": 3, "2.5": 4, "10.0": 4, "+Inf": 5}
    assert {le: increase(before, after, name, le=le) for le in cumulative} == cumulative
    assert increase(before, after, "webhooks_attempt_duration_seconds_count") == 5
    assert increase(before, after, "webhooks_attempt_duration_seconds_sum") == pytest.approx(sum(durations))
    # and the sends under way were counted while they were, and no longer are
    assert increase(before, during, "webhooks_attempts_in_flight") == 6
    assert increase(before, after, "webhooks_attempts_in_flight") == 0
