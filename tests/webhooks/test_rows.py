"""The hot path's INSERTs (webhooks.rows): rows stored as the ORM would store them, ids in order.

On PostgreSQL a batch is one statement whose rows travel as one JSON parameter; on SQLite, VALUES
lists. Either way each value must read back as it was given.
"""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import DataError, connection, transaction
from django.test.utils import CaptureQueriesContext

from organizations.models import Organization
from tests.factories import EndpointFactory, OrganizationFactory
from webhooks import rows
from webhooks.delivery.fanout import DELIVERY_COLUMNS
from webhooks.models import EVENT_COLUMNS, Delivery, DeliveryStatus, Event

pytestmark = pytest.mark.django_db

TRICKY = [
    "quotes ' and \" and a backslash \\ and a %s and %(name)s",
    "lines\nand\ttabs",
    "ünïcödé, 中文, emoji 🔌⚡",
    "",
]


def event(organization: Organization, n: int, **fields: object) -> Event:
    return Event(
        public_id=f"evt_rows_{n}",
        organization_id=organization.pk,
        type="location.updated",
        object="location",
        data={"n": n, "text": TRICKY[n % len(TRICKY)], "nested": [{"deep": None}, True, 1.5]},
        ordering_key="" if n % 2 else f"station-{n}",
        location_pk=None if n % 3 else n,
        chargestation_pk=n,
        created_at=datetime(2026, 12, 4, 12, 0, 0, 123456, tzinfo=UTC) + timedelta(microseconds=n),
        **fields,
    )


def test_a_batch_reads_back_as_given_with_its_ids_in_order() -> None:
    organization = OrganizationFactory.create()
    given = [event(organization, n) for n in range(120)]

    ids = rows.insert(Event, EVENT_COLUMNS, given)

    assert len(set(ids)) == 120
    stored = Event.objects.in_bulk(ids)
    for pk, expected in zip(ids, given, strict=True):
        got = stored[pk]
        for name in ("public_id", "type", "object", "data", "ordering_key", "location_pk", "created_at"):
            assert getattr(got, name) == getattr(expected, name), name
        assert (got.organization_id, got.is_test, got.fanned_out) == (organization.pk, False, False)


def test_uuids_datetimes_and_nulls_read_back_as_given() -> None:
    organization = OrganizationFactory.create()
    [event_id] = rows.insert(Event, EVENT_COLUMNS, [event(organization, 1)])
    endpoint = EndpointFactory.create(organization=organization)
    token = uuid.uuid4()
    now = datetime(2026, 12, 4, 13, 14, 15, 999999, tzinfo=UTC)
    delivery = Delivery(
        event_id=event_id,
        endpoint=endpoint,
        status=DeliveryStatus.PENDING,
        ordering_key="k",
        attempt_count=0,
        next_attempt_at=now,
        claimed_until=None,
        claim_token=token,
        created_at=now,
    )

    [pk] = rows.insert(Delivery, DELIVERY_COLUMNS, [delivery])

    stored = Delivery.objects.get(pk=pk)
    assert (stored.claim_token, stored.next_attempt_at, stored.claimed_until) == (token, now, None)
    assert (stored.status, stored.created_at, stored.event_id) == (DeliveryStatus.PENDING, now, event_id)


def test_a_value_no_column_type_reads_is_refused_before_anything_is_sent() -> None:
    organization = OrganizationFactory.create()
    odd = event(organization, 1)
    odd.data = {"a set": {1, 2}}

    with CaptureQueriesContext(connection) as queries, pytest.raises(TypeError):
        rows.insert(Event, EVENT_COLUMNS, [odd])

    assert not [q for q in queries.captured_queries if "INSERT" in q["sql"]]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's case: SQLite keeps any length")
def test_postgresql_a_batch_is_one_statement_and_a_value_too_long_fails_it() -> None:
    organization = OrganizationFactory.create()

    with CaptureQueriesContext(connection) as queries:
        rows.insert(Event, EVENT_COLUMNS, [event(organization, n) for n in range(100)])
    assert len([q for q in queries.captured_queries if q["sql"].startswith("INSERT")]) == 1

    too_long = event(organization, 1000)
    too_long.public_id = "x" * 41  # the column holds 40
    with pytest.raises(DataError), transaction.atomic():
        rows.insert(Event, EVENT_COLUMNS, [event(organization, 1001), too_long])
    assert not Event.objects.filter(public_id="evt_rows_1001").exists()
