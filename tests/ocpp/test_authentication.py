"""Chargers prove who they are (OCPP security profiles 1 and 2): the gateway in-process, its handshake.

User the station's endpoint, password its authorization key, as HTTP Basic. Anything else is refused
before the socket is accepted, raises no event, leaves a connected charger alone and logs no password.
"""

import asyncio
import base64
import logging
import time
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from pytest_django.fixtures import Settings

from chargestations.models import Chargestation
from chargestations.services import chargestation_authorization_key_generate
from edrv_project.asgi import application
from tests.factories import ChargestationFactory
from tests.ocpp.inprocess import basic_auth, charger_at, communicator_for, in_db, run
from tests.ocpp.scenarios import Network
from webhooks.models import Event

pytestmark = pytest.mark.django_db(transaction=True)

# A refused consumer may wait on channels-redis's blocking read to end: cut the wait short.
REFUSED_CLEANUP = 2
WRONG_KEY = "WrongKeyWrongKey1234"


@pytest.fixture(autouse=True)
def _only_the_gateways_events(network: Network) -> None:
    Event.objects.all().delete()  # those of building the network


def key_of(network: Network) -> str:
    assert network.authorization_key is not None
    return network.authorization_key


def with_headers(endpoint: str, headers: list[tuple[bytes, bytes]], **scope: Any) -> WebsocketCommunicator:
    """A charger's handshake with these headers; `scope` adds to what the server would tell the app
    (its `client` address, its `extensions`). The app reads the scope at the first message."""
    communicator = WebsocketCommunicator(
        application, f"/ocpp/{endpoint}", headers=headers, subprotocols=["ocpp1.6"]
    )
    communicator.scope.update(scope)
    return communicator


async def handshake(communicator: WebsocketCommunicator) -> bool:
    """Whether the gateway accepted the handshake; the connection is closed either way."""
    accepted, _ = await communicator.connect(timeout=10)
    await communicator.disconnect(timeout=10 if accepted else REFUSED_CLEANUP)
    return bool(accepted)


def connects(communicator: WebsocketCommunicator) -> bool:
    async def scenario() -> bool:
        return await handshake(communicator)

    return run(scenario)


def refused_attempts(network: Network) -> dict[str, list[tuple[bytes, bytes]]]:
    endpoint = network.station.endpoint
    other = ChargestationFactory.create(location=network.station.location)
    other_key = chargestation_authorization_key_generate(chargestation=other)
    return {
        "no key": [],
        "a wrong key": [basic_auth(endpoint, WRONG_KEY)],
        "another station's key": [basic_auth(endpoint, other_key)],
        "another station's user and key": [basic_auth(other.endpoint, other_key)],
        "a user that is not the endpoint": [basic_auth("someone", key_of(network))],
        "an empty password": [basic_auth(endpoint, "")],
        "another scheme": [(b"authorization", b"Bearer " + key_of(network).encode())],
        "no base64": [(b"authorization", b"Basic " + f"{endpoint}:{key_of(network)}".encode())],
        "no colon": [(b"authorization", b"Basic " + base64.b64encode(key_of(network).encode()))],
        "two headers": [basic_auth(endpoint, WRONG_KEY), basic_auth(endpoint, key_of(network))],
    }


ATTEMPTS = [
    "no key",
    "a wrong key",
    "another station's key",
    "another station's user and key",
    "a user that is not the endpoint",
    "an empty password",
    "another scheme",
    "no base64",
    "no colon",
    "two headers",
]


