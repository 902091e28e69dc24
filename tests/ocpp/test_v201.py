"""OCPP 2.0.1 in-process: a real v2.0.1 charger through the real ASGI app, and the same events as 1.6J."""

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from chargestations.models import Chargestation, Connector
from ocpp_gateway import evse, transaction_events
from ocpp_gateway.meter import readings_parse
from ocpp_gateway.models import ChargerTransaction
from ocpp_gateway.simulator_v201 import meter_value
from organizations.models import Organization
from sessions_app.models import Session
from tests.factories import SessionFactory
from tests.ocpp.inprocess import charger_at, communicator_for, in_db, run
from tests.ocpp.scenarios import SESSION_EVENTS, T0, Network, network_create, session_charge
from tests.ocpp.scenarios_v201 import comparable, session_charge_v201, transaction_ids, v201
from webhooks.models import Event

pytestmark = pytest.mark.django_db(transaction=True)

COMPARED = ("session.", "transaction.", "charger.", "connector.")


@pytest.fixture
def network(organization: Organization) -> Network:
    network = network_create(organization, protocol="ocpp2.0.1")
    Event.objects.all().delete()  # those of building the network
    return network


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def recorded(*prefixes: str) -> list[tuple[str, dict[str, Any]]]:
    """The recorded events (type, data), in order; only those whose type starts with `prefixes`."""
    return [
        (event.type, event.data)
        for event in Event.objects.order_by("id")
        if not prefixes or event.type.startswith(prefixes)
    ]


def types(*prefixes: str) -> list[str]:
    return [type_ for type_, _ in recorded(*prefixes)]


def statuses() -> list[str]:
    return [data["status"] for _, data in recorded("connector.status_changed")]


def test_the_canonical_session_raises_the_same_events_with_the_same_data_as_over_1_6j(
    network: Network, organization: Organization
) -> None:
    # Given the canonical session run by a 1.6J charger on a 1.6J station
    network16 = network_create(organization)
    Event.objects.all().delete()

    async def over_1_6j() -> int:
        async with charger_at(
            network16.station.endpoint, authorization_key=network16.authorization_key
        ) as cp:
            return await session_charge(cp, network16.tag)

    run(over_1_6j)
    events16 = recorded()
    Event.objects.all().delete()

    # When a 2.0.1 charger runs it on a 2.0.1 station
    async def over_2_0_1() -> str:
        async with charger_at(network.station.endpoint, **v201(network)) as charger:
            return await session_charge_v201(charger, network.tag)

    transaction_id = run(over_2_0_1)
    events201 = recorded()

    # Then both raise exactly SESSION_EVENTS, in order
    assert [t for t, _ in events16] == [t for t, _ in events201] == SESSION_EVENTS
    # and the same data, but for the transaction id: 1.6J's an integer, the 2.0.1 charger's a string
    assert [(t, comparable(d, network16)) for t, d in events16 if t.startswith(COMPARED)] == [
        (t, comparable(d, network)) for t, d in events201 if t.startswith(COMPARED)
    ]
    session16, session201 = (
        Session.objects.get(chargestation=network16.station),
        Session.objects.get(chargestation=network.station),
    )
    assert session16.transaction_id is not None
    assert set(transaction_ids(d for t, d in events16 if t.startswith(COMPARED))) == {
        None,
        int(session16.transaction_id),
    }
    assert set(transaction_ids(d for t, d in events201 if t.startswith(COMPARED))) == {None, transaction_id}
    assert session201.transaction_id == transaction_id
    # and the stations' connectors went through the same statuses
    connectors = [
        [c["status"] for c in d["connectors"]]
        for t, d in events201
        if t == "chargestation.connector_status.updated"
    ]
    assert connectors == [["Available"], ["Preparing"], ["Charging"], ["Finishing"], ["Available"]]


def test_the_session_api_shows_the_chargers_transaction_id_as_a_string(
    network: Network, api: APIClient
) -> None:
    # Given a session a 2.0.1 charger ran
    async def scenario() -> str:
        async with charger_at(network.station.endpoint, **v201(network)) as charger:
            return await session_charge_v201(charger, network.tag)

    transaction_id = run(scenario)

    # When the API shows it
    response = api.get(f"/api/v1/sessions/{Session.objects.get().public_id}")

    # Then its transaction id is the charger's string
    assert response.status_code == 200
    assert response.json()["transaction_id"] == transaction_id
    assert response.json()["metrics"]["energyConsumed"] == 11000


