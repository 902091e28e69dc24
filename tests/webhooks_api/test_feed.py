"""`GET /api/v1/events/feed` through the project's ASGI application, in-process: an organization's
events after one, oldest first, each envelope as its webhooks send it; paging with `after`/`next`;
`types`, `limit` and `wait`; scoped like `/events`; and the long poll, woken through Redis (a
redis-server of the test's own) or, without Redis, by polling.

The real server (uvicorn over TCP) is in test_feed_server.py; the commit-order case in
tests/webhooks/test_feed_horizon.py.
"""

import shutil
import time
from collections.abc import Iterator

import pytest
from pytest_django.fixtures import Settings

from organizations.models import Organization, Plan, Scope
from tests.e2e.broker import PrivateRedis
from tests.factories import EndpointFactory, LocationFactory, OrganizationFactory
from tests.webhooks_api.feed_calls import (  # noqa: F401 - feed_threads_closed: a fixture
    FEED,
    asgi_get,
    asgi_get_all,
    feed_threads_closed,
    in_background,
    key_for,
    page,
    record,
)
from webhooks.endpoints.test_events import endpoint_send_test
from webhooks.models import Event

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("feed_threads_closed")]


@pytest.fixture
def key(organization: Organization) -> str:
    return key_for(organization)


@pytest.fixture
def redis_url(settings: Settings) -> Iterator[str]:
    """A redis-server of this test's own, as REDIS_URL: announcements and subscriptions go there."""
    if not shutil.which("redis-server"):
        pytest.skip("needs a redis-server to run privately")
    with PrivateRedis(shutil.which("redis-server") or "") as redis:
        settings.REDIS_URL = redis.url
        yield redis.url


def test_it_answers_the_events_after_one_oldest_first_as_their_webhooks_send_them(
    organization: Organization, key: str
) -> None:
    # Given an eDRV event, a charger-protocol event and a third, in that order
    first = record(organization, "location.created", {"name": "Depot"})
    charger = record(organization, "charger.connected", {"chargeBoxId": "CP-1", "connected": True})
    third = record(organization, "location.updated", {"name": "Depot 2"})

    # When a client reads from the oldest (after=""), then after the first one
    everything = asgi_get(f"{FEED}?after=", key)
    later = asgi_get(f"{FEED}?after={first.public_id}", key)

    # Then each answer holds the envelopes, oldest first, byte for byte, and the id to read after next
    assert (everything.status, later.status) == (200, 200)
    assert everything.content == page([first, charger, third], third.public_id)
    assert later.content == page([charger, third], third.public_id)
    assert everything.json()["events"][1] == {
        "event": "charger.connected",
        "timestamp": everything.json()["events"][1]["timestamp"],
        "data": {"chargeBoxId": "CP-1", "connected": True},
    }


def test_a_client_pages_with_limit_and_next_and_ends_on_an_empty_page(
    organization: Organization, key: str
) -> None:
    # Given five events
    events = [record(organization, "location.created", {"name": f"L{n}"}) for n in range(5)]

    # When a client reads two at a time, passing each answer's `next` as `after`
    pages, after = [], ""
    for _ in range(4):
        answer = asgi_get(f"{FEED}?after={after}&limit=2", key).json()
        pages.append([event["data"]["name"] for event in answer["events"]])
        after = answer["next"]

    # Then it gets them all, oldest first, each once; the last page is empty and keeps `next`
    assert pages == [["L0", "L1"], ["L2", "L3"], ["L4"], []]
    assert after == events[-1].public_id


def test_without_after_it_starts_at_the_newest_event(organization: Organization, key: str) -> None:
    # Given events from before the client starts
    record(organization)
    newest = record(organization)

    # When it starts without `after`, then reads after the `next` it was given
    start = asgi_get(FEED, key)
    fresh = record(organization, "location.updated", {"name": "Renamed"})
    then = asgi_get(f"{FEED}?after={start.json()['next']}", key)

    # Then the first answer is empty and points at the newest event; the next holds only what came after
    assert start.content == page([], newest.public_id)
    assert then.content == page([fresh], fresh.public_id)


