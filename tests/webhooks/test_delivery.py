"""The delivery service, in this process, against a real HTTP receiver on 127.0.0.1."""

import json
import logging
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone
from pytest_django.fixtures import Settings

from chargestations.models import Chargestation
from organizations.models import Organization
from tests.e2e.receiver import Receiver, Reply, hang, ok, sequence, status
from tests.factories import ChargestationFactory, EndpointFactory, LocationFactory
from tests.pipeline import deliver_waiting, fan_out_waiting
from webhooks.delivery import claims, fanout, outcomes
from webhooks.delivery import sending as delivery
from webhooks.endpoints.services import endpoint_rotate_secret
from webhooks.models import Attempt, Delivery, DeliveryStatus, Endpoint

pytestmark = pytest.mark.django_db


def endpoint_at(receiver: Receiver, path: str, organization: Organization, **fields: object) -> Endpoint:
    endpoint = EndpointFactory.create(organization=organization, url=receiver.url(path), **fields)
    receiver.expect_secrets(path, [endpoint.secret])
    return endpoint


def toggle(station: Chargestation) -> None:
    station.active = not station.active
    station.save()


def test_a_delivery_is_signed_and_sent_as_the_wire_format_says(
    receiver: Receiver, station: Chargestation
) -> None:
    endpoint = endpoint_at(receiver, "/a", station.organization)
    toggle(station)

    deliver_waiting()

    [request] = receiver.wait_for(1, path="/a")
    sent = Delivery.objects.select_related("event").get(endpoint=endpoint)
    assert request.verified
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("eDRV-Webhooks/")
    assert request.headers["webhook-id"] == sent.event.public_id
    assert set(request.json) == {"_id", "data", "object", "type", "createdAt"}
    assert request.json["_id"] == sent.event.public_id
    assert request.json["type"] == "chargestation.updated"
    assert request.json["createdAt"].endswith("Z")
    assert sent.status == DeliveryStatus.SUCCEEDED
    attempt = Attempt.objects.get(delivery=sent)
    assert attempt.status_code == 200 and attempt.succeeded


def test_charger_protocol_types_use_envelope_b(receiver: Receiver, station: Chargestation) -> None:
    endpoint_at(receiver, "/b", station.organization, events=["charger.connected"])
    station.online = True
    station.save()

    deliver_waiting()

    [request] = receiver.wait_for(1, path="/b")
    assert request.verified
    assert set(request.json) == {"event", "timestamp", "data"}
    assert request.json["event"] == "charger.connected"
    assert request.json["data"] == {"chargeBoxId": station.endpoint}


def test_a_500_is_retried_by_the_schedule_then_fails(
    receiver: Receiver, station: Chargestation, settings: Settings
) -> None:
    settings.WEBHOOKS_RETRY_SCHEDULE = [0, 0, 0]
    endpoint = endpoint_at(receiver, "/a", station.organization)
    receiver.behave("/a", sequence([status(500), status(502, body="bad gateway")]))
    toggle(station)

    # One step at a time (the schedule makes every retry due at once): the worker the commit
    # hinted fans the event out and sends it; then each claim of what is due sends it again.
    delivery.events_deliver()
    first = Delivery.objects.get(endpoint=endpoint)
    assert (first.status, first.attempt_count) == (DeliveryStatus.PENDING, 1)
    delivery.deliveries_send()
    delivery.deliveries_send()

    last = Delivery.objects.get(endpoint=endpoint)
    assert (last.status, last.attempt_count, last.last_status_code) == (DeliveryStatus.FAILED, 3, 502)
    assert list(
        Attempt.objects.filter(delivery=last).order_by("id").values_list("status_code", flat=True)
    ) == [500, 502, 502]
    assert Attempt.objects.filter(delivery=last).latest("id").response_excerpt == "bad gateway"
    ids = {r.headers["webhook-id"] for r in receiver.requests("/a")}
    assert len(ids) == 1  # the event id is stable across retries


