"""The services behind the gateway, called as the gateway and the tasks call them."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from chargestations.models import Chargestation, Connector
from ocpp_gateway import remote, stations, transactions
from ocpp_gateway.meter import readings_parse
from sessions_app.models import Session
from tests.factories import ConnectorFactory, DriverFactory, IdTagFactory, SessionFactory
from tests.ocpp.scenarios import T0, Network
from webhooks.models import Event

pytestmark = pytest.mark.django_db


def events_after(mark: int) -> list[str]:
    return list(Event.objects.filter(id__gt=mark).order_by("id").values_list("type", flat=True))


def mark() -> int:
    return Event.objects.order_by("-id").values_list("id", flat=True).first() or 0


def connected(station: Chargestation, *, interval: int, silent_for: int) -> Chargestation:
    then = timezone.now() - timedelta(seconds=silent_for)
    Chargestation.objects.filter(pk=station.pk).update(
        online=True, heartbeat_interval=interval, last_connect_at=then, last_message_at=then
    )
    return Chargestation.objects.get(pk=station.pk)


def test_the_silence_check_takes_offline_only_stations_silent_past_twice_their_heartbeat(
    network: Network,
) -> None:
    # Given a station silent for 11 minutes (heartbeat 5), one for 9, one online that never spoke OCPP
    silent = connected(network.station, interval=300, silent_for=660)
    recent = connected(
        ConnectorFactory.create(chargestation__location=network.station.location).chargestation,
        interval=300,
        silent_for=540,
    )
    untracked = ConnectorFactory.create(chargestation__location=network.station.location).chargestation
    Chargestation.objects.filter(pk=untracked.pk).update(online=True)
    before = mark()

    # When the check runs
    assert stations.chargestations_silent_offline() == 1

    # Then only the silent one went offline, with its events
    online = dict(Chargestation.objects.values_list("pk", "online"))
    assert (online[silent.pk], online[recent.pk], online[untracked.pk]) == (False, True, True)
    assert events_after(before) == ["chargestation.offline", "charger.disconnected"]


def test_a_charger_that_speaks_after_the_silence_check_is_online_again(network: Network) -> None:
    # Given a connection the silence check took offline
    station = connected(network.station, interval=60, silent_for=600)
    assert station.last_connect_at is not None
    stations.chargestations_silent_offline()
    before = mark()

    # When that connection speaks again
    stations.chargestation_seen(chargestation_id=station.pk, connected_at=station.last_connect_at)

    # Then the station is online again
    assert Chargestation.objects.get(pk=station.pk).online
    assert events_after(before) == ["chargestation.online", "charger.connected"]


def test_an_old_connection_neither_takes_offline_nor_revives_a_station(network: Network) -> None:
    # Given a charger that reconnected: its old connection's identity is stale
    old = stations.chargestation_connect(chargestation_id=network.station.pk)
    stations.chargestation_connect(chargestation_id=network.station.pk)

    # When the old connection closes
    assert not stations.chargestation_disconnect(chargestation_id=network.station.pk, connected_at=old)

    # Then the station stays online
    assert Chargestation.objects.get(pk=network.station.pk).online


def test_connector_zero_sets_every_connector_and_an_unknown_connector_is_added(network: Network) -> None:
    ConnectorFactory.create(chargestation=network.station, connector_number=2)
    before = mark()

    stations.connector_status_record(
        chargestation_id=network.station.pk, connector_number=0, status="Unavailable", error_code="NoError"
    )
    stations.connector_status_record(
        chargestation_id=network.station.pk, connector_number=3, status="Available", error_code="NoError"
    )

    statuses = dict(
        Connector.objects.filter(chargestation=network.station).values_list("connector_number", "status")
    )
    assert statuses == {1: "Unavailable", 2: "Unavailable", 3: "Available"}
    # Connector 2 was already Unavailable: no event for it. Connector 3 is created, then reported.
    assert events_after(before) == [
        "chargestation.connector.created",
        "chargestation.connector_status.updated",
        "connector.status_changed",
    ]


def test_id_tags_are_checked_against_the_organizations_drivers(network: Network) -> None:
    inactive = IdTagFactory.create(driver=network.driver, active=False).token
    retired = IdTagFactory.create(
        driver=DriverFactory.create(organization=network.driver.organization, active=False)
    )
    foreign = IdTagFactory.create().token  # another organization's
    SessionFactory.create(chargestation=network.station, id_tag="RSPENDING")

    def status(token: str) -> str:
        return transactions.id_tag_status(
            organization_id=network.station.organization_id, chargestation_id=network.station.pk, token=token
        )

    assert [status(t) for t in (network.tag, inactive, retired.token, foreign, "NOPE", "RSPENDING")] == [
        "Accepted",
        "Blocked",
        "Blocked",
        "Invalid",
        "Invalid",
        "Accepted",
    ]


def test_start_transaction_starts_the_requested_session_and_a_repeat_changes_nothing(
    network: Network,
) -> None:
    # Given a session requested through the API with the driver's tag
    requested = SessionFactory.create(
        chargestation=network.station, driver=network.driver, id_tag=network.tag
    )
    before = mark()

    # When the charger starts a transaction with that tag, twice (it lost the first answer)
    start: dict[str, Any] = {
        "chargestation_id": network.station.pk,
        "connector_number": 1,
        "id_tag": network.tag,
        "meter_start": 10,
        "timestamp": T0,
    }
    first = transactions.transaction_start(**start)
    second = transactions.transaction_start(**start)

    # Then that session started, once, on the connector's rate
    assert first == second == (str(requested.pk), "Accepted")
    session = Session.objects.get(pk=requested.pk)
    assert (session.status, session.transaction_id, session.connector, session.rate) == (
        "started",
        str(requested.pk),
        network.connector,
        network.rate,
    )
    assert Session.objects.count() == 1
    assert events_after(before) == ["session.started", "transaction.started"]


def test_a_stop_for_an_unknown_or_ended_transaction_changes_nothing(network: Network) -> None:
    transaction_id, _ = transactions.transaction_start(
        chargestation_id=network.station.pk,
        connector_number=1,
        id_tag=network.tag,
        meter_start=0,
        timestamp=T0,
    )
    transactions.transaction_stop(
        chargestation_id=network.station.pk, transaction_id=transaction_id, meter_stop=100, timestamp=T0
    )
    before = mark()

    transactions.transaction_stop(
        chargestation_id=network.station.pk, transaction_id=transaction_id, meter_stop=999, timestamp=T0
    )
    transactions.transaction_stop(
        chargestation_id=network.station.pk, transaction_id="123456", meter_stop=1, timestamp=T0
    )

    assert events_after(before) == []
    assert Session.objects.get().metrics["meterStop"] == 100


def test_overdue_requested_sessions_are_cancelled_by_the_safety_net(
    network: Network, settings: Settings
) -> None:
    settings.OCPP_CANCEL_AFTER = 120
    overdue = SessionFactory.create(chargestation=network.station)
    Session.objects.filter(pk=overdue.pk).update(created_at=timezone.now() - timedelta(seconds=121))
    fresh = SessionFactory.create(chargestation=network.station)
    running = SessionFactory.create(chargestation=network.station, status="started")
    Session.objects.filter(pk=running.pk).update(created_at=timezone.now() - timedelta(hours=1))

    assert remote.sessions_cancel_overdue() == 1

    statuses = dict(Session.objects.values_list("pk", "status"))
    assert (statuses[overdue.pk], statuses[fresh.pk], statuses[running.pk]) == (
        "cancelled",
        "created",
        "started",
    )


def test_stopping_a_session_that_is_not_running_is_a_409(network: Network, api: APIClient) -> None:
    session = SessionFactory.create(chargestation=network.station)

    response = api.post(f"/api/v1/sessions/{session.public_id}/stop")

    assert response.status_code == 409
    assert response.json() == {"detail": "Only a started session can be stopped; this one is created."}


def test_a_remote_start_without_a_tag_or_a_user_gets_a_virtual_tag(
    network: Network, api: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    # Given an offline station; when a session is started on it with neither user nor tag
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/sessions", {"chargestation": network.station.public_id}, format="json")

    # Then it got a tag of its own, and failed to start since the station is offline
    session = Session.objects.get(public_id=response.json()["_id"])
    assert len(session.id_tag) == 20 and session.id_tag.startswith("RS")
    assert (session.status, session.failure_reason) == ("start_failed", "The chargestation is offline.")


def test_meter_values_are_read_in_watts_watt_hours_amperes_and_percent() -> None:
    [reading] = readings_parse(
        [
            {
                "timestamp": "2026-02-06T14:30:00Z",
                "sampled_value": [
                    {"value": "12.5", "measurand": "Energy.Active.Import.Register", "unit": "kWh"},
                    {"value": "3.7", "measurand": "Power.Active.Import", "unit": "kW", "phase": "L1"},
                    {"value": "3.6", "measurand": "Power.Active.Import", "unit": "kW", "phase": "L2"},
                    {"value": "16", "measurand": "Current.Import", "unit": "A", "phase": "L1"},
                    {"value": "15", "measurand": "Current.Import", "unit": "A", "phase": "L2"},
                    {"value": "80", "measurand": "SoC", "unit": "Percent"},
                    {"value": "230", "measurand": "Voltage", "unit": "V"},
                    {"value": "AB12", "format": "SignedData"},
                ],
            }
        ]
    )

    assert reading.timestamp == T0 + timedelta(minutes=30)
    assert (reading.energy_wh, reading.power_w, reading.current_a, reading.state_of_charge) == (
        12500,
        7300,
        16,
        80,
    )
