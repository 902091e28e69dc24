"""A session's ceilings, live: each one reached raises its event once, and the charger is asked to stop."""

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from celery.schedules import maybe_schedule, schedule
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from chargestations.models import Chargestation
from edrv_project.celery import app
from ocpp_gateway import tasks
from ocpp_gateway.simulator import SimulatedCharger
from organizations.models import Organization
from sessions_app.models import Session
from tests.e2e.broker import Broker
from tests.factories import SessionFactory
from tests.ocpp.inprocess import charger_at, in_db, run
from tests.ocpp.scenarios import T0, Network, network_create
from tests.ocpp.scenarios_v201 import v201
from webhooks.models import Event

pytestmark = pytest.mark.django_db(transaction=True)

# Long enough for a command the gateway would send to reach the charger.
QUIET = 0.5


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def session_events() -> list[str]:
    return list(
        Event.objects.filter(type__startswith="session.").order_by("id").values_list("type", flat=True)
    )


def exceeded(session: Session) -> dict[str, datetime | None]:
    return {kind: getattr(session, f"{kind}_ceiling_exceeded_at") for kind in ("energy", "time", "cost")}


async def stops_asked(charger: SimulatedCharger) -> list[dict[str, Any]]:
    """Every RemoteStopTransaction the charger has received, once nothing more is on its way."""
    await asyncio.sleep(QUIET)
    asked = []
    while not charger.remote_stops.empty():
        asked.append(charger.remote_stops.get_nowait())
    return asked


def ceilings_set(api: APIClient, ceilings: dict[str, Any]) -> Any:
    """PATCH the running session's ceilings through the API."""
    session = Session.objects.get()
    response = api.patch(f"/api/v1/sessions/{session.public_id}", {"ceilings": ceilings}, format="json")
    assert response.status_code == 200, response.json()
    return response


def test_an_energy_ceiling_set_at_a_remote_start_stops_the_session_once(
    celery_broker: Broker, network: Network, api: APIClient
) -> None:
    # Given a connected charger, and a session started through the API with a 5 kWh ceiling
    async def scenario() -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
        async with charger_at(
            network.station.endpoint, authorization_key=network.authorization_key
        ) as charger:
            await charger.boot()
            body = {
                "chargestation": network.station.public_id,
                "connector": network.connector.public_id,
                "user": network.driver.public_id,
                "ceilings": {"energy": 5000},
            }
            await in_db(api.post, "/api/v1/sessions", body, format="json")
            start = await asyncio.wait_for(charger.remote_starts.get(), 10)
            transaction_id = await charger.start_transaction(start["id_tag"], start["connector_id"], at=T0)
            # When the meter passes 5 kWh at 14:30
            await charger.meter(transaction_id, energy_wh=3000, power_w=11000, at=T0 + minutes(15))
            await charger.meter(transaction_id, energy_wh=5500, power_w=11000, at=T0 + minutes(30))
            stop = await asyncio.wait_for(charger.remote_stops.get(), 10)
            # (and a reading past it again before the charger stops)
            await charger.meter(transaction_id, energy_wh=6000, power_w=11000, at=T0 + minutes(33))
            more = await stops_asked(charger)
            await charger.stop_transaction(transaction_id, 6000, reason="Remote", at=T0 + minutes(35))
            return transaction_id, stop, more

    transaction_id, stop, more = run(scenario)

    # Then the charger was asked to stop once, the ceiling's event was raised once, and the session
    # ended as usual
    assert (stop, more) == ({"transaction_id": transaction_id}, [])
    session = Session.objects.get()
    assert session.status == "ended"
    assert exceeded(session) == {"energy": T0 + minutes(30), "time": None, "cost": None}
    assert session_events() == [
        "session.created",
        "session.started",
        "session.updated",
        "session.updated",
        "session.stop_energy_ceiling_exceeded",
        "session.updated",
        "session.ended",
    ]
    data = Event.objects.get(type="session.stop_energy_ceiling_exceeded").data
    assert (data["ceilings"], data["energy_ceiling_exceeded_at"], data["metrics"]["energyConsumed"]) == (
        {"energy": 5000},
        "2026-02-06T14:30:00.000Z",
        5500,
    )


