"""The broker transports: kombu's own, each with one fix.

Redis: a worker rides out a Redis restart.

kombu 5.7.0: when the connection to Redis drops while a worker (threads pool, late acks) holds a
task, the consumer closes the connection and the task's acknowledgement then runs on a channel
whose connection has no client left: `AttributeError: 'NoneType' object has no attribute
'hostname'`, which no one catches, and the worker exits. Raising the connection error Redis
itself would raise lets Celery log "Couldn't ack" and carry on; the task stays unacknowledged on
the broker (or the broker lost it), and the outbox sweeper hands the delivery out again.
Remove this module once kombu handles it (tests/faults/test_broker_loss.py proves either way).

The folder broker (`make run`'s default, kombu's filesystem transport) creates a message's file
and then writes it; a worker that picks the file up in between reads nothing, dies of a
JSONDecodeError, and the message is gone. Here a message is written under a name no reader looks
at and renamed into place, whole (a rename is atomic within a folder).

`transport_register()` makes these the transports of every redis://, rediss:// and filesystem://
broker URL of the process (edrv_project/celery.py calls it before the app exists); others
(amqp://) are untouched.
"""

import os
import time
import uuid
from typing import Any

import redis
from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import filesystem as kombu_filesystem
from kombu.transport import redis as kombu_redis
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> Any:
        if self.connection.client is None:
            raise redis.exceptions.ConnectionError("The broker connection is closed.")
        return super()._connparams(asynchronous=asynchronous)  # type: ignore[misc]


class Transport(kombu_redis.Transport):
    Channel = Channel


class FolderChannel(kombu_filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        # The name kombu gives (readers take files in name order and match `.<queue>.msg`).
        name = f"{round(time.monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        partial = os.path.join(self.data_folder_out, f"partial-{uuid.uuid4()}.tmp")
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, os.path.join(self.data_folder_out, name))
        except OSError as exc:
            raise ChannelError(f"Cannot add a message to {self.data_folder_out!r}") from exc


class FolderTransport(kombu_filesystem.Transport):
    Channel = FolderChannel


def transport_register() -> None:
    for scheme in ("redis", "rediss"):
        TRANSPORT_ALIASES[scheme] = f"{__name__}:Transport"
    TRANSPORT_ALIASES["filesystem"] = f"{__name__}:FolderTransport"
