"""A session's ceilings: the limits past which the platform stops it, as `Session.ceilings` holds them.

`{"energy": <Wh>, "time": <seconds>, "cost": "<amount>"}`, each optional: energy and time are
integers, the cost a decimal string in the session's currency (exact, unlike a JSON float). The
charger gateway compares them with what metering says (`ocpp_gateway.ceilings`); each ceiling
reached is marked once, in its own `<kind>_ceiling_exceeded_at`.
"""

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

KINDS = ("energy", "time", "cost")


def ceilings_stored(value: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validated ceilings as stored: in KINDS order, the cost as a string; None or {} for none."""
    stored: dict[str, Any] = {}
    for kind in KINDS:
        if (limit := (value or {}).get(kind)) is not None:
            stored[kind] = str(limit) if isinstance(limit, Decimal) else int(limit)
    return stored


def exceeded_field(kind: str) -> str:
    """The field that marks when a ceiling was reached: `energy_ceiling_exceeded_at`, ..."""
    return f"{kind}_ceiling_exceeded_at"


def _number(value: Any) -> Decimal | None:
    # JSON written around the API (the admin's raw JSON) may hold anything: no number, no comparison.
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return None
    return number if number.is_finite() else None


def ceilings_reached(
    ceilings: Mapping[str, Any], *, energy_wh: Any, seconds: float | None, cost: Decimal | None
) -> list[str]:
    """The kinds whose ceiling these figures reach (None: not known, so not reached), in KINDS order."""
    figures = {"energy": _number(energy_wh), "time": _number(seconds), "cost": cost}
    reached = []
    for kind in KINDS:
        figure, limit = figures[kind], _number(ceilings.get(kind))
        if figure is not None and limit is not None and figure >= limit:
            reached.append(kind)
    return reached
