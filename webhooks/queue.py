"""Telling workers about due deliveries. Never blocks a request for long, never raises.

If the broker cannot be reached, the deliveries stay due in the database and the beat sweeper
enqueues them later; for a few seconds after such a failure we do not even try, so that a
broker outage does not add a connect timeout to every save.
"""

import logging
import time
from collections.abc import Sequence

from kombu.exceptions import OperationalError as BrokerError

logger = logging.getLogger(__name__)

_BACKOFF_SECONDS = 5.0
_broker_down_until = 0.0


def deliveries_enqueue(delivery_ids: Sequence[int], *, countdown: float = 0) -> bool:
    """Publish one send task for these deliveries; False when it could not be published."""
    global _broker_down_until
    from webhooks.tasks import deliveries_send  # tasks import services, which import this module

    if time.monotonic() < _broker_down_until:
        return False
    try:
        deliveries_send.apply_async(args=(list(delivery_ids),), countdown=countdown)
    except (BrokerError, OSError) as exc:
        _broker_down_until = time.monotonic() + _BACKOFF_SECONDS
        logger.warning(
            "webhooks.enqueue.failed", extra={"deliveries": len(delivery_ids), "error": type(exc).__name__}
        )
        return False
    return True