def test_an_energy_ceiling_stops_a_201_charger_with_request_stop_transaction(
    celery_broker: Broker, organization: Organization, api: APIClient
) -> None:
    # Given a connected OCPP 2.0.1 charger, and a session started through the API with a 5 kWh ceiling
    network = network_create(organization, protocol="ocpp2.0.1")

    async def scenario() -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
        async with charger_at(network.station.endpoint, **v201(network)) as charger:
            await charger.boot()
            body = {
                "chargestation": network.station.public_id,
                "connector": network.connector.public_id,
                "user": network.driver.public_id,
                "ceilings": {"energy": 5000},
            }
            await in_db(api.post, "/api/v1/sessions", body, format="json")
            start = await asyncio.wait_for(charger.remote_starts.get(), 10)
            transaction_id = await charger.start_transaction(
                start["id_token"]["id_token"], at=T0, remote_start_id=start["remote_start_id"]
            )
            # When the meter passes 5 kWh at 14:30, and once more before the charger stops
            await charger.meter(transaction_id, energy_wh=3000, power_w=11000, at=T0 + minutes(15))
            await charger.meter(transaction_id, energy_wh=5500, power_w=11000, at=T0 + minutes(30))
            stop = await asyncio.wait_for(charger.remote_stops.get(), 10)
            await charger.meter(transaction_id, energy_wh=6000, power_w=11000, at=T0 + minutes(33))
            await asyncio.sleep(QUIET)
            more = []
            while not charger.remote_stops.empty():
                more.append(charger.remote_stops.get_nowait())
            await charger.stop_transaction(transaction_id, 6000, reason="Remote", at=T0 + minutes(35))
            return transaction_id, stop, more

    transaction_id, stop, more = run(scenario)

    # Then the charger received one RequestStopTransaction for its transaction, the ceiling's event
    # was raised once, and the session ended as usual
    assert (stop, more) == ({"transaction_id": transaction_id}, [])
    session = Session.objects.get()
    assert (session.status, session.transaction_id) == ("ended", transaction_id)
    assert exceeded(session) == {"energy": T0 + minutes(30), "time": None, "cost": None}
    assert session_events().count("session.stop_energy_ceiling_exceeded") == 1


def test_a_cost_ceiling_lowered_below_what_is_metered_is_reached_at_the_next_reading(
    network: Network, api: APIClient
) -> None:
    # Given a session that costs 3.39 so far (1.00 + 6 kWh at 0.30, plus 21 %)
    async def scenario() -> tuple[list[dict[str, Any]], list[str], list[dict[str, Any]]]:
        async with charger_at(
            network.station.endpoint, authorization_key=network.authorization_key
        ) as charger:
            transaction_id = await charger.start_transaction(network.tag, at=T0)
            await charger.meter(transaction_id, energy_wh=2000, power_w=11000, at=T0 + minutes(10))
            await charger.meter(transaction_id, energy_wh=6000, power_w=11000, at=T0 + minutes(30))
            # When the API sets a 3.00 cost ceiling: nothing is asked of the charger yet
            await in_db(ceilings_set, api, {"cost": "3.00"})
            before = await stops_asked(charger)
            events_before = await in_db(session_events)
            # until its next reading
            await charger.meter(transaction_id, energy_wh=6100, power_w=11000, at=T0 + minutes(31))
            after = await stops_asked(charger)
            await charger.stop_transaction(transaction_id, 6100, reason="Remote", at=T0 + minutes(32))
            return before, events_before, after

    before, events_before, after = run(scenario)

    # Then the reading raised the cost ceiling's event, and the charger was asked to stop once
    assert (before, events_before[-1]) == ([], "session.updated")
    assert len(after) == 1
    session = Session.objects.get()
    assert exceeded(session) == {"energy": None, "time": None, "cost": T0 + minutes(31)}
    assert session_events()[-3:] == ["session.updated", "session.stop_cost_ceiling_exceeded", "session.ended"]
    assert session_events().count("session.stop_cost_ceiling_exceeded") == 1


def test_a_time_ceiling_is_reached_by_the_readings_times(network: Network, api: APIClient) -> None:
    # Given a running session with a 30-minute ceiling
    async def scenario() -> list[dict[str, Any]]:
        async with charger_at(
            network.station.endpoint, authorization_key=network.authorization_key
        ) as charger:
            transaction_id = await charger.start_transaction(network.tag, at=T0)
            await in_db(ceilings_set, api, {"time": 1800})
            # When readings come at 14:10, 14:29:59 and 14:30 (by the charger's clock)
            for at in (minutes(10), minutes(30) - timedelta(seconds=1), minutes(30)):
                await charger.meter(transaction_id, energy_wh=1000, power_w=11000, at=T0 + at)
            asked = await stops_asked(charger)
            await charger.stop_transaction(transaction_id, 1000, reason="Remote", at=T0 + minutes(31))
            return asked

    asked = run(scenario)

    # Then the reading at 14:30 reached it, and the charger was asked to stop
    assert len(asked) == 1
    assert exceeded(Session.objects.get()) == {"energy": None, "time": T0 + minutes(30), "cost": None}
    assert session_events().count("session.stop_time_ceiling_exceeded") == 1


def test_two_ceilings_reached_by_one_reading_raise_both_and_ask_for_one_stop(
    network: Network, api: APIClient
) -> None:
    # Given a running session with energy, time and cost ceilings
    async def scenario() -> list[dict[str, Any]]:
        async with charger_at(
            network.station.endpoint, authorization_key=network.authorization_key
        ) as charger:
            transaction_id = await charger.start_transaction(network.tag, at=T0)
            await in_db(ceilings_set, api, {"energy": 5000, "time": 1800, "cost": "50.00"})
            # When one reading passes both the energy and the time ceilings
            await charger.meter(transaction_id, energy_wh=5200, power_w=11000, at=T0 + minutes(31))
            return await stops_asked(charger)

    asked = run(scenario)

    # Then both events are raised by that reading, and the charger was asked to stop once
    assert len(asked) == 1
    session = Session.objects.get()
    assert exceeded(session) == {"energy": T0 + minutes(31), "time": T0 + minutes(31), "cost": None}
    assert session_events()[-3:] == [
        "session.updated",
        "session.stop_energy_ceiling_exceeded",
        "session.stop_time_ceiling_exceeded",
    ]