def test_authorize_answers_the_status_of_the_id_token(network: Network) -> None:
    # Given a connected 2.0.1 charger; when it asks about a driver's card and an unknown one
    async def scenario() -> tuple[str, str]:
        async with charger_at(network.station.endpoint, **v201(network)) as charger:
            return await charger.authorize(network.tag), await charger.authorize("NO-SUCH-CARD")

    # Then the driver's is accepted, the other not, and nothing changed
    assert run(scenario) == ("Accepted", "Invalid")
    assert types("session.", "transaction.") == []


def test_a_1_6j_only_charger_of_a_2_0_1_station_is_refused(network: Network) -> None:
    # Given a 2.0.1 station; when its charger offers only ocpp1.6
    async def scenario() -> bool:
        communicator = communicator_for(network.station.endpoint, ("ocpp1.6",), network.authorization_key)
        accepted, _ = await communicator.connect(timeout=10)
        await communicator.disconnect(timeout=2)
        return accepted

    # Then the handshake is refused and the station stays offline
    assert run(scenario) is False
    assert not Chargestation.objects.get(pk=network.station.pk).online


def test_an_unreadable_message_gets_a_call_error_and_the_connection_stays_up(network: Network) -> None:
    # Given a connected 2.0.1 charger
    async def scenario() -> tuple[list, list]:
        communicator = communicator_for(network.station.endpoint, ("ocpp2.0.1",), network.authorization_key)
        await communicator.connect(timeout=10)
        # When it sends what is not OCPP-J, then a heartbeat
        await communicator.send_to(text_data="this is not JSON")
        error = json.loads(await communicator.receive_from(timeout=10))
        await communicator.send_to(text_data=json.dumps([2, "ok", "Heartbeat", {}]))
        answer = json.loads(await communicator.receive_from(timeout=10))
        await communicator.disconnect(timeout=10)
        return error, answer

    error, answer = run(scenario)

    # Then the first gets a CallError, and the heartbeat its answer
    assert error[:3] == [4, "-1", "FormatViolation"]
    assert answer[:2] == [3, "ok"] and "currentTime" in answer[2]


@pytest.mark.parametrize(
    ("reports", "expected"),
    [
        ([("Available", 1)], ["Available"]),
        ([("Available", 1), ("Occupied", 1)], ["Available", "Preparing"]),
        ([("Reserved", 1), ("Unavailable", 1), ("Faulted", 1)], ["Reserved", "Unavailable", "Faulted"]),
        # One EVSE with two connectors is one of ours: occupied while either is
        (
            [("Available", 1), ("Available", 2), ("Occupied", 2), ("Available", 2)],
            ["Available", "Preparing", "Available"],
        ),
        ([("Faulted", 1), ("Available", 2)], ["Faulted", "Available"]),
    ],
    ids=["available", "occupied", "as 1.6 says them", "two connectors", "one usable connector"],
)
def test_status_notifications_of_an_evse_are_its_connectors_status(
    network: Network, reports: list[tuple[str, int]], expected: list[str]
) -> None:
    # Given a connected 2.0.1 charger; when it reports the statuses of EVSE 1's connectors
    async def scenario() -> None:
        async with charger_at(network.station.endpoint, **v201(network)) as charger:
            for status, connector_id in reports:
                await charger.status(status, 1, connector_id=connector_id)

    run(scenario)

    # Then our connector 1 took the EVSE's status, in 1.6's words
    assert statuses() == expected
    connector = Connector.objects.get(pk=network.connector.pk)
    assert connector.error_code == ("OtherError" if expected[-1] == "Faulted" else "NoError")


def test_the_charging_state_refines_occupied_and_suspended_ev_is_the_car_full(network: Network) -> None:
    # Given a 2.0.1 charger whose car charges, is paused by the station, charges, is full, is unplugged
    async def scenario() -> None:
        async with charger_at(network.station.endpoint, **v201(network)) as charger:
            await charger.status("Available")
            await charger.status("Occupied")
            transaction_id = await charger.start_transaction(network.tag, at=T0)
            for at, state in [
                (1, "Charging"),
                (20, "SuspendedEVSE"),
                (25, "Charging"),
                (50, "SuspendedEV"),
                (55, "Idle"),
            ]:
                await charger.charging_state(transaction_id, state, at=T0 + minutes(at))
            await charger.stop_transaction(transaction_id, meter_stop=0, at=T0 + minutes(60))
            await charger.status("Available")

    run(scenario)

    # Then the connector went through 1.6's statuses, and the car was full from SuspendedEV on, once
    assert statuses() == [
        "Available",
        "Preparing",
        "Charging",
        "SuspendedEVSE",
        "Charging",
        "SuspendedEV",
        "Finishing",
        "Available",
    ]
    assert Session.objects.get().ev_charged_at == T0 + minutes(50)
    assert types("session.ev_charged") == ["session.ev_charged"]


