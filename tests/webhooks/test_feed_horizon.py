"""Events commit out of id order; the feed skips none of them (webhooks.feed.horizon).

An event whose transaction is still open when a later one commits is not passed over: the feed
answers nothing past it until it has committed (or rolled back), then both, in id order. The
cases with two writers at once need PostgreSQL: SQLite has one writer at a time, whose ids commit
in order, and there every visible event is settled.
"""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from django.db import connection, transaction

from organizations.models import Organization
from tests.webhooks_api.feed_calls import (  # noqa: F401 - feed_threads_closed: a fixture
    FEED,
    asgi_get,
    feed_threads_closed,
    in_background,
    key_for,
    page,
    record,
)
from webhooks import rows
from webhooks.feed.horizon import Horizon, settled_event_id
from webhooks.models import Event
from webhooks.outbox import recording

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("feed_threads_closed")]

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="two writers at once need PostgreSQL"
)


@contextmanager
def open_transaction(organization: Organization, *, commit: bool = True) -> Iterator[Callable[[], Event]]:
    """An event written in a transaction of another connection that stays open until the block
    ends, then commits (or rolls back). Yields a function that returns that event."""
    written: list[Event] = []
    ready, release = threading.Event(), threading.Event()

    def writer() -> None:
        try:
            with transaction.atomic():
                written.extend(
                    recording.events_record(organization_id=organization.pk, items=[("location.created", {})])
                )
                # The transaction goes on (its next statement writes the event's waiting row, which
                # takes its id now); its commit comes later.
                rows.written(written)
                ready.set()
                release.wait(30)
                if not commit:
                    transaction.set_rollback(True)
        finally:
            ready.set()
            connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    ready.wait(10)
    try:
        yield lambda: written[0]
    finally:
        release.set()
        thread.join(10)


@postgresql_only
def test_an_event_that_commits_after_a_later_one_is_answered_then_not_skipped(
    organization: Organization,
) -> None:
    key = key_for(organization)
    # Given an event written in a transaction still open (a smaller id), and a later one committed
    with open_transaction(organization) as early:
        later = record(organization)
        assert early().pk < later.pk

        # When a client reads everything while the first is still in flight
        meanwhile = asgi_get(f"{FEED}?after=", key)

        # Then it is answered nothing past the open one: neither event, and a `next` that passes neither
        assert meanwhile.json() == {"events": [], "next": ""}

    # When that transaction has committed, the same read answers both, in id order
    assert asgi_get(f"{FEED}?after=", key).content == page([early(), later], later.public_id)


@postgresql_only
def test_a_waiting_client_is_answered_both_once_the_earlier_one_commits(organization: Organization) -> None:
    key = key_for(organization)
    seen = record(organization)
    # Given a client waiting for the next event, and an event in a transaction still open
    with open_transaction(organization) as early:
        waiting = in_background(asgi_get, f"{FEED}?after={seen.public_id}&wait=10", key)
        time.sleep(1)
        # When a later event commits: the client may not be answered it alone
        later = record(organization)
        time.sleep(1)
        assert not waiting.done()
    # Then once the earlier one commits, it is answered both, in id order
    answer = waiting.result(timeout=15)
    assert answer.content == page([early(), later], later.public_id)


@postgresql_only
def test_a_transaction_that_rolls_back_holds_nothing_back(organization: Organization) -> None:
    key = key_for(organization)
    # Given an event written in a transaction that then rolls back, and a later event committed
    with open_transaction(organization, commit=False):
        later = record(organization)

    # When a client reads everything, then it gets the later one, the rolled-back one never existed
    assert asgi_get(f"{FEED}?after=", key).content == page([later], later.public_id)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's case")
def test_on_sqlite_every_visible_event_is_settled() -> None:
    assert settled_event_id() is None


def test_ids_settle_once_every_writer_seen_with_them_has_ended() -> None:
    # Given ids up to 10 handed out while transactions a and b were writing
    horizon = Horizon()
    assert horizon.advance(10, frozenset({"a", "b"}), at=1.0) == 0
    # When a ends but b goes on (and c has begun, with ids up to 12), nothing is settled yet
    assert horizon.advance(12, frozenset({"b", "c"}), at=2.0) == 0
    # When b ends too, everything up to 10 is; up to 12 once c ends
    assert horizon.advance(13, frozenset({"c"}), at=3.0) == 10
    assert horizon.advance(13, frozenset(), at=4.0) == 13
    # A settled id stays settled
    assert horizon.advance(5, frozenset({"d"}), at=5.0) == 13
