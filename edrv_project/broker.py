"""The Redis broker transport: kombu's own, with one fix so a worker rides out a Redis restart.

kombu 5.7.0: when the connection to Redis drops while a worker (threads pool, late acks) holds a
task, the consumer closes the connection and the task's acknowledgement then runs on a channel
whose connection has no client left: `AttributeError: 'NoneType' object has no attribute
'hostname'`, which no one catches, and the worker exits. Raising the connection error Redis
itself would raise lets Celery log "Couldn't ack" and carry on; the task stays unacknowledged on
the broker (or the broker lost it), and the outbox sweeper hands the delivery out again.
Remove this module once kombu handles it (tests/faults/test_broker_loss.py proves either way).

`transport_register()` makes it the transport of every redis:// and rediss:// broker URL of the
process (edrv_project/celery.py calls it before the app exists); other schemes (the folder
broker, amqp://) are untouched.
"""

from typing import Any

import redis
from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> Any:
        if self.connection.client is None:
            raise redis.exceptions.ConnectionError("The broker connection is closed.")
        return super()._connparams(asynchronous=asynchronous)  # type: ignore[misc]


class Transport(kombu_redis.Transport):
    Channel = Channel


def transport_register() -> None:
    for scheme in ("redis", "rediss"):
        TRANSPORT_ALIASES[scheme] = f"{__name__}:Transport"
