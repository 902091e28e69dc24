"""OCPP meter values and timestamps, read into the units sessions work in (W, Wh, A, %).

The two versions sample alike (a measurand, defaulting to the energy register; a phase; a value),
but 1.6 writes the value as a string with a `unit`, and 2.0.1 as a number with a `unit_of_measure`
(`unit`, and a power-of-ten `multiplier`).
"""

from datetime import UTC, datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ocpp_gateway.transactions import MeterReading

ENERGY = "Energy.Active.Import.Register"  # the default measurand
POWER = "Power.Active.Import"
CURRENT = "Current.Import"
SOC = "SoC"
SCALE = {"kWh": 1000.0, "kW": 1000.0}


def charger_time(value: str | None) -> datetime:
    """A charger's timestamp; our clock when it sent none (or nonsense). Naive means UTC."""
    moment = parse_datetime(value) if value else None
    if moment is None:
        return timezone.now()
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _number(sample: dict[str, Any]) -> float | None:
    measure = sample.get("unit_of_measure")
    if isinstance(measure, dict):  # 2.0.1
        unit, multiplier = measure.get("unit", ""), measure.get("multiplier", 0)
    else:
        unit, multiplier = sample.get("unit", ""), 0
    try:
        return float(sample["value"]) * 10.0 ** int(multiplier) * SCALE.get(unit, 1.0)
    except (KeyError, TypeError, ValueError, OverflowError):
        return None


def _combine(samples: list[tuple[str | None, float]], per_phase: str) -> float | None:
    """A total sample wins; otherwise the phases' values summed (power, energy) or their maximum."""
    totals = [value for phase, value in samples if phase is None]
    if totals:
        return totals[-1]
    phases = [value for phase, value in samples if phase in ("L1", "L2", "L3")] or [v for _, v in samples]
    if not phases:
        return None
    return sum(phases) if per_phase == "sum" else max(phases)


def readings_parse(meter_values: list[dict[str, Any]]) -> list[MeterReading]:
    """A `meter_value` list (keys snake_cased by the ocpp package) as one reading per moment.

    1.6's signed data (2.0.1 signs beside the value) and measurands we do not use are skipped.
    """
    readings = []
    for moment in meter_values:
        samples: dict[str, list[tuple[str | None, float]]] = {}
        for sample in moment.get("sampled_value", []):
            number = _number(sample)
            if number is None or sample.get("format") == "SignedData":
                continue
            samples.setdefault(sample.get("measurand", ENERGY), []).append((sample.get("phase"), number))
        readings.append(
            MeterReading(
                timestamp=charger_time(moment.get("timestamp")),
                energy_wh=_combine(samples.get(ENERGY, []), "sum"),
                power_w=_combine(samples.get(POWER, []), "sum"),
                current_a=_combine(samples.get(CURRENT, []), "max"),
                state_of_charge=_combine(samples.get(SOC, []), "max"),
            )
        )
    return readings


def energy_register(readings: list[MeterReading]) -> float | None:
    """The latest energy register (Wh) among these readings; None when none has one."""
    registers = [r for r in readings if r.energy_wh is not None]
    return max(registers, key=lambda r: r.timestamp).energy_wh if registers else None
