"""Pipeline v2: the change's transaction writes the Event alone; a worker fans it out.

Matching (types, content filters, network scopes) happens in the worker, against the data and the
place the event recorded at commit; each event is fanned out once; a chargestation's events reach
an endpoint in event order even when their fan-outs come in another order.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django.fixtures import Settings

from chargestations.models import Chargestation, Location
from organizations.models import Organization
from tests.e2e.receiver import Receiver
from tests.factories import ChargestationFactory, EndpointFactory, LocationFactory
from tests.pipeline import fan_out_waiting
from webhooks.delivery import fanout, sending
from webhooks.models import Delivery, Event

pytestmark = pytest.mark.django_db


@pytest.mark.django_db(transaction=True)  # the event's row goes out with the COMMIT
def test_a_save_writes_its_event_and_nothing_else_of_the_webhooks(organization: Organization) -> None:
    EndpointFactory.create_batch(3, organization=organization, events=["location.created"])

    with CaptureQueriesContext(connection) as queries:
        location = Location.objects.create(organization=organization, name="Depot")

    statements = [q["sql"] for q in queries.captured_queries]
    assert sum('INSERT INTO "webhooks_event"' in sql for sql in statements) == 1
    assert not [sql for sql in statements if "webhooks_endpoint" in sql or "webhooks_delivery" in sql]
    assert not [sql for sql in statements if "SAVEPOINT" in sql]
    event = Event.objects.get()
    assert (event.fanned_out, event.location_pk, event.data["_id"]) == (
        False,
        location.pk,
        location.public_id,
    )
    assert not Delivery.objects.exists()


def test_the_fan_out_writes_a_delivery_per_subscribed_endpoint_once(organization: Organization) -> None:
    wanted = EndpointFactory.create_batch(2, organization=organization, events=["location.created"])
    EndpointFactory.create(organization=organization, events=["location.deleted"])
    LocationFactory.create(organization=organization)

    assert fan_out_waiting() == 1
    assert fan_out_waiting() == 0  # fanned out once: a second hint or a sweep finds nothing

    assert sorted(Delivery.objects.values_list("endpoint_id", flat=True)) == sorted(e.pk for e in wanted)
    assert Event.objects.get().fanned_out


def test_an_endpoint_registered_after_an_event_does_not_receive_it(organization: Organization) -> None:
    LocationFactory.create(organization=organization)
    EndpointFactory.create(organization=organization, events=["location.created"])  # before the fan-out

    assert fan_out_waiting() == 1
    assert not Delivery.objects.exists()


def test_filters_match_the_data_as_it_was_at_commit(organization: Organization) -> None:
    endpoint = EndpointFactory.create(
        organization=organization,
        events=["location.created", "location.updated"],
        filter={"data": {"name": "Depot A"}},
    )
    location = LocationFactory.create(organization=organization, name="Depot A")
    location.name = "Depot B"
    location.save()  # committed before any worker looked at the first event

    fan_out_waiting()

    [delivery] = Delivery.objects.filter(endpoint=endpoint).select_related("event")
    assert delivery.event.type == "location.created"


def test_scopes_match_the_place_as_it_was_at_commit(organization: Organization) -> None:
    north, south = LocationFactory.create_batch(2, organization=organization)
    endpoint = EndpointFactory.create(
        organization=organization, events=["chargestation.created"], locations=[north.public_id]
    )
    station = ChargestationFactory.create(location=north)
    Chargestation.objects.filter(pk=station.pk).update(location=south)  # moved before the fan-out

    fan_out_waiting()

    assert Delivery.objects.filter(endpoint=endpoint).count() == 1


def test_a_chain_fanned_out_backwards_still_arrives_in_event_order(
    organization: Organization, receiver: Receiver
) -> None:
    endpoint = EndpointFactory.create(
        organization=organization, url=receiver.url("/fifo"), events=["chargestation.updated"]
    )
    receiver.expect_secrets("/fifo", [endpoint.secret])
    station = ChargestationFactory.create(location=LocationFactory.create(organization=organization))
    for public in (True, False, True):
        station.public = public
        station.save()
    first, second, last = Event.objects.filter(type="chargestation.updated").order_by("id")

    # The last event's hint comes first: the earlier events of its chain are fanned out with it.
    sending.events_deliver(event_ids=[last.pk])

    requests = receiver.wait_for(3, path="/fifo")
    assert [r.json["_id"] for r in requests] == [first.public_id, second.public_id, last.public_id]
    assert not Event.objects.filter(fanned_out=False, type="chargestation.updated").exists()


def test_a_chain_behind_a_pending_head_waits_for_it(organization: Organization) -> None:
    endpoint = EndpointFactory.create(organization=organization, events=["chargestation.updated"])
    station = ChargestationFactory.create(location=LocationFactory.create(organization=organization))
    station.public = not station.public
    station.save()
    fan_out_waiting()  # the head: leased to this process, pending
    station.public = not station.public
    station.save()

    fanned = fanout.events_fan_out(limit=10)

    assert fanned.claimed == [] and len(fanned.waiting) == 1
    head, follower = Delivery.objects.filter(endpoint=endpoint).order_by("id")
    assert head.claim_token is not None and follower.claim_token is None


def test_a_worker_sends_what_it_fanned_out_without_claiming_again(
    organization: Organization, receiver: Receiver
) -> None:
    endpoint = EndpointFactory.create(organization=organization, url=receiver.url("/once"))
    receiver.expect_secrets("/once", [endpoint.secret])
    LocationFactory.create(organization=organization)

    with CaptureQueriesContext(connection) as queries:
        assert sending.events_deliver() == 1

    receiver.wait_for(1, path="/once")
    # The fan-out leased the delivery: no SELECT ... FOR UPDATE of deliveries to claim it again.
    claims = [q["sql"] for q in queries.captured_queries if 'FROM "webhooks_delivery"' in q["sql"]]
    assert not [sql for sql in claims if "claimed_until" in sql and "UPDATE" not in sql[:10]]


def test_a_worker_leases_one_batch_of_what_it_fans_out(
    organization: Organization, settings: Settings
) -> None:
    settings.WEBHOOKS_BATCH_SIZE = 2  # its lease is sized for one batch of sends
    EndpointFactory.create_batch(5, organization=organization, events=["location.created"])
    LocationFactory.create(organization=organization)

    fanned = fanout.events_fan_out(limit=10)

    assert (len(fanned.claimed), len(fanned.waiting)) == (2, 3)
    assert Delivery.objects.filter(claim_token__isnull=True).count() == 3  # free for other workers
