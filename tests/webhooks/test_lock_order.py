"""A worker recording a batch and a transaction that locks the same deliveries in id order (as
disabling their endpoint does) wait for each other in turn, never in a circle (a deadlock, which
PostgreSQL breaks by aborting one of them: a disable refused, or a batch recorded again).

The disabling side is played by hand, one row at a time, so that the worker's batch always finds
it in the middle: it holds the lowest delivery and wants the highest.
"""

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction

from organizations.models import Organization
from tests.factories import EndpointFactory, LocationFactory
from tests.pipeline import fan_out_waiting
from webhooks.delivery import claims, outcomes
from webhooks.delivery.http import HttpResult
from webhooks.delivery.outcomes import Outcome, outcomes_record
from webhooks.models import Delivery, DeliveryStatus

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL's case"),
]

OK = HttpResult(status_code=200, body_excerpt="", error="", duration_ms=3)
FAILED = HttpResult(status_code=500, body_excerpt="", error="", duration_ms=3)


def in_thread(
    work: Callable[[], None], errors: list[BaseException], name: str | None = None
) -> threading.Thread:
    def run() -> None:
        try:
            work()
        except BaseException as exc:  # the test reports it
            errors.append(exc)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=run, daemon=True, name=name)
    thread.start()
    return thread


def waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


def test_a_batch_recorded_while_its_deliveries_are_locked_in_id_order_waits_its_turn(
    organization: Organization,
) -> None:
    EndpointFactory.create(organization=organization)
    LocationFactory.create(organization=organization)
    LocationFactory.create(organization=organization)
    fan_out_waiting()
    Delivery.objects.update(claimed_until=None, claim_token=None)
    low, high = claims.deliveries_claim()  # one claim, in id order
    assert low.pk < high.pk and low.claim_token == high.claim_token

    errors: list[BaseException] = []
    holds_low, go_on = threading.Event(), threading.Event()

    def disable_like() -> None:  # locks the endpoint's deliveries in id order, one at a time
        with transaction.atomic():
            Delivery.objects.select_for_update().get(pk=low.pk)
            holds_low.set()
            assert go_on.wait(10)
            Delivery.objects.select_for_update().get(pk=high.pk)

    def worker() -> None:  # the high one answered; the low one is released (held back by a probe)
        assert holds_low.wait(10)
        outcomes_record([Outcome(delivery=high, result=OK, attempted_at=time.time())], released=[low])

    threads = [in_thread(disable_like, errors), in_thread(worker, errors)]
    deadline = time.monotonic() + 10
    while waiting_on_a_lock() < 1 and time.monotonic() < deadline:  # the worker waits for the low one
        time.sleep(0.02)
    go_on.set()
    for thread in threads:
        thread.join(15)

    assert errors == []  # without the turn: "deadlock detected" in one of them
    recorded, released = Delivery.objects.get(pk=high.pk), Delivery.objects.get(pk=low.pk)
    assert (recorded.status, recorded.attempt_count) == (DeliveryStatus.SUCCEEDED, 1)
    assert (released.status, released.claimed_until) == (DeliveryStatus.PENDING, None)


def test_two_batches_failing_on_the_endpoint_one_of_them_disables_wait_in_turn(
    organization: Organization, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an endpoint that its next failure disables, and two deliveries to it held by two claims
    settings.WEBHOOKS_DISABLE_AFTER = 0
    settings.WEBHOOKS_DISABLE_MIN_FAILURES = 1
    endpoint = EndpointFactory.create(organization=organization)
    LocationFactory.create(organization=organization)
    LocationFactory.create(organization=organization)
    fan_out_waiting()
    Delivery.objects.update(claimed_until=None, claim_token=None)
    [first] = claims.deliveries_claim(limit=1)
    [second] = claims.deliveries_claim(limit=1)
    assert first.claim_token != second.claim_token

    # When each worker records its failure, the second holding its delivery's row before the first
    # takes its own: whichever then updates the endpoint's streak first disables the endpoint, and
    # disabling locks every pending delivery of it, the other worker's too
    errors: list[BaseException] = []
    second_holds, first_holds = threading.Event(), threading.Event()
    original = outcomes._attempted_record

    def recorded_then_paused(*args: Any, **kwargs: Any) -> set[int]:
        held = original(*args, **kwargs)
        if threading.current_thread().name == "second":
            second_holds.set()
            first_holds.wait(2)  # with the endpoint locked first, the first waits for it instead
        else:
            first_holds.set()
        return held

    monkeypatch.setattr(outcomes, "_attempted_record", recorded_then_paused)

    def record(delivery: Delivery) -> Callable[[], None]:
        return lambda: outcomes_record([Outcome(delivery=delivery, result=FAILED, attempted_at=time.time())])

    later = in_thread(record(second), errors, name="second")
    assert second_holds.wait(10)
    earlier = in_thread(record(first), errors, name="first")
    for thread in (later, earlier):
        thread.join(15)

    # Then neither was aborted ("deadlock detected"): the endpoint is disabled and its deliveries
    # skipped, the first's fenced off by the disable before its worker could record it
    assert errors == []
    endpoint.refresh_from_db()
    assert not endpoint.active
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SKIPPED}