def test_an_organization_without_events_starts_from_the_beginning(
    organization: Organization, key: str
) -> None:
    # Given an organization with no event yet: `next` is "" (after="" reads from the oldest)
    start = asgi_get(FEED, key)
    assert start.json() == {"events": [], "next": ""}

    # When its first event commits, then reading after "" finds it
    event = record(organization)
    assert asgi_get(f"{FEED}?after={start.json()['next']}", key).content == page([event], event.public_id)


def test_types_chooses_the_events_and_an_unknown_type_is_a_400_naming_it(
    organization: Organization, key: str
) -> None:
    # Given events of three types
    created = record(organization, "location.created")
    record(organization, "location.updated")
    deleted = record(organization, "location.deleted")

    # When a client asks for two of them; and for an unknown one
    chosen = asgi_get(f"{FEED}?after=&types=location.deleted,location.created", key)
    unknown = asgi_get(f"{FEED}?after=&types=location.created,session.exploded", key)

    # Then it gets those two kinds only; the unknown type is refused by name
    assert chosen.content == page([created, deleted], deleted.public_id)
    assert unknown.status == 400
    assert unknown.json() == {
        "types": [
            '"session.exploded" is not an event type. The valid ones are listed at GET /api/v1/event-types.'
        ]
    }


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("limit=0", "limit", "Ensure this value is greater than or equal to 1."),
        ("limit=501", "limit", "Ensure this value is less than or equal to 500."),
        ("limit=many", "limit", "A valid integer is required."),
        ("wait=31", "wait", "Ensure this value is less than or equal to 30."),
        ("wait=-1", "wait", "Ensure this value is greater than or equal to 0."),
    ],
)
def test_limit_and_wait_out_of_bounds_are_a_400_naming_the_field(
    key: str, query: str, field: str, message: str
) -> None:
    answer = asgi_get(f"{FEED}?{query}", key)

    assert (answer.status, answer.json()) == (400, {field: [message]})


def test_after_must_be_one_of_the_organizations_events(
    organization: Organization, key: str, other_organization: Organization
) -> None:
    # Given an event of another organization, and one of this one
    theirs = record(other_organization)
    record(organization)

    # When a client passes an id that is no event, and the other organization's event's id
    for after in ("no-such-event", theirs.public_id):
        answer = asgi_get(f"{FEED}?after={after}", key)

        # Then both are the same 400, which says what to do
        assert answer.status == 400
        assert answer.json()["after"] == [
            "No event with this id in this organization (or no longer kept: see WEBHOOKS_RETENTION_DAYS). "
            "Leave out `after` to start at the newest event, or pass it empty to start at the oldest kept."
        ]


def test_another_organizations_events_never_show(
    organization: Organization, key: str, other_organization: Organization
) -> None:
    # Given events of both organizations, interleaved
    mine = [record(organization), record(other_organization), record(organization)]
    record(other_organization)

    # When this organization reads everything
    answer = asgi_get(f"{FEED}?after=", key)

    # Then it sees its own two events only
    assert answer.content == page([mine[0], mine[2]], mine[2].public_id)


def test_test_events_are_left_out(organization: Organization, key: str) -> None:
    # Given a test event sent to one endpoint, then a real event
    endpoint_send_test(
        endpoint=EndpointFactory.create(organization=organization), type_name="session.started"
    )
    real = record(organization)
    assert Event.objects.filter(is_test=True).exists()

    # When the organization reads everything, then the test event is not in it
    assert asgi_get(f"{FEED}?after=", key).content == page([real], real.public_id)