def test_queued_events_out_of_order_are_applied_in_seq_no_order_and_repeats_change_nothing(
    network: Network,
) -> None:
    # Given a charger that charged while offline, with the connector already Available again
    Connector.objects.filter(pk=network.connector.pk).update(status="Available")
    transaction_id = "c0ffee00-0000-4000-8000-000000000001"

    # When it sends its queue out of order, some events twice
    async def scenario() -> list[Any]:
        async with charger_at(network.station.endpoint, **v201(network)) as charger:
            event = charger.transaction_event
            started = {
                "id_token": {"id_token": network.tag, "type": "ISO14443"},
                "evse": {"id": 1, "connector_id": 1},
                "charging_state": "Charging",
                "meter_value": [meter_value(energy_wh=1000, at=T0, context="Transaction.Begin")],
            }
            answers = [
                await event(
                    "Updated",
                    transaction_id,
                    seq_no=2,
                    offline=True,
                    trigger_reason="MeterValuePeriodic",
                    at=T0 + minutes(60),
                    meter_value=[meter_value(energy_wh=12000, power_w=11000, at=T0 + minutes(60))],
                ),
                await event(
                    "Started",
                    transaction_id,
                    seq_no=0,
                    offline=True,
                    trigger_reason="Authorized",
                    at=T0,
                    **started,
                ),
                await event(
                    "Updated",
                    transaction_id,
                    seq_no=1,
                    offline=True,
                    trigger_reason="MeterValuePeriodic",
                    at=T0 + minutes(30),
                    meter_value=[meter_value(energy_wh=6500, power_w=11000, at=T0 + minutes(30))],
                ),
                await event(
                    "Updated",
                    transaction_id,
                    seq_no=2,
                    offline=True,
                    trigger_reason="MeterValuePeriodic",
                    at=T0 + minutes(60),
                    meter_value=[meter_value(energy_wh=12000, power_w=11000, at=T0 + minutes(60))],
                ),
                await event(
                    "Ended",
                    transaction_id,
                    seq_no=3,
                    offline=True,
                    trigger_reason="EVDeparted",
                    at=T0 + minutes(60),
                    stopped_reason="EVDisconnected",
                    charging_state="Idle",
                ),
                await event(
                    "Started",
                    transaction_id,
                    seq_no=0,
                    offline=True,
                    trigger_reason="Authorized",
                    at=T0,
                    **started,
                ),
            ]
            return answers

    answers = run(scenario)

    # Then the session ran as the charger says it did, in its order and at its times, once
    assert types() == [
        "chargestation.online",
        "charger.connected",
        "session.created",
        "session.started",
        "transaction.started",
        "session.updated",
        "transaction.updated",
        "session.updated",
        "transaction.updated",
        "session.ended",
        "transaction.stopped",
        "chargestation.offline",
        "charger.disconnected",
    ]
    assert [d["energyReport"]["energy_meter"]["value"] for _, d in recorded("transaction.updated")] == [
        6.5,
        12.0,
    ]
    session = Session.objects.get()
    assert (session.status, session.transaction_id) == ("ended", transaction_id)
    assert session.metrics == {
        "chargingStart": "2026-02-06T14:00:00.000Z",
        "chargingStop": "2026-02-06T15:00:00.000Z",
        "meterStart": 1000,
        "meterStop": 12000,
        "energyConsumed": 11000,
        "energyPeriod": 3600,
    }
    # and the events that name the driver were told the token's status
    assert [a.id_token_info for a in answers] == [
        None,
        {"status": "Accepted"},
        None,
        None,
        None,
        {"status": "Accepted"},
    ]


