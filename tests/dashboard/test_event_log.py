"""Developers > Events: the organization's events, newest first, searched by event id, type, object
id and date range, each with its data and the endpoints it went to; a bounded number of queries
whatever the history."""

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.html import escape
from pytest_django import DjangoAssertNumQueries

from chargestations.models import Chargestation, Location
from organizations.models import Organization
from tests.e2e.receiver import Receiver, status
from tests.factories import ChargestationFactory, EndpointFactory, LocationFactory
from tests.pipeline import deliver_waiting
from webhooks.dashboard.event_log import EVENTS_PER_PAGE
from webhooks.models import Delivery, DeliveryStatus, Event

pytestmark = pytest.mark.django_db

# Session, user, membership, one page of events, their deliveries with endpoints; with room.
MAX_QUERIES = 7


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def listed(client: Client, query: str = "") -> list[str]:
    """The ids of the events the log shows, in order."""
    response = client.get(f"/developers/events/{query}")
    assert response.status_code == 200
    return re.findall(r'<li class="event card" id="event-([^"]+)"', response.content.decode())


def event_of(type_name: str, **about: object) -> Event:
    return Event.objects.filter(type=type_name, **about).get()


def network(organization: Organization) -> tuple[Location, Chargestation]:
    """A location and a chargestation that came online: eDRV and charger-protocol events."""
    location = LocationFactory.create(organization=organization, name="Depot North")
    station = ChargestationFactory.create(location=location, endpoint="CP-NORTH-1")
    station.online = True
    station.save()
    return location, station


def test_newest_first_each_with_its_data_and_where_it_went(
    admin: Client, organization: Organization, receiver: Receiver
) -> None:
    # Given an endpoint that accepts location events and one that refuses them
    happy = EndpointFactory.create(
        organization=organization, url=receiver.url("/ok"), events=["location.created"]
    )
    sad = EndpointFactory.create(
        organization=organization, url=receiver.url("/down"), events=["location.created"]
    )
    receiver.behave("/down", status(410))
    # And a location created, then one more, both delivered by the pipeline
    LocationFactory.create(organization=organization, name="Depot Nørth")
    deliver_waiting()
    LocationFactory.create(organization=organization, name="Depot South")
    # When the log of location events is opened (the 410 also raised news about the sad endpoint:
    # delivery.exhausted, webhook.disabled)
    html = admin.get("/developers/events/?type=location.created").content.decode()
    ids = listed(admin, "?type=location.created")
    # Then both are listed, newest first, with their data pretty-printed
    first, second = Event.objects.filter(type="location.created").order_by("-created_at", "-id")
    assert ids == [first.public_id, second.public_id]
    assert escape('"name": "Depot Nørth"') in html and escape('"name": "Depot South"') in html
    # And the first one's endpoints, each with its outcome and a link to the delivery's page
    older = html.split('<li class="event card"')[2]
    for endpoint, label in ((happy, "Succeeded"), (sad, "Failed")):
        delivery = Delivery.objects.get(endpoint=endpoint, event=second)
        link = f"/developers/webhooks/{endpoint.public_id}/deliveries/{delivery.pk}/"
        assert re.search(rf'{label}</span>\s*<a href="{link}">{re.escape(endpoint.url)}</a>', older)
    # And the newer one, not matched against the endpoints yet, says so; times carry their zone
    assert "Not matched against the endpoints yet." in html.split('<li class="event card"')[1]
    assert " UTC</time>" in html


def test_searched_by_event_id_type_and_object_id(admin: Client, organization: Organization) -> None:
    # Given a location and a chargestation that came online (eDRV and charger-protocol events)
    location, station = network(organization)
    created = event_of("location.created")
    connected = event_of("charger.connected")
    station_events = set(
        Event.objects.filter(chargestation_pk=station.pk)
        .exclude(type="charger.connected")
        .values_list("public_id", flat=True)
    )
    # When searched by event id; then only it
    assert listed(admin, f"?id={created.public_id}") == [created.public_id]
    # By type; then only that type's
    assert listed(admin, "?type=charger.connected") == [connected.public_id]
    # By an object's _id (eDRV envelope); then its events
    assert listed(admin, f"?object={location.public_id}") == [created.public_id]
    assert set(listed(admin, f"?object={station.public_id}")) == station_events
    # By a charger's OCPP identity (charger-protocol envelope: no _id); then its events
    assert listed(admin, "?object=CP-NORTH-1") == [connected.public_id]
    # And by several at once; then the events matching them all
    assert listed(admin, f"?type=location.created&object={station.public_id}") == []