def test_it_is_scoped_like_events(organization: Organization, key: str) -> None:
    record(organization)
    # A key without webhooks:read is refused, naming the scope; no key is a 401
    network_only = key_for(organization, [Scope.NETWORK_READ])
    refused = asgi_get(f"{FEED}?after=", network_only)
    assert (refused.status, refused.json()) == (
        403,
        {"detail": "This API key lacks the scope webhooks:read.", "requiredScope": "webhooks:read"},
    )
    assert asgi_get(f"{FEED}?after=", None).status == 401
    assert asgi_get(f"{FEED}?after=", key_for(organization, [Scope.ALL])).status == 200

    # A Free organization has no webhooks, and no feed either
    free = OrganizationFactory.create(plan=Plan.FREE)
    answer = asgi_get(f"{FEED}?after=", key_for(free))
    assert answer.status == 403
    assert "Starter tier" in answer.json()["detail"]


def test_the_route_answers_with_a_trailing_slash_and_only_reads(key: str) -> None:
    assert asgi_get(f"{FEED}/?after=", key).status == 200
    refused = asgi_get(FEED, key, method="POST")
    assert (refused.status, refused.json()) == (405, {"detail": 'Method "POST" not allowed.'})


def test_with_nothing_new_a_wait_ends_at_its_time_with_an_empty_page_and_the_same_next(
    organization: Organization, key: str, redis_url: str
) -> None:
    # Given an event the client has seen
    seen = record(organization)

    # When it waits one second for the next and nothing happens
    answer = asgi_get(f"{FEED}?after={seen.public_id}&wait=1", key)

    # Then it is answered at the end of the wait, with nothing and the same `next`
    assert answer.json() == {"events": [], "next": seen.public_id}
    assert 1.0 <= answer.seconds < 2.0


def test_a_wait_ends_as_soon_as_an_event_commits(
    organization: Organization, key: str, redis_url: str
) -> None:
    # Given a client waiting up to 10 s for the organization's next event (and one of another
    # organization, which must not wake it)
    seen = record(organization)
    waiting = in_background(asgi_get, f"{FEED}?after={seen.public_id}&wait=10", key)
    time.sleep(1)
    record(OrganizationFactory.create())
    time.sleep(0.5)
    assert not waiting.done()

    # When an event commits
    LocationFactory.create(organization=organization, name="Fresh")
    committed = time.monotonic()
    answer = waiting.result(timeout=15)

    # Then the wait ends with it within a second, the `next` being its id
    latency = time.monotonic() - committed
    fresh = Event.objects.filter(organization=organization).latest("pk")
    assert answer.content == page([fresh], fresh.public_id)
    assert latency < 1.0, latency


def test_many_clients_waiting_in_one_process_are_all_woken_by_one_commit(
    organization: Organization, key: str, redis_url: str
) -> None:
    # Given 20 clients waiting in one event loop (as in one web process), from the same position
    seen = record(organization)
    waiting = in_background(asgi_get_all, [f"{FEED}?after={seen.public_id}&wait=10"] * 20, key)
    time.sleep(1.5)

    # When one event commits
    fresh = record(organization)
    answers = waiting.result(timeout=15)

    # Then every one of them gets it
    assert [answer.content for answer in answers] == [page([fresh], fresh.public_id)] * 20


def test_without_redis_a_wait_polls_and_still_ends_soon_after_a_commit(
    organization: Organization, key: str, settings: Settings
) -> None:
    # Given no Redis at all (the embedded `make run`): nothing announces, waiting clients poll
    settings.REDIS_URL = ""
    seen = record(organization)
    waiting = in_background(asgi_get, f"{FEED}?after={seen.public_id}&wait=10", key)
    time.sleep(1)

    # When an event commits
    fresh = record(organization)
    committed = time.monotonic()

    # Then the wait ends with it at the next poll (every second)
    answer = waiting.result(timeout=15)
    assert answer.content == page([fresh], fresh.public_id)
    assert time.monotonic() - committed < 2.0