def test_a_gap_does_not_hold_live_events_and_what_comes_after_them_is_too_late(network: Network) -> None:
    # Given a started transaction, and a queued event after a gap (seq_no 1 never came)
    async def scenario() -> None:
        async with charger_at(network.station.endpoint, **v201(network)) as charger:
            transaction_id = await charger.start_transaction(network.tag, meter_start=0, at=T0)
            await charger.transaction_event(
                "Updated",
                transaction_id,
                seq_no=2,
                offline=True,
                trigger_reason="MeterValuePeriodic",
                meter_value=[meter_value(energy_wh=2000, power_w=11000, at=T0 + minutes(20))],
            )
            assert await in_db(types, "session.updated") == []  # held
            # When a live event comes, and then the missing one
            await charger.transaction_event(
                "Updated",
                transaction_id,
                seq_no=3,
                trigger_reason="MeterValuePeriodic",
                meter_value=[meter_value(energy_wh=3000, power_w=11000, at=T0 + minutes(30))],
            )
            await charger.transaction_event(
                "Updated",
                transaction_id,
                seq_no=1,
                offline=True,
                trigger_reason="MeterValuePeriodic",
                meter_value=[meter_value(energy_wh=1000, power_w=11000, at=T0 + minutes(10))],
            )

    run(scenario)

    # Then the held one was applied before the live one, and the late one not at all
    assert [d["energy_report"]["energy_meter"]["value"] for _, d in recorded("session.updated")] == [2.0, 3.0]


def test_meter_values_of_an_evse_meter_its_running_session(network: Network) -> None:
    # Given a running 2.0.1 transaction on EVSE 1
    async def scenario() -> None:
        async with charger_at(network.station.endpoint, **v201(network)) as charger:
            await charger.start_transaction(network.tag, meter_start=500, at=T0)
            # When the charger sends a MeterValues of EVSE 1, and one of its main meter
            await charger.meter_values(energy_wh=5500, power_w=11000, at=T0 + minutes(30))
            await charger.meter_values(energy_wh=99000, power_w=20000, evse_id=0, at=T0 + minutes(30))

    run(scenario)

    # Then the session was metered once, by EVSE 1's
    [(_, data)] = recorded("transaction.updated")
    assert data["energyReport"]["energy_meter"] == {"value": 5.5, "unit": "kWh"}
    assert Session.objects.get().metrics["energyConsumed"] == 5000


def test_a_started_event_quoting_a_remote_start_starts_that_session(network: Network) -> None:
    # Given two requested sessions with the same tag on the station
    first, second = (
        SessionFactory.create(chargestation=network.station, driver=network.driver, id_tag=network.tag)
        for _ in range(2)
    )

    # When the charger starts the second's remote start (its remoteStartId), naming no idToken
    status = transaction_events.transaction_event_receive(
        chargestation_id=network.station.pk,
        event={
            "event_type": "Started",
            "timestamp": "2026-02-06T14:00:00Z",
            "trigger_reason": "RemoteStart",
            "seq_no": 0,
            "transaction_info": {"transaction_id": "TX-1", "remote_start_id": second.pk},
            "evse": {"id": 1},
        },
    )

    # Then the second started with its tag, and the first waits
    assert status is None
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("created", "started")
    assert (second.transaction_id, second.id_tag) == ("TX-1", network.tag)


def test_a_transaction_becomes_a_session_once_it_says_who_charges(network: Network) -> None:
    # Given a charger whose transactions start at the plug, before the driver is known
    def receive(seq_no: int, event_type: str, **event: Any) -> str | None:
        return transaction_events.transaction_event_receive(
            chargestation_id=network.station.pk,
            event={
                "event_type": event_type,
                "timestamp": (T0 + minutes(seq_no)).isoformat(),
                "seq_no": seq_no,
                "transaction_info": {"transaction_id": "TX-2", "charging_state": "EVConnected"},
                **event,
            },
        )

    receive(
        0,
        "Started",
        trigger_reason="CablePluggedIn",
        evse={"id": 1, "connector_id": 1},
        meter_value=[meter_value(energy_wh=700, at=T0)],
    )
    assert Session.objects.count() == 0

    # When it is authorized
    status = receive(
        1, "Updated", trigger_reason="Authorized", id_token={"id_token": network.tag, "type": "ISO14443"}
    )

    # Then the session starts then, from the register it had
    assert status == "Accepted"
    session = Session.objects.get()
    assert (session.status, session.transaction_id, session.id_tag) == ("started", "TX-2", network.tag)
    assert session.metrics == {"chargingStart": "2026-02-06T14:01:00.000Z", "meterStart": 700}


