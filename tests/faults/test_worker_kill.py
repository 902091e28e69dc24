"""Scenario 3 of `make faults`, small: a worker SIGKILLed again and again in the middle of sending.

What the dead worker had leased comes back when the lease runs out (the sweeper hands it to the
next worker); a POST it had made but not recorded is sent again, so duplicates are allowed here:
delivery is at least once. Lost and invented are not.
"""

import time

import pytest
from django.db.models import Q
from django.utils import timezone

from bench.faults import ledger
from bench.faults.load import ServiceLoad, Window
from bench.faults.tally import Tally
from bench.faults.targets import target_new
from tests.e2e.receiver import Receiver, Reply
from tests.faults.conftest import Start
from webhooks.models import Delivery, DeliveryStatus

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _in_flight(endpoint_id: int) -> int:
    """Deliveries leased to a worker right now and not settled."""
    return Delivery.objects.filter(
        Q(claimed_until__gt=timezone.now()), endpoint_id=endpoint_id, status=DeliveryStatus.PENDING
    ).count()


def test_a_worker_killed_three_times_under_load_loses_and_invents_nothing(
    start: Start, receiver: Receiver, tally: Tally
) -> None:
    # Given an endpoint that takes 0.3 s per request, a worker and beat
    target = target_new(receiver=receiver, tally=tally, name="s3", plan=Reply(200, delay=0.3), stations=2)
    worker = start("worker")
    start("beat")

    # When changes commit at 20/s for 4 s and the worker is SIGKILLed three times meanwhile
    load = ServiceLoad(
        organization_id=target.organization_id, rate=20, count=80, prefix="s3", station_ids=target.station_ids
    ).start()
    fault = Window()
    fault.open()
    held_at_kills = []
    for _ in range(3):
        time.sleep(1)
        held_at_kills.append(_in_flight(target.endpoint_id))
        worker.kill()
        time.sleep(0.3)
        worker.start()
    fault.close()
    load.join(30)

    # Then, once the dead worker's leases ran out, every committed event arrived; none was made up
    drained = ledger.drain_wait(endpoint_id=target.endpoint_id, tally=tally, path=target.path, timeout=90)
    row = ledger.row_count(
        scenario="3",
        endpoint_id=target.endpoint_id,
        organization_id=target.organization_id,
        tally=tally,
        path=target.path,
        fault=fault,
        expect_duplicates=True,
    )
    # The fault must hit (a killed worker held deliveries) and nothing go astray.
    hit = sum(held_at_kills) > 0
    assert (hit, drained, row.lost, row.invented) == (True, True, 0, 0), (held_at_kills, row)
    assert row.committed >= 80
