"""What a session costs, from its rate's price components (OCPI semantics).

- ENERGY: price per kWh, billed in blocks of `step_size` Wh;
- TIME: price per hour of charging (start until the car stopped drawing power), in blocks of
  `step_size` seconds;
- PARKING_TIME: price per hour plugged in without charging (after the car stopped drawing power),
  counted once the `grace_period` minutes are over, in blocks of `step_size` seconds;
- FLAT: price per session.

Each component's tax is added to it; the sum is rounded to cents once. The rate's minimum amount
(tax included) applies once the car has drawn energy: until then the minimum is not owed.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from chargestations.models import PriceComponent, PriceComponentType, Rate

CENT = Decimal("0.01")
WH_PER_KWH = Decimal(1000)
SECONDS_PER_HOUR = Decimal(3600)


@dataclass(frozen=True)
class Usage:
    energy_wh: int
    charging_seconds: int
    parking_seconds: int


def usage_measure(
    *, started_at: datetime, until: datetime, energy_wh: int, ev_charged_at: datetime | None
) -> Usage:
    """Split the session's time at the moment the car stopped drawing power (if it did)."""
    charging_until = min(until, ev_charged_at) if ev_charged_at is not None else until
    charging = max(0, math.floor((charging_until - started_at).total_seconds()))
    parking = max(0, math.floor((until - max(charging_until, started_at)).total_seconds()))
    return Usage(energy_wh=max(0, energy_wh), charging_seconds=charging, parking_seconds=parking)


def _blocks(quantity: int, step_size: int) -> int:
    """The quantity billed: whole blocks of `step_size`, a started block counting in full."""
    step = max(1, step_size)
    return -(-quantity // step) * step


def component_amount(*, component: PriceComponent, usage: Usage) -> Decimal:
    """One component's amount, tax included, unrounded."""
    price = Decimal(component.price)
    if component.type == PriceComponentType.ENERGY:
        amount = price * _blocks(usage.energy_wh, component.step_size) / WH_PER_KWH
    elif component.type == PriceComponentType.TIME:
        amount = price * _blocks(usage.charging_seconds, component.step_size) / SECONDS_PER_HOUR
    elif component.type == PriceComponentType.PARKING_TIME:
        billable = max(0, usage.parking_seconds - component.grace_period * 60)
        amount = price * _blocks(billable, component.step_size) / SECONDS_PER_HOUR
    else:
        amount = price
    return amount * (1 + Decimal(component.tax) / 100)


def cost_compute(*, rate: Rate | None, components: Iterable[PriceComponent], usage: Usage) -> Decimal:
    """The session's cost so far, in the rate's currency, rounded to cents."""
    if rate is None:
        return Decimal("0.00")
    total = sum((component_amount(component=c, usage=usage) for c in components), Decimal(0))
    total = total.quantize(CENT, rounding=ROUND_HALF_UP)
    if usage.energy_wh > 0 and total < rate.minimum_amount:
        return Decimal(rate.minimum_amount).quantize(CENT, rounding=ROUND_HALF_UP)
    return total