def test_a_long_id_token_is_kept_whole(network: Network) -> None:
    # Given a 2.0.1 idToken longer than 1.6J's 20-character idTag (an eMAID, say)
    token = "NL-EDR-C12345678-9-LONGTOKEN"

    # When a transaction starts with it
    transaction_events.transaction_event_receive(
        chargestation_id=network.station.pk,
        event={
            "event_type": "Started",
            "timestamp": T0.isoformat(),
            "seq_no": 0,
            "trigger_reason": "Authorized",
            "transaction_info": {"transaction_id": "TX-LONG", "charging_state": "EVConnected"},
            "id_token": {"id_token": token, "type": "eMAID"},
            "evse": {"id": 1, "connector_id": 1},
        },
    )

    # Then its session runs under the whole token, not a cut one
    assert Session.objects.get(transaction_id="TX-LONG").id_tag == token


@pytest.mark.parametrize(
    ("current", "said", "expected"),
    [
        (None, {"connector_status": "Available"}, "Available"),
        ("Available", {"connector_status": "Occupied"}, "Preparing"),
        ("Charging", {"connector_status": "Occupied"}, "Charging"),
        ("Faulted", {"connector_status": "Occupied"}, "Preparing"),
        ("Available", {"charging_state": "EVConnected"}, "Preparing"),
        ("Preparing", {"charging_state": "Charging"}, "Charging"),
        ("Charging", {"charging_state": "SuspendedEV"}, "SuspendedEV"),
        ("Charging", {"charging_state": "SuspendedEVSE"}, "SuspendedEVSE"),
        ("Charging", {"charging_state": "Idle"}, "Finishing"),
        ("Available", {"charging_state": "Idle"}, "Preparing"),
        ("Charging", {"transaction_ended": True}, "Finishing"),
        ("Available", {"transaction_ended": True}, None),
        ("Charging", {"transaction_ended": True, "charging_state": "EVConnected"}, "Finishing"),
        ("Charging", {}, None),
    ],
)
def test_the_status_mapping(current: str | None, said: dict[str, Any], expected: str | None) -> None:
    assert evse.status_v16(current, **said) == expected


def test_meter_values_2_0_1_are_read_with_their_unit_and_multiplier() -> None:
    [reading] = readings_parse(
        [
            {
                "timestamp": "2026-02-06T14:30:00Z",
                "sampled_value": [
                    {"value": 12.5, "unit_of_measure": {"unit": "kWh"}},
                    {
                        "value": 3.7,
                        "measurand": "Power.Active.Import",
                        "unit_of_measure": {"unit": "W", "multiplier": 3},
                    },
                    {
                        "value": 16,
                        "measurand": "Current.Import",
                        "phase": "L1",
                        "unit_of_measure": {"unit": "A"},
                    },
                    {"value": 80, "measurand": "SoC", "unit_of_measure": {"unit": "Percent"}},
                ],
            }
        ]
    )

    assert reading.timestamp == T0 + minutes(30)
    assert (reading.energy_wh, reading.power_w, reading.current_a, reading.state_of_charge) == (
        12500,
        3700,
        16,
        80,
    )


def test_an_evse_is_as_busy_as_its_busiest_connector_and_as_usable_as_its_most_usable() -> None:
    assert evse.evse_status(["Available", "Occupied"]) == "Occupied"
    assert evse.evse_status(["Faulted", "Available"]) == "Available"
    assert evse.evse_status(["Faulted", "Unavailable"]) == "Unavailable"


def test_the_bookkeeping_of_transactions_that_are_over_is_purged(network: Network) -> None:
    # Given a transaction ended two days ago, one ended an hour ago, one running since yesterday, and
    # one left open for two months
    def record(transaction_id: str, *, ended: bool, age: timedelta) -> None:
        row = ChargerTransaction.objects.create(
            chargestation=network.station, transaction_id=transaction_id, ended=ended
        )
        ChargerTransaction.objects.filter(pk=row.pk).update(updated_at=timezone.now() - age)

    record("OLD-END", ended=True, age=timedelta(days=2))
    record("NEW-END", ended=True, age=timedelta(hours=1))
    record("RUNNING", ended=False, age=timedelta(days=1))
    record("LOST", ended=False, age=timedelta(days=60))

    # When the beat purges
    purged = transaction_events.charger_transactions_purge()

    # Then the old ended one and the abandoned one are gone, and the others kept
    assert purged == 2
    assert set(ChargerTransaction.objects.values_list("transaction_id", flat=True)) == {"NEW-END", "RUNNING"}