def test_successes_are_one_log_line_per_batch_and_each_failure_its_own(
    receiver: Receiver, station: Chargestation, caplog: pytest.LogCaptureFixture
) -> None:
    # A line per success cost a worker about as much CPU as recording the attempt; each one is in
    # its Attempt row and in /metrics, and DEBUG still logs every one.
    for path in ("/a", "/b", "/c"):
        endpoint_at(receiver, path, station.organization)
    receiver.behave("/c", status(500))
    toggle(station)

    with caplog.at_level(logging.INFO, logger="webhooks.delivery.outcomes"):
        deliver_waiting()

    lines = [(r.getMessage(), r.__dict__) for r in caplog.records if r.name == "webhooks.delivery.outcomes"]
    assert [(message, fields["deliveries"]) for message, fields in lines if "deliveries" in fields] == [
        ("webhooks.deliveries.succeeded", 2)
    ]
    failed = [fields for message, fields in lines if message == "webhooks.delivery.failed"]
    assert [fields["status_code"] for fields in failed] == [500]
    assert not [message for message, _ in lines if message == "webhooks.delivery.succeeded"]

    caplog.clear()
    toggle(station)
    with caplog.at_level(logging.DEBUG, logger="webhooks.delivery.outcomes"):
        deliver_waiting()
    each = [r for r in caplog.records if r.getMessage() == "webhooks.delivery.succeeded"]
    assert len(each) == 2 and {r.levelno for r in each} == {logging.DEBUG}


def test_an_answer_with_nul_characters_is_recorded(receiver: Receiver, station: Chargestation) -> None:
    # PostgreSQL's text and jsonb hold no NUL: were it kept, recording the attempt would fail, and
    # the delivery would be sent again once its lease ran out, over and over.
    endpoint = endpoint_at(receiver, "/a", station.organization)
    receiver.behave("/a", status(200, body=b"a\x00b"))
    toggle(station)

    deliver_waiting()

    sent = Delivery.objects.get(endpoint=endpoint)
    assert sent.status == DeliveryStatus.SUCCEEDED
    attempt = Attempt.objects.get(delivery=sent)
    assert attempt.response_excerpt == "a\ufffdb"
    assert len(receiver.requests("/a")) == 1


def test_an_answer_with_a_nul_in_a_header_is_a_failed_attempt_recorded_once(
    receiver: Receiver, station: Chargestation
) -> None:
    # A NUL in a header field is invalid HTTP (RFC 9110, 5.5): the parser refuses the answer, and the
    # attempt is recorded as failed, once, to be retried by the schedule like any other failure.
    endpoint = endpoint_at(receiver, "/a", station.organization)
    receiver.behave("/a", status(200, headers={"X-Note": "c\x00d"}))
    toggle(station)

    deliver_waiting()

    sent = Delivery.objects.get(endpoint=endpoint)
    assert (sent.status, sent.attempt_count) == (DeliveryStatus.PENDING, 1)
    attempt = Attempt.objects.get(delivery=sent)
    assert not attempt.succeeded and attempt.status_code is None
    assert attempt.error.startswith("invalid HTTP response")
    assert len(receiver.requests("/a")) == 1


def test_the_retry_waits_by_the_schedule_with_jitter(receiver: Receiver, station: Chargestation) -> None:
    endpoint = endpoint_at(receiver, "/a", station.organization)
    receiver.behave("/a", status(500))
    toggle(station)

    before = timezone.now()
    deliver_waiting()

    due = Delivery.objects.get(endpoint=endpoint).next_attempt_at
    assert due is not None
    assert before + timedelta(seconds=4) <= due <= timezone.now() + timedelta(seconds=6)
    deliver_waiting()  # not due yet: nothing is sent
    assert len(receiver.requests("/a")) == 1


def test_a_timeout_is_a_failed_attempt(
    receiver: Receiver, station: Chargestation, settings: Settings
) -> None:
    settings.WEBHOOKS_TIMEOUT = 1.0
    endpoint = endpoint_at(receiver, "/a", station.organization)
    receiver.behave("/a", hang(3))
    toggle(station)

    deliver_waiting()

    attempt = Attempt.objects.get(delivery__endpoint=endpoint)
    assert attempt.status_code is None and "timeout" in attempt.error
    assert 900 <= attempt.duration_ms <= 2500


def test_retry_after_is_honoured(receiver: Receiver, station: Chargestation) -> None:
    endpoint = endpoint_at(receiver, "/a", station.organization)
    receiver.behave("/a", status(429, headers={"Retry-After": "120"}))
    toggle(station)

    before = timezone.now()
    deliver_waiting()

    due = Delivery.objects.get(endpoint=endpoint).next_attempt_at
    assert due is not None
    assert before + timedelta(seconds=119) <= due <= timezone.now() + timedelta(seconds=121)