def test_the_beat_reaches_a_time_ceiling_without_meter_values(network: Network, api: APIClient) -> None:
    # Given a session charging since two hours ago, with a one-hour ceiling, whose charger sends
    # no meter values
    started = timezone.now() - timedelta(hours=2)

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with charger_at(
            network.station.endpoint, authorization_key=network.authorization_key
        ) as charger:
            transaction_id = await charger.start_transaction(network.tag, at=started)
            await in_db(ceilings_set, api, {"time": 3600})
            # When the beat's check runs, twice
            await in_db(tasks.sessions_time_ceiling_check)
            first = await stops_asked(charger)
            await in_db(tasks.sessions_time_ceiling_check)
            second = await stops_asked(charger)
            await charger.stop_transaction(transaction_id, 0, reason="Remote", at=timezone.now())
            return first, second

    first, second = run(scenario)

    # Then the first marked it by our clock and asked the charger to stop; the second did nothing
    assert (len(first), second) == (1, [])
    session = Session.objects.get()
    assert session.status == "ended"
    assert session.time_ceiling_exceeded_at is not None
    assert session.time_ceiling_exceeded_at - started >= timedelta(hours=2)
    assert session_events().count("session.stop_time_ceiling_exceeded") == 1


def test_the_beat_leaves_sessions_within_their_time_and_those_already_marked(network: Network) -> None:
    # Given started sessions: one within its time ceiling, one already marked, one with none
    now = timezone.now()
    running = {"status": "started", "chargestation": network.station}
    within = SessionFactory.create(
        **running, transaction_id="1", metrics={"chargingStart": now.isoformat()}, ceilings={"time": 3600}
    )
    marked_at = now - minutes(5)
    marked = SessionFactory.create(
        **running,
        transaction_id="2",
        metrics={"chargingStart": (now - minutes(90)).isoformat()},
        ceilings={"time": 3600},
        time_ceiling_exceeded_at=marked_at,
    )
    none = SessionFactory.create(
        **running, transaction_id="3", metrics={"chargingStart": (now - minutes(90)).isoformat()}
    )
    Event.objects.all().delete()

    # When the beat's check runs
    tasks.sessions_time_ceiling_check()

    # Then none of them changed, and nothing was raised
    assert [Session.objects.get(pk=s.pk).time_ceiling_exceeded_at for s in (within, marked, none)] == [
        None,
        marked_at,
        None,
    ]
    assert session_events() == []


def overdue_session_on_an_offline_station(network: Network) -> Session:
    """A session 30 minutes past its one-hour time ceiling, on a station that is offline; no events yet."""
    Chargestation.objects.filter(pk=network.station.pk).update(online=False)
    session = SessionFactory.create(
        chargestation=network.station,
        status="started",
        transaction_id="7",
        metrics={"chargingStart": (timezone.now() - minutes(90)).isoformat()},
        ceilings={"time": 3600},
    )
    Event.objects.all().delete()
    return session


def test_a_ceiling_reached_on_an_offline_station_is_a_stop_failure(network: Network) -> None:
    # Given a session past its time ceiling on a station that is offline
    session = overdue_session_on_an_offline_station(network)

    # When the beat's check runs
    tasks.sessions_time_ceiling_check()

    # Then the ceiling's event is raised, and the stop that could not be asked is a stop failure
    session.refresh_from_db()
    assert session_events() == ["session.stop_time_ceiling_exceeded", "session.stop_failure"]
    assert (session.status, session.stop_failure_reason) == ("started", "The chargestation is offline.")


def test_the_beat_runs_the_time_ceiling_check_at_least_once_a_minute(network: Network) -> None:
    # Given the beat's schedule, the tasks a worker registers at start, and a session past its time
    # ceiling on a station that is offline
    entry = settings.CELERY_BEAT_SCHEDULE["ocpp-time-ceilings"]
    app.loader.import_default_modules()  # what a worker imports before it runs anything
    session = overdue_session_on_an_offline_station(network)

    # When the task the entry names runs, as a worker would run it
    app.tasks[entry["task"]].apply().get()

    # Then it is the time ceiling check (the ceiling is marked, the stop it could not ask a stop
    # failure), and the beat sends it at least once a minute
    session.refresh_from_db()
    assert session.time_ceiling_exceeded_at is not None
    assert session_events() == ["session.stop_time_ceiling_exceeded", "session.stop_failure"]
    interval = maybe_schedule(entry["schedule"])
    assert isinstance(interval, schedule)  # every so many seconds, not at set times
    assert 0 < interval.seconds <= 60
