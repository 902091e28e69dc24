"""A session's cost from its rate, each price component checked against a hand computation."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from chargestations.models import PriceComponent, Rate
from sessions_app.costs import Usage, cost_compute, usage_measure

START = datetime(2026, 2, 6, 14, 0, tzinfo=UTC)


def component(
    type_: str, price: str, tax: str = "0", step_size: int = 1, grace_period: int = 0
) -> PriceComponent:
    return PriceComponent(
        type=type_, price=Decimal(price), tax=Decimal(tax), step_size=step_size, grace_period=grace_period
    )


def cost(
    *components: PriceComponent, energy_wh: int = 0, charging: int = 0, parking: int = 0, minimum: str = "0"
) -> Decimal:
    rate = Rate(minimum_amount=Decimal(minimum))
    usage = Usage(energy_wh=energy_wh, charging_seconds=charging, parking_seconds=parking)
    return cost_compute(rate=rate, components=components, usage=usage)


@pytest.mark.parametrize(
    ("energy_wh", "step_size", "expected"),
    [
        (11000, 1, "3.99"),  # 11 kWh x 0.30 = 3.30, + 21 % = 3.993
        (1201, 500, "0.54"),  # billed 1500 Wh: 0.45 + 21 % = 0.5445
        (0, 1, "0.00"),
    ],
)
def test_energy_is_billed_per_kwh_in_steps_of_wh_with_tax(
    energy_wh: int, step_size: int, expected: str
) -> None:
    assert cost(component("ENERGY", "0.30", tax="21", step_size=step_size), energy_wh=energy_wh) == Decimal(
        expected
    )


@pytest.mark.parametrize(
    ("charging", "step_size", "expected"),
    [
        (3600, 1, "1.32"),  # 1 h x 1.20 = 1.20, + 10 % = 1.32
        (61, 60, "0.04"),  # billed 2 minutes: 0.04, + 10 % = 0.044
        (5400, 900, "1.98"),  # 1.5 h in quarter hours: 1.80 + 10 %
    ],
)
def test_time_is_billed_per_hour_of_charging_in_steps_of_seconds(
    charging: int, step_size: int, expected: str
) -> None:
    assert cost(
        component("TIME", "1.20", tax="10", step_size=step_size), charging=charging, parking=999
    ) == Decimal(expected)


@pytest.mark.parametrize(
    ("parking", "expected"),
    [
        (30 * 60, "2.50"),  # 30 min - 5 min grace = 25 min x 6.00/h
        (4 * 60, "0.00"),  # within the grace period
        (5 * 60 + 1, "0.10"),  # one second past it: one minute billed
    ],
)
def test_parking_is_billed_per_hour_after_the_grace_period(parking: int, expected: str) -> None:
    parking_time = component("PARKING_TIME", "6.00", step_size=60, grace_period=5)
    assert cost(parking_time, charging=3600, parking=parking) == Decimal(expected)


def test_flat_is_billed_once_per_session_with_tax() -> None:
    assert cost(component("FLAT", "1.00", tax="21")) == Decimal("1.21")


def test_components_add_up_and_round_half_up_once() -> None:
    # ENERGY 4.5 kWh x 0.33 = 1.485 (no tax) and FLAT 3.96 + 0 % -> 5.445 -> 5.45
    assert cost(component("ENERGY", "0.33"), component("FLAT", "3.96"), energy_wh=4500) == Decimal("5.45")


def test_the_minimum_amount_applies_once_energy_was_drawn() -> None:
    energy = component("ENERGY", "0.30")
    assert cost(energy, energy_wh=1000, minimum="2.00") == Decimal("2.00")  # 0.30 < 2.00
    assert cost(energy, energy_wh=10000, minimum="2.00") == Decimal("3.00")
    assert cost(energy, energy_wh=0, minimum="2.00") == Decimal("0.00")


def test_without_a_rate_a_session_costs_nothing() -> None:
    usage = Usage(energy_wh=5000, charging_seconds=3600, parking_seconds=0)
    assert cost_compute(rate=None, components=[], usage=usage) == Decimal("0.00")


def test_usage_splits_charging_and_parking_where_the_car_was_full() -> None:
    full = START + timedelta(minutes=20)
    until = START + timedelta(minutes=50)

    assert usage_measure(started_at=START, until=until, energy_wh=3600, ev_charged_at=full) == Usage(
        energy_wh=3600, charging_seconds=1200, parking_seconds=1800
    )
    assert usage_measure(started_at=START, until=until, energy_wh=3600, ev_charged_at=None) == Usage(
        energy_wh=3600, charging_seconds=3000, parking_seconds=0
    )
    # A reading before the car was full: all charging so far
    assert usage_measure(
        started_at=START, until=full - timedelta(minutes=5), energy_wh=1, ev_charged_at=full
    ) == Usage(energy_wh=1, charging_seconds=900, parking_seconds=0)
