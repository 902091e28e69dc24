"""Scenario 6 of `make faults`, small: changes rolled back leave no event, not even a delivery.

A transaction of 100 changes is rolled back, and then 100 more inside a savepoint of a
transaction that commits; other threads commit changes all along. Only the committed changes
may reach the endpoint, every one of them.
"""

import pytest

from bench.faults import ledger
from bench.faults.load import ServiceLoad, Window
from bench.faults.tally import Tally
from bench.faults.targets import changes_rolled_back, rolled_back_traces, target_new
from tests.e2e.receiver import Receiver
from tests.faults.conftest import Start
from webhooks.models import Event

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_rolled_back_transaction_of_a_hundred_changes_emits_no_event(
    start: Start, receiver: Receiver, tally: Tally
) -> None:
    # Given an endpoint, a worker, and other changes committing from two threads
    target = target_new(receiver=receiver, tally=tally, name="s6", stations=2)
    start("worker")
    control = ServiceLoad(organization_id=target.organization_id, rate=10, count=20, prefix="s6").start()

    # When 100 changes are rolled back, then 100 more in a savepoint around which two commit
    fault = Window()
    fault.open()
    changes_rolled_back(target)
    fault.close()
    control.join(30)

    # Then no event exists or arrives for them, and every committed change's event arrives
    drained = ledger.drain_wait(endpoint_id=target.endpoint_id, tally=tally, path=target.path, timeout=60)
    row = ledger.row_count(
        scenario="6",
        endpoint_id=target.endpoint_id,
        organization_id=target.organization_id,
        tally=tally,
        path=target.path,
        fault=fault,
    )
    assert rolled_back_traces(target, receiver) == (0, 0)
    assert (drained, row.lost, row.invented, row.duplicates) == (True, 0, 0, 0), row
    # stations' location, 2 stations, 20 from the other threads, "kept-before" and "kept-after" (and
    # the target's own endpoint's webhook.created, news about the webhooks, apart)
    network = Event.objects.filter(organization_id=target.organization_id).exclude(
        type__startswith="webhook."
    )
    assert network.count() == row.committed == 25