def test_410_disables_the_endpoint_at_once_and_sends_one_alert(
    receiver: Receiver, station: Chargestation, django_capture_on_commit_callbacks: Any
) -> None:
    endpoint = endpoint_at(receiver, "/a", station.organization, alert_emails=["dev@example.com"])
    receiver.behave("/a", status(410))
    toggle(station)
    toggle(station)

    with django_capture_on_commit_callbacks(execute=True):
        deliver_waiting()  # the first event's delivery goes out; the second's waits behind it

    endpoint.refresh_from_db()
    assert not endpoint.active and "410" in endpoint.disabled_reason and endpoint.disabled_at
    assert sorted(Delivery.objects.filter(endpoint=endpoint).values_list("status", flat=True)) == [
        DeliveryStatus.FAILED,
        DeliveryStatus.SKIPPED,
    ]
    [alert] = mail.outbox
    assert "disabled" in alert.subject
    assert sorted(alert.to) == sorted([station.organization.email, "dev@example.com"])
    assert endpoint.public_id in alert.body


def test_continuous_failure_disables_after_the_threshold_with_exactly_one_alert(
    receiver: Receiver, station: Chargestation, settings: Settings, django_capture_on_commit_callbacks: Any
) -> None:
    settings.WEBHOOKS_DISABLE_AFTER = 0
    settings.WEBHOOKS_DISABLE_MIN_FAILURES = 3
    settings.WEBHOOKS_RETRY_SCHEDULE = [0] * 10
    endpoint = endpoint_at(receiver, "/a", station.organization)
    receiver.behave("/a", status(500))
    toggle(station)

    delivery.events_deliver()  # fanned out and sent: the first failure
    delivery.deliveries_send()  # its retry, due at once: the second
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.consecutive_failures == 2
    with django_capture_on_commit_callbacks(execute=True):
        deliver_waiting()
        deliver_waiting()

    endpoint.refresh_from_db()
    assert not endpoint.active and "3 failed attempts" in endpoint.disabled_reason
    assert len(receiver.requests("/a")) == 3
    assert len(mail.outbox) == 1


def test_a_success_ends_the_failure_streak(
    receiver: Receiver, station: Chargestation, settings: Settings
) -> None:
    settings.WEBHOOKS_RETRY_SCHEDULE = [0, 0]
    endpoint = endpoint_at(receiver, "/a", station.organization)
    receiver.behave("/a", sequence([status(500), ok()]))
    toggle(station)

    delivery.events_deliver()  # fanned out and sent: a 500
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 1 and endpoint.failing_since
    delivery.deliveries_send()  # its retry, due at once: a 200

    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0 and endpoint.failing_since is None


def test_events_of_one_chargestation_arrive_in_order(receiver: Receiver, station: Chargestation) -> None:
    endpoint_at(receiver, "/a", station.organization)
    receiver.behave("/a", sequence([status(500), ok()]))
    for _ in range(4):
        toggle(station)

    deliver_waiting()  # the first fails: the three behind it wait
    assert len(receiver.requests("/a")) == 1
    Delivery.objects.filter(status=DeliveryStatus.PENDING).update(next_attempt_at=timezone.now())
    deliver_waiting()

    received = [json.loads(r.body)["data"]["active"] for r in receiver.requests("/a")]
    assert received == [False, False, True, False, True]


def test_during_rotation_both_secrets_sign(receiver: Receiver, station: Chargestation) -> None:
    endpoint = endpoint_at(receiver, "/a", station.organization)
    old = endpoint.secret
    endpoint_rotate_secret(endpoint=endpoint)
    receiver.expect_secrets("/a", [old, endpoint.secret])
    toggle(station)

    deliver_waiting()

    [request] = receiver.wait_for(1, path="/a")
    assert set(request.matched_secrets) == {old, endpoint.secret}
    assert len(request.headers["webhook-signature"].split(" ")) == 2


def test_a_dead_endpoint_does_not_hold_back_healthy_ones(
    receiver: Receiver, station: Chargestation, settings: Settings
) -> None:
    settings.WEBHOOKS_TIMEOUT = 2.0
    endpoint_at(receiver, "/dead", station.organization)
    receiver.behave("/dead", hang(5))
    for n in range(5):
        endpoint_at(receiver, f"/ok{n}", station.organization)
    toggle(station)

    started = time.time()
    deliver_waiting()

    healthy = [r for r in receiver.requests() if r.path != "/dead"]
    assert len(healthy) == 5
    assert max(r.received_at for r in healthy) - started < 1.0


