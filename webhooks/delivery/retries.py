"""The retry policy, in one place: when a failed delivery is tried again, and when it gives up."""

import random

from django.conf import settings

RETRY_AFTER_MIN = 1.0
RETRY_AFTER_MAX = 86400.0
RETRY_AFTER_STATUSES = frozenset({429, 503})


def schedule() -> list[float]:
    """Seconds before each attempt: the first is immediate, the last is the final one."""
    return [float(s) for s in settings.WEBHOOKS_RETRY_SCHEDULE]


def next_delay(*, attempts_made: int, status_code: int | None, retry_after: float | None) -> float | None:
    """Seconds until the next attempt after `attempts_made` failed ones; None when none is left."""
    delays = schedule()
    if attempts_made >= len(delays):
        return None
    if status_code in RETRY_AFTER_STATUSES and retry_after is not None:
        return min(max(retry_after, RETRY_AFTER_MIN), RETRY_AFTER_MAX)
    # Jitter spreads a burst of failures so that a recovering receiver is not hit all at once.
    return delays[attempts_made] * random.uniform(0.8, 1.2)  # noqa: S311 - not cryptographic