def test_a_transaction_id_is_found_whether_a_number_or_a_string(
    admin: Client, organization: Organization
) -> None:
    # Given charger-protocol transactions whose ids are a JSON number (OCPP 1.6J) and a string (2.0.1)
    now = timezone.now()
    numbered, named = (
        Event.objects.create(
            organization=organization,
            type="transaction.started",
            object="session",
            data={"transactionId": transaction_id, "chargeBoxId": "CP-1", "connectorId": 1},
            fanned_out=True,
            created_at=now,
        )
        for transaction_id in (12345, "tx-2-0-1")
    )
    # When each is searched for as typed; then it is found
    assert listed(admin, "?object=12345") == [numbered.public_id]
    assert listed(admin, "?object=tx-2-0-1") == [named.public_id]


def test_searched_by_date_range(admin: Client, organization: Organization) -> None:
    # Given events of three days
    today = timezone.now().replace(hour=12)
    days = {}
    for back in (0, 1, 3):
        location = LocationFactory.create(organization=organization)
        event = event_of("location.created", data___id=location.public_id)
        Event.objects.filter(pk=event.pk).update(created_at=today - timedelta(days=back))
        days[back] = event.public_id

    def day(back: int) -> str:
        return (today - timedelta(days=back)).date().isoformat()

    # When searched from a day, to a day, or within both; then the events of those whole days
    assert listed(admin, f"?since={day(1)}") == [days[0], days[1]]
    assert listed(admin, f"?until={day(1)}") == [days[1], days[3]]
    assert listed(admin, f"?since={day(3)}&until={day(2)}") == [days[3]]
    # A range that ends before it starts says so, and is not applied
    response = admin.get(f"/developers/events/?since={day(0)}&until={day(3)}")
    assert "The end of the range comes before its start." in response.content.decode()


def test_another_organizations_events_are_not_listed(
    admin: Client, organization: Organization, other_organization: Organization
) -> None:
    # Given an event of ours and one of another organization
    LocationFactory.create(organization=organization)
    LocationFactory.create(organization=other_organization)
    ours = event_of("location.created", organization=organization)
    theirs = event_of("location.created", organization=other_organization)
    # When the log is opened, or searched by their event's id; then theirs is never shown
    assert listed(admin) == [ours.public_id]
    assert listed(admin, f"?id={theirs.public_id}") == []


def test_a_viewer_reads_the_log(viewer: Client, organization: Organization) -> None:
    LocationFactory.create(organization=organization)
    assert listed(viewer) == [event_of("location.created").public_id]


def test_paginated_without_counting(admin: Client, organization: Organization) -> None:
    # Given a page and one more of events
    now = timezone.now()
    Event.objects.bulk_create(
        Event(
            organization=organization,
            type="rate.created",
            object="rate",
            data={},
            created_at=now - timedelta(seconds=i),
        )
        for i in range(EVENTS_PER_PAGE + 1)
    )
    newest_first = list(Event.objects.order_by("-created_at", "-id").values_list("public_id", flat=True))
    # When the first page is opened; then it links to the next, which holds the rest
    first = admin.get("/developers/events/?type=rate.created").content.decode()
    assert listed(admin, "?type=rate.created") == newest_first[:EVENTS_PER_PAGE]
    assert 'href="?type=rate.created&amp;page=2" rel="next"' in first and "Page 1</span>" in first
    assert listed(admin, "?type=rate.created&page=2") == newest_first[EVENTS_PER_PAGE:]


def _history(organization: Organization, count: int, endpoints: int) -> None:
    """`count` events, each delivered (as the pipeline leaves them) to `endpoints` endpoints."""
    targets = [EndpointFactory.create(organization=organization) for _ in range(endpoints)]
    now = timezone.now()
    events = Event.objects.bulk_create(
        Event(
            organization=organization,
            type="location.updated",
            object="location",
            data={"_id": f"loc{i}", "name": f"Location {i}"},
            fanned_out=True,
            created_at=now - timedelta(seconds=i),
        )
        for i in range(count)
    )
    Delivery.objects.bulk_create(
        Delivery(
            event=event, endpoint=endpoint, status=DeliveryStatus.SUCCEEDED, attempt_count=1, created_at=now
        )
        for event in events
        for endpoint in targets
    )


def test_a_page_costs_the_same_queries_whatever_the_history(
    admin: Client, organization: Organization, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    # Given 2000 events, each delivered to five endpoints
    _history(organization, 2000, 5)
    admin.get("/developers/events/")  # a first request settles the session
    # When a page of them is opened, searched or not; then it costs a bounded number of queries
    for query in ("", "?type=location.updated", "?object=loc7", "?page=3", "?since=2020-01-01"):
        with django_assert_max_num_queries(MAX_QUERIES):
            response = admin.get(f"/developers/events/{query}")
        assert response.status_code == 200
    # And a page of 25 events with 125 deliveries costs as many queries as a page of two
    with CaptureQueriesContext(connection) as many:
        assert len(listed(admin)) == EVENTS_PER_PAGE
    Event.objects.filter(organization=organization).exclude(data___id__in=["loc0", "loc1"]).delete()
    with CaptureQueriesContext(connection) as few:
        assert len(listed(admin)) == 2
    assert len(many) == len(few)