def test_a_fan_out_sends_its_next_batch_with_its_leased_one_not_after_it(
    receiver: Receiver, station: Chargestation, settings: Settings
) -> None:
    # Given batches of 2, a hanging endpoint and a healthy one, and one event of each of two
    # chargestations: the fan-out leases the first event's 2 deliveries, and the second event's
    # are its next batch
    settings.WEBHOOKS_TIMEOUT = 2.0
    other = ChargestationFactory.create(organization=station.organization)
    fan_out_waiting()  # the stations' own creation: before any endpoint, so for none
    settings.WEBHOOKS_BATCH_SIZE = 2
    endpoint_at(receiver, "/dead", station.organization)
    receiver.behave("/dead", hang(5))
    endpoint_at(receiver, "/ok", station.organization)
    toggle(station)
    toggle(other)

    started = time.time()
    deliver_waiting()

    # Then both events reached the healthy endpoint at once: the second did not wait for the first
    # batch's probe of the hanging endpoint (before, it waited for the probe's patience, or worse)
    healthy = receiver.requests("/ok")
    assert len(healthy) == 2
    assert max(r.received_at for r in healthy) - started < delivery.PROBE_PATIENCE / 2


def test_a_batch_waiting_on_its_probe_of_a_hanging_endpoint_sends_other_due_deliveries_meanwhile(
    receiver: Receiver, station: Chargestation, settings: Settings
) -> None:
    # Given a hanging endpoint never heard from (its first request is a probe) and a healthy one,
    # each with a due delivery that no worker holds
    settings.WEBHOOKS_TIMEOUT = 2.0
    dead = endpoint_at(receiver, "/dead", station.organization)
    receiver.behave("/dead", hang(5))
    healthy = endpoint_at(receiver, "/ok", station.organization)
    toggle(station)
    fanout.events_fan_out(limit=10)
    Delivery.objects.update(claimed_until=None)

    # When a batch of the hanging endpoint's delivery alone is sent
    started = time.time()
    delivery.deliveries_send(delivery_ids=[Delivery.objects.get(endpoint=dead).pk])

    # Then, while its probe hung, the batch took on the healthy endpoint's delivery and sent it
    [sent] = receiver.requests("/ok")
    assert sent.received_at - started < 1.0
    assert Delivery.objects.get(endpoint=healthy).status == DeliveryStatus.SUCCEEDED
    assert Attempt.objects.filter(delivery__endpoint=dead).count() == 1


def two_due_on_a_hanging_endpoint(receiver: Receiver, station: Chargestation) -> tuple[Delivery, Delivery]:
    """A hanging endpoint never heard from, with two deliveries due that no worker holds (of two
    stations: neither waits for the other's turn)."""
    other = ChargestationFactory.create(location=station.location)
    dead = endpoint_at(receiver, "/dead", station.organization)
    receiver.behave("/dead", hang(5))
    toggle(station)
    toggle(other)
    fanout.events_fan_out(limit=10)
    Delivery.objects.update(claimed_until=None)
    first, second = Delivery.objects.filter(endpoint=dead).order_by("id")
    return first, second


def probe_started(receiver: Receiver, first: Delivery) -> threading.Thread:
    """A batch of `first` alone, in a thread, once its probe of the hanging endpoint is out."""
    probing = threading.Thread(target=delivery.deliveries_send, kwargs={"delivery_ids": [first.pk]})
    probing.start()
    while not receiver.requests("/dead"):
        time.sleep(0.01)
    return probing


def batch_meeting_the_probe(delivery_ids: list[int]) -> float:
    """Send a batch of these ids (in the test's thread) while another batch's probe is out; the
    seconds it took."""
    started = time.monotonic()
    delivery.deliveries_send(delivery_ids=delivery_ids)
    return time.monotonic() - started


@pytest.mark.django_db(transaction=True)  # two batches at once, each with its own connection
def test_deliveries_that_meet_another_batchs_probe_are_released_with_it_when_it_gets_no_answer(
    receiver: Receiver, station: Chargestation, settings: Settings
) -> None:
    settings.WEBHOOKS_TIMEOUT = 2.0
    first, second = two_due_on_a_hanging_endpoint(receiver, station)

    # When one batch probes the endpoint with the first, and another meets the probe with the second
    probing = probe_started(receiver, first)
    took = batch_meeting_the_probe([second.pk])

    # Then the second batch did not wait for the probe: it left the second with the probing batch
    assert took < delivery.PROBE_PATIENCE / 2
    # which, when its probe got no answer, released it unattempted with its own...
    probing.join(10)
    released_at = timezone.now()
    second.refresh_from_db()
    assert (second.status, second.claimed_until, second.attempt_count) == (DeliveryStatus.PENDING, None, 0)
    assert second.next_attempt_at is not None
    # ...due again once a probe has had its full time, and no claim takes it before
    assert second.next_attempt_at >= released_at + timedelta(seconds=settings.WEBHOOKS_TIMEOUT - 0.5)
    assert not claims.deliveries_claim(ids=[second.pk])

    # and once it is, a drain (what the release hands off to) sends it
    while timezone.now() < second.next_attempt_at:
        time.sleep(0.05)
    delivery.deliveries_drain(seconds=0.1)
    second.refresh_from_db()
    assert second.attempt_count == 1
    assert len(receiver.requests("/dead")) == 2


