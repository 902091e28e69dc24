"""What a worker does, run in the test process: for tests that drive the pipeline step by step."""

from django.test.utils import CaptureQueriesContext

from webhooks.delivery import fanout, sending


def deliver_waiting() -> int:
    """A worker's turn: fan out the events committed so far and send them, then send one batch of
    whatever else is due (retries, resends, chains moving on). Returns the sends attempted."""
    return sending.events_deliver() + sending.deliveries_send()


def fan_out_waiting() -> int:
    """Only the fan-out step: the deliveries of every event committed so far are written (and
    leased to this process, which sends nothing). Returns how many events were fanned out."""
    fanned = 0
    while step := fanout.events_fan_out(limit=1000).events:
        fanned += step
    return fanned


def own_queries(captured: CaptureQueriesContext) -> list[str]:
    """The statements captured, but for the event rows the test's earlier writes left waiting.

    A test runs in a transaction that never commits: the outbox rows of the changes it made wait
    for the next statement (edrv_project/db_backends/deferred.py), whichever it is, and go out
    with the first one captured.
    """
    statements = [q["sql"] for q in captured.captured_queries]
    return [sql for sql in statements if not sql.startswith('INSERT INTO "webhooks_event"')]
