"""The outbox row rides with the change's COMMIT (edrv_project/db_backends/deferred.py).

A change's event is written in the change's transaction, but its INSERT waits for the COMMIT and
goes out in the same round trip (PostgreSQL), or just before the transaction's next statement,
whatever that is: the transaction reads its own events, savepoints keep their meaning, and a
rollback leaves nothing behind. These tests commit for real (`transaction=True`).
"""

from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from chargestations.models import Location
from organizations.models import Organization
from tests.factories import PriceComponentFactory, RateFactory
from webhooks.models import Event
from webhooks.outbox import recording

pytestmark = pytest.mark.django_db(transaction=True)


def location_events(location: Location) -> list[str]:
    return list(
        Event.objects.filter(data___id=location.public_id).order_by("id").values_list("type", flat=True)
    )


def test_the_event_insert_goes_with_the_commit(organization: Organization) -> None:
    location = Location.objects.create(organization=organization, name="Before")

    with CaptureQueriesContext(connection) as queries:
        location.name = "After"
        location.save()

    # Django logs its own BEGIN and COMMIT too: the statements are the rest.
    statements = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(("BEGIN", "COMMIT"))]
    assert statements[0].startswith('UPDATE "chargestations_location"')
    assert statements[-1].startswith('INSERT INTO "webhooks_event"')
    if connection.vendor == "postgresql":  # one message, one round trip: the INSERT, then COMMIT
        assert statements[-1].endswith("; COMMIT")
        assert len(statements) == 2
    assert location_events(location) == ["location.created", "location.updated"]


def test_a_new_connection_commits_its_events_as_the_first_did(organization: Organization) -> None:
    # The backend keeps what sends the COMMIT's message from one commit to the next: a connection
    # closed and opened again (CONN_MAX_AGE, a health check, a server restart) gets its own.
    location = Location.objects.create(organization=organization, name="First connection")
    connection.close()

    location.name = "Second connection"
    location.save()
    connection.close()
    location.name = "Third connection"
    location.save()

    assert location_events(location) == ["location.created", "location.updated", "location.updated"]
    assert Event.objects.filter(data__name="Third connection").exists()


def test_the_events_have_their_ids_once_committed(organization: Organization) -> None:
    with transaction.atomic():
        events = recording.events_record(organization_id=organization.pk, items=[("location.created", {})])

    assert [event.pk for event in events] == list(Event.objects.values_list("id", flat=True))
    assert events[0].pk is not None


def test_the_transaction_reads_its_own_events_before_it_commits(organization: Organization) -> None:
    with transaction.atomic():
        location = Location.objects.create(organization=organization, name="Read back")
        seen = location_events(location)

    assert seen == ["location.created"]


def test_a_rolled_back_savepoint_takes_its_events_and_keeps_the_others(organization: Organization) -> None:
    with transaction.atomic():
        kept = Location.objects.create(organization=organization, name="Kept")
        try:
            with transaction.atomic():
                gone = Location.objects.create(organization=organization, name="Gone")
                raise RuntimeError("the inner block fails")
        except RuntimeError:
            pass
        kept.name = "Kept, renamed"
        kept.save()

    assert location_events(kept) == ["location.created", "location.updated"]
    assert location_events(gone) == []
    assert not Location.objects.filter(pk=gone.pk).exists()


def test_a_rollback_leaves_nothing_waiting_for_the_next_transaction(organization: Organization) -> None:
    with transaction.atomic():
        rolled_back = Location.objects.create(organization=organization, name="Rolled back")
        transaction.set_rollback(True)
    with transaction.atomic():
        committed = Location.objects.create(organization=organization, name="Committed")

    assert location_events(rolled_back) == []
    assert location_events(committed) == ["location.created"]
    assert Event.objects.count() == 1


def test_a_deferred_statement_that_fails_fails_the_commit_and_the_change_with_it(
    organization: Organization,
) -> None:
    taken = Location.objects.create(organization=organization, name="Its event's id is taken")
    [existing] = Event.objects.filter(data___id=taken.public_id)

    with pytest.raises(IntegrityError), transaction.atomic():
        location = Location.objects.create(organization=organization, name="Never committed")
        connection.statement_defer(  # type: ignore[attr-defined]
            'UPDATE "webhooks_event" SET "public_id" = %s WHERE "id" <> %s RETURNING "id"',
            [existing.public_id, existing.pk],
            lambda rows: None,
        )

    assert not Location.objects.filter(pk=location.pk).exists()
    assert location_events(location) == []


def test_outside_a_transaction_a_deferred_statement_runs_at_once(organization: Organization) -> None:
    ran: list[Any] = []
    connection.statement_defer(  # type: ignore[attr-defined]
        'SELECT "id" FROM "organizations_organization" WHERE "id" = %s', [organization.pk], ran.extend
    )

    assert ran == [(organization.pk,)]


def test_a_large_batch_waits_in_many_statements_and_commits_whole(organization: Organization) -> None:
    with transaction.atomic():
        events = recording.events_record(
            organization_id=organization.pk, items=[("location.created", {"n": n}) for n in range(100)]
        )

    stored = list(Event.objects.order_by("id").values_list("id", "data"))
    assert stored == [(event.pk, {"n": n}) for n, event in enumerate(events)]


def test_a_part_saved_in_a_later_transaction_raises_its_own_event(organization: Organization) -> None:
    with transaction.atomic():
        rate = RateFactory.create(organization=organization)
        PriceComponentFactory.create(rate=rate, type="ENERGY")
    with transaction.atomic():
        PriceComponentFactory.create(rate=rate, type="TIME")

    events = Event.objects.filter(object="rate").order_by("id")
    assert list(events.values_list("type", flat=True)) == ["rate.created", "rate.updated"]
    created, updated = (sorted(c["type"] for c in e.data["price_components"]) for e in events)
    assert (created, updated) == (["ENERGY"], ["ENERGY", "TIME"])
