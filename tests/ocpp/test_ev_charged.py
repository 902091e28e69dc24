"""The car is full: `session.ev_charged` once, from the power it draws or from SuspendedEV; and parking."""

from datetime import timedelta
from decimal import Decimal

import pytest
from pytest_django.fixtures import Settings

from sessions_app.models import Session
from tests.factories import PriceComponentFactory
from tests.ocpp.inprocess import charger_at, run
from tests.ocpp.scenarios import T0, Network
from webhooks.models import Event

pytestmark = pytest.mark.django_db(transaction=True)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def session_events() -> list[str]:
    return list(
        Event.objects.filter(type__startswith="session.").order_by("id").values_list("type", flat=True)
    )


def test_the_car_drawing_no_power_for_long_enough_is_ev_charged_once(
    network: Network, settings: Settings
) -> None:
    # Given cars count as full after 10 minutes at (almost) no power
    settings.OCPP_EV_CHARGED_AFTER = 600

    # When a session's power drops to 50 W at 14:20 and stays low, then the charger says SuspendedEV
    async def scenario() -> None:
        async with charger_at(
            network.station.endpoint, authorization_key=network.authorization_key
        ) as charger:
            transaction_id = await charger.start_transaction(network.tag, at=T0)
            for at, energy, power in [
                (10, 1800, 11000),
                (20, 3600, 50),
                (25, 3600, 0),
                (31, 3600, 0),
                (40, 3600, 0),
            ]:
                await charger.meter(transaction_id, energy_wh=energy, power_w=power, at=T0 + minutes(at))
            await charger.status("SuspendedEV", at=T0 + minutes(41))
            await charger.stop_transaction(transaction_id, meter_stop=3600, at=T0 + minutes(50))

    run(scenario)

    # Then the reading at 14:31 (11 minutes idle) made it full as of 14:20, once
    session = Session.objects.get()
    assert session.ev_charged_at == T0 + minutes(20)
    assert session_events() == [
        "session.created",
        "session.started",
        "session.updated",
        "session.updated",
        "session.updated",
        "session.updated",
        "session.ev_charged",
        "session.updated",
        "session.ended",
    ]


def test_suspended_ev_makes_the_session_ev_charged_once(network: Network) -> None:
    # Given a running session
    async def scenario() -> None:
        async with charger_at(
            network.station.endpoint, authorization_key=network.authorization_key
        ) as charger:
            transaction_id = await charger.start_transaction(network.tag, at=T0)
            await charger.status("Charging")
            # When the charger reports SuspendedEV twice (the car paused, resumed, paused again)
            await charger.status("SuspendedEV", at=T0 + minutes(45))
            await charger.status("Charging", at=T0 + minutes(46))
            await charger.status("SuspendedEV", at=T0 + minutes(50))
            await charger.stop_transaction(transaction_id, meter_stop=0, at=T0 + minutes(60))

    run(scenario)

    # Then the first SuspendedEV made it full, and only that one raised the event
    assert Session.objects.get().ev_charged_at == T0 + minutes(45)
    assert session_events().count("session.ev_charged") == 1


def test_power_that_comes_back_resets_the_wait(network: Network, settings: Settings) -> None:
    # Given cars count as full after 10 minutes at no power
    settings.OCPP_EV_CHARGED_AFTER = 600

    # When the car pauses for 8 minutes, draws again, then pauses 5 minutes
    async def scenario() -> None:
        async with charger_at(
            network.station.endpoint, authorization_key=network.authorization_key
        ) as charger:
            transaction_id = await charger.start_transaction(network.tag, at=T0)
            for at, power in [(10, 0), (18, 0), (19, 7000), (30, 0), (35, 0)]:
                await charger.meter(transaction_id, energy_wh=1000, power_w=power, at=T0 + minutes(at))

    run(scenario)

    # Then it is not full, and the idle time counts from 14:30
    session = Session.objects.get()
    assert session.ev_charged_at is None
    assert session.metrics["idleSince"] == "2026-02-06T14:30:00.000Z"
    assert "session.ev_charged" not in session_events()


def test_the_final_cost_bills_charging_time_and_parking_after_the_grace_period(
    network: Network, settings: Settings
) -> None:
    # Given the rate also bills TIME (1.20/h, per minute, no tax) and PARKING_TIME after 5 minutes
    # (6.00/h, per minute, no tax), and cars count as full after 10 idle minutes
    settings.OCPP_EV_CHARGED_AFTER = 600
    PriceComponentFactory.create(rate=network.rate, type="TIME", price="1.2000", tax="0", step_size=60)
    PriceComponentFactory.create(
        rate=network.rate, type="PARKING_TIME", price="6.0000", tax="0", step_size=60, grace_period=5
    )

    # When a car charges 3.6 kWh in 20 minutes, then stays plugged in until 14:50
    async def scenario() -> None:
        async with charger_at(
            network.station.endpoint, authorization_key=network.authorization_key
        ) as charger:
            transaction_id = await charger.start_transaction(network.tag, meter_start=500, at=T0)
            for at, energy, power in [(10, 2300, 11000), (20, 4100, 0), (31, 4100, 0)]:
                await charger.meter(transaction_id, energy_wh=energy, power_w=power, at=T0 + minutes(at))
            await charger.stop_transaction(transaction_id, meter_stop=4100, at=T0 + minutes(50))

    run(scenario)

    # Then: ENERGY 3.6 kWh x 0.30 x 1.21 = 1.3068; FLAT 1.00 x 1.21 = 1.21; TIME 20 min = 0.40;
    # PARKING 30 min - 5 min grace = 25 min = 2.50. Total 5.4168, so 5.42.
    session = Session.objects.get()
    assert session.ev_charged_at == T0 + minutes(20)
    assert session.cost_amount == Decimal("5.42")
    assert session.metrics["energyConsumed"] == 3600