@pytest.mark.parametrize("attempt", ATTEMPTS)
def test_a_charger_without_the_stations_key_is_refused_with_no_event_and_no_password_logged(
    network: Network, attempt: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a station with a key; and a charger that connects as it without that key
    headers = refused_attempts(network)[attempt]
    Event.objects.all().delete()  # those of making another station
    caplog.set_level(logging.INFO)

    # When it connects
    accepted = connects(with_headers(network.station.endpoint, headers))

    # Then it is refused before the socket opens: the station stays offline, no event is raised
    assert not accepted
    assert not Chargestation.objects.get(pk=network.station.pk).online
    assert not Event.objects.exists()
    # And the refusal is logged with its endpoint and reason, but no password (nor the header)
    refusals = [r for r in caplog.records if r.getMessage() == "ocpp.handshake.refused"]
    assert [r.endpoint for r in refusals] == [network.station.endpoint]  # type: ignore[attr-defined]
    assert refusals[0].reason  # type: ignore[attr-defined]
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    for secret in (key_of(network), WRONG_KEY, *(value.decode() for _, value in headers)):
        assert secret not in logged


def test_the_stations_endpoint_and_key_connect(network: Network) -> None:
    # Given a station with a key; when its charger connects with its endpoint and key
    async def scenario() -> bool:
        async with charger_at(network.station.endpoint, authorization_key=key_of(network)) as charger:
            await charger.heartbeat()
            return await in_db(lambda: Chargestation.objects.get(pk=network.station.pk).online)

    # Then it is connected and online
    assert run(scenario)
    assert list(Event.objects.order_by("id").values_list("type", flat=True)[:2]) == [
        "chargestation.online",
        "charger.connected",
    ]


@pytest.mark.parametrize("attempt", ["no key", "a wrong key", "a user that is not the endpoint"])
def test_a_refused_intruder_leaves_the_connected_charger_connected_and_working(
    network: Network, attempt: str
) -> None:
    # Given the station's charger connected with its key
    headers = refused_attempts(network)[attempt]
    Event.objects.all().delete()  # those of making another station

    async def scenario() -> tuple[bool, bool]:
        async with charger_at(network.station.endpoint, authorization_key=key_of(network)) as charger:
            # When someone else connects as the station without its key
            intruder_accepted = await handshake(with_headers(network.station.endpoint, headers))
            # Then the charger's connection still works, and its station is online
            await charger.heartbeat()
            online = await in_db(lambda: Chargestation.objects.get(pk=network.station.pk).online)
            return intruder_accepted, online

    intruder_accepted, online = run(scenario)

    assert not intruder_accepted and online
    # And the intruder caused no event: the station went offline only when its charger left
    assert list(Event.objects.order_by("id").values_list("type", flat=True)) == [
        "chargestation.online",
        "charger.connected",
        "chargestation.offline",
        "charger.disconnected",
    ]


@pytest.mark.parametrize(("unsecured", "accepted"), [(False, False), (True, True)])
def test_a_station_without_a_key_connects_without_one_only_when_unsecured_is_allowed(
    network: Network, settings: Settings, unsecured: bool, accepted: bool
) -> None:
    # Given a station that has no key, and a gateway that allows unauthenticated chargers or not
    station = ChargestationFactory.create(location=network.station.location)
    settings.OCPP_ALLOW_UNSECURED = unsecured

    # When its charger connects without credentials
    result = connects(communicator_for(station.endpoint))

    # Then it connects only where that is allowed
    assert result is accepted


def test_a_station_with_a_key_needs_it_even_when_unsecured_is_allowed(
    network: Network, settings: Settings
) -> None:
    # Given a gateway that allows unauthenticated chargers (development), and a station with a key
    settings.OCPP_ALLOW_UNSECURED = True

    # When its charger connects without the key, then with a wrong one, then with it
    async def scenario() -> list[bool]:
        endpoint = network.station.endpoint
        return [
            await handshake(communicator_for(endpoint)),
            await handshake(communicator_for(endpoint, authorization_key=WRONG_KEY)),
            await handshake(communicator_for(endpoint, authorization_key=key_of(network))),
        ]

    # Then only the key opens the connection
    assert run(scenario) == [False, False, True]


def test_a_new_key_replaces_the_old_one(network: Network) -> None:
    # Given a station whose key was generated again
    old_key = key_of(network)
    new_key = chargestation_authorization_key_generate(chargestation=network.station)

    # When its charger connects with the old key, then with the new one
    async def scenario() -> list[bool]:
        endpoint = network.station.endpoint
        return [
            await handshake(communicator_for(endpoint, authorization_key=old_key)),
            await handshake(communicator_for(endpoint, authorization_key=new_key)),
        ]

    # Then only the new one connects
    assert run(scenario) == [False, True]


def test_a_server_with_the_denial_extension_answers_401_asking_for_basic(network: Network) -> None:
    # Given a server that lets the app answer a handshake with an HTTP response (uvicorn does)
    communicator = with_headers(
        network.station.endpoint,
        [basic_auth(network.station.endpoint, WRONG_KEY)],
        extensions={"websocket.http.response": {}},
    )

    # When a charger connects with a wrong key
    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        await communicator.send_input({"type": "websocket.connect"})
        start = await communicator.receive_output(timeout=10)
        body = await communicator.receive_output(timeout=10)
        await communicator.send_input({"type": "websocket.disconnect", "code": 1006})
        await communicator.wait(timeout=REFUSED_CLEANUP)
        return start, body

    start, body = run(scenario)

    # Then the answer is a 401 with a Basic challenge, not an accepted or closed socket
    assert (start["type"], start["status"]) == ("websocket.http.response.start", 401)
    assert (b"www-authenticate", b'Basic realm="OCPP"') in start["headers"]
    assert body["type"] == "websocket.http.response.body" and b"authorization key" in body["body"]
    assert not Event.objects.exists()


def timed(communicator: WebsocketCommunicator) -> Any:
    async def attempt() -> tuple[bool, float]:
        started = time.monotonic()
        accepted, _ = await communicator.connect(timeout=30)
        elapsed = time.monotonic() - started
        await communicator.disconnect(timeout=10 if accepted else REFUSED_CLEANUP)
        return bool(accepted), elapsed

    return attempt


DELAY = 0.3


def test_repeated_failures_for_an_endpoint_are_slowed_down_but_never_its_right_key(
    network: Network, settings: Settings
) -> None:
    # Given a short base delay
    settings.OCPP_REFUSAL_DELAY = DELAY
    endpoint = network.station.endpoint

    # When a guesser tries five wrong keys in a row, and then the charger connects with the right one
    async def scenario() -> list[tuple[bool, float]]:
        results = [
            await timed(communicator_for(endpoint, authorization_key=f"{WRONG_KEY}{n}"))() for n in range(5)
        ]
        return [*results, await timed(communicator_for(endpoint, authorization_key=key_of(network)))()]

    results = run(scenario)

    # Then the first two refusals are at once, the next ones wait 1, 2, 4 delays; the right key waits not
    assert [accepted for accepted, _ in results] == [False] * 5 + [True]
    waits = [elapsed for _, elapsed in results]
    assert waits[0] < DELAY and waits[1] < DELAY
    assert DELAY <= waits[2] < 2 * DELAY
    assert 2 * DELAY <= waits[3] < 4 * DELAY
    assert 4 * DELAY <= waits[4] < 8 * DELAY
    assert waits[5] < DELAY


def test_repeated_failures_from_one_address_are_slowed_down_across_endpoints(
    network: Network, settings: Settings
) -> None:
    # Given a short base delay, and a client trying a different endpoint each time from one address
    settings.OCPP_REFUSAL_DELAY = DELAY
    client = ["203.0.113.9", 40000]

    async def scenario() -> list[float]:
        waits = []
        for n in range(3):
            headers = [basic_auth(f"GUESS-{n}", WRONG_KEY)]
            _, elapsed = await timed(with_headers(f"GUESS-{n}", headers, client=client))()
            waits.append(elapsed)
        # while the real charger, from another address, connects at once
        real = with_headers(
            network.station.endpoint,
            [basic_auth(network.station.endpoint, key_of(network))],
            client=["198.51.100.7", 40001],
        )
        accepted, elapsed = await timed(real)()
        assert accepted
        return [*waits, elapsed]

    waits = run(scenario)

    # Then the third refusal from that address waited, and the real charger did not
    assert waits[0] < DELAY and waits[1] < DELAY
    assert waits[2] >= DELAY
    assert waits[3] < DELAY


def test_a_refusal_is_logged_with_its_client_address(
    network: Network, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    communicator = with_headers(network.station.endpoint, [], client=["203.0.113.9", 40000])

    connects(communicator)

    refusal = next(r for r in caplog.records if r.getMessage() == "ocpp.handshake.refused")
    assert (refusal.endpoint, refusal.reason, refusal.address) == (  # type: ignore[attr-defined]
        network.station.endpoint,
        "no credentials",
        "203.0.113.9",
    )


def test_a_refused_handshake_waits_no_longer_than_the_cap(network: Network, settings: Settings) -> None:
    # Given a tiny base delay, and many failures already counted for the endpoint
    settings.OCPP_REFUSAL_DELAY = 0.01
    endpoint = network.station.endpoint

    async def scenario() -> float:
        for _ in range(12):
            await timed(communicator_for(endpoint))()
        _, elapsed = await timed(communicator_for(endpoint))()
        return elapsed

    # Then the next refusal waits at most 30 base delays (0.3 s), not 2**10 of them
    assert 0.3 <= run(scenario) < 1.0


def test_an_event_loop_stays_free_while_a_refusal_waits(network: Network, settings: Settings) -> None:
    # Given a guesser whose refusals already wait a while
    settings.OCPP_REFUSAL_DELAY = 1.0
    endpoint = network.station.endpoint

    async def scenario() -> float:
        for _ in range(2):
            await timed(communicator_for(endpoint))()
        waiting = asyncio.create_task(timed(communicator_for(endpoint))())
        await asyncio.sleep(0.1)
        # When the real charger connects meanwhile
        started = time.monotonic()
        async with charger_at(endpoint, authorization_key=key_of(network)) as charger:
            await charger.heartbeat()
        elapsed = time.monotonic() - started
        await waiting
        return elapsed

    # Then it is served at once
    assert run(scenario) < 1.0