@pytest.mark.django_db(transaction=True)  # two batches at once, each with its own connection
def test_deliveries_that_meet_another_batchs_probe_are_sent_by_it_once_it_is_answered(
    receiver: Receiver, station: Chargestation, settings: Settings
) -> None:
    # Given an endpoint never heard from that answers its first request after a while
    settings.WEBHOOKS_TIMEOUT = 2.0
    first, second = two_due_on_a_hanging_endpoint(receiver, station)
    receiver.behave("/dead", sequence([hang(0.6), ok()]))

    # When one batch probes it with the first, and another meets the probe with the second
    probing = probe_started(receiver, first)
    took = batch_meeting_the_probe([second.pk])

    # Then the second batch went on at once, and the probing batch sent the second once answered
    assert took < delivery.PROBE_PATIENCE / 2
    probing.join(10)
    assert [r.headers["webhook-id"] for r in receiver.requests("/dead")] == [
        first.event.public_id,
        second.event.public_id,
    ]
    for sent in (first, second):
        sent.refresh_from_db()
        assert (sent.status, sent.attempt_count) == (DeliveryStatus.SUCCEEDED, 1)


def test_releases_hand_off_to_one_drain_per_process_and_second() -> None:
    # Deliveries released behind a probe come due together: one drain task per second hands out
    # all of a process's (a task of ids per batch cost the workers more than the healthy sends)
    deadline = time.monotonic() + 2 * outcomes.RELEASED_HAND_OFF_EVERY
    while not outcomes.released_hand_off():  # another test's may still be on its way
        assert time.monotonic() < deadline
        time.sleep(0.05)
    handed_at = time.monotonic()

    assert not outcomes.released_hand_off()
    while time.monotonic() - handed_at < outcomes.RELEASED_HAND_OFF_EVERY:
        time.sleep(0.05)
    assert outcomes.released_hand_off()


def test_a_rate_limit_caps_the_deliveries_started_per_second(
    receiver: Receiver, station: Chargestation
) -> None:
    limited = endpoint_at(receiver, "/limited", station.organization, rate_limit=2)
    free = endpoint_at(receiver, "/free", station.organization)
    for _ in range(5):  # locations: no ordering chain holds any of them back
        LocationFactory.create(organization=station.organization)

    # A worker's fan-out leases what can go at once and leaves the rate-limited ones to a claim
    fanned = fanout.events_fan_out(limit=100)
    claimed = fanned.claimed + claims.deliveries_claim(ids=fanned.waiting)

    assert sum(d.endpoint_id == limited.pk for d in claimed) == 2
    assert sum(d.endpoint_id == free.pk for d in claimed) == 5
    waiting = Delivery.objects.filter(endpoint=limited, claimed_until__isnull=True)
    assert waiting.count() == 3
    assert all(d.next_attempt_at and d.next_attempt_at > timezone.now() for d in waiting)


def test_a_batch_to_one_endpoint_fits_in_its_lease_at_the_pace_its_sender_allows(
    receiver: Receiver, station: Chargestation, settings: Settings
) -> None:
    # Given four sender threads, and an endpoint (heard from once) that takes a while to answer,
    # with six deliveries due at once (of six stations: none waits for another's turn)
    settings.WEBHOOKS_CONCURRENCY = 4
    stations = [ChargestationFactory.create(location=station.location) for _ in range(6)]
    fan_out_waiting()  # their creation: before any endpoint, so for none
    endpoint_at(receiver, "/slow", station.organization)
    toggle(station)
    deliver_waiting()
    receiver.behave("/slow", Reply(200, delay=0.3))

    # When the six are sent
    for each in stations:
        toggle(each)
    deliver_waiting()

    # Then they went out a few at a time (the endpoint's share of the senders)...
    arrivals = sorted(r.received_at for r in receiver.requests("/slow")[1:])
    assert len(arrivals) == 6
    at_once = max(sum(1 for t in arrivals if start <= t < start + 0.25) for start in arrivals)
    assert at_once < settings.WEBHOOKS_CONCURRENCY
    # ...and a batch's lease lasts as long as a whole batch to one endpoint takes at that pace, each
    # send taking its full timeout (a lease that ran out mid-batch would leave sends to another worker)
    rounds = -(-settings.WEBHOOKS_BATCH_SIZE // at_once)
    assert claims.lease() >= timedelta(seconds=settings.WEBHOOKS_TIMEOUT * rounds)
