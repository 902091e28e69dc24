"""Commands to a charger, from any process: through the channel layer to its connection.

Whichever process holds a charger's WebSocket has its consumer in the chargestation's group; a
web request or a worker task sends the command to that group and returns at once. The consumer
calls the charger and reports the answer (or its absence) to `ocpp_gateway.remote`.

These functions are synchronous: call them from views, services and tasks, never from a coroutine.
"""

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

REMOTE_START = "RemoteStartTransaction"
REMOTE_STOP = "RemoteStopTransaction"


def chargestation_group(*, public_id: str) -> str:
    """The group a charger's connection joins: by public id, unique across databases sharing a Redis."""
    return f"ocpp.{public_id}"


def command_send(
    *, chargestation_public_id: str, action: str, payload: dict[str, Any], session_id: int
) -> bool:
    """Hand a command to the charger's connection; False when the channel layer cannot be reached.

    True means handed over, not answered: a group with no connection in it swallows the command,
    which the caller's timeouts cover.
    """
    layer = get_channel_layer()
    if layer is None:
        logger.error("ocpp.command.no_channel_layer", extra={"action": action, "session_id": session_id})
        return False
    message = {"type": "ocpp.command", "action": action, "payload": payload, "session_id": session_id}
    try:
        async_to_sync(layer.group_send)(chargestation_group(public_id=chargestation_public_id), message)
    except (ChannelFull, RedisError, OSError) as exc:
        logger.warning(
            "ocpp.command.unsent",
            extra={"action": action, "session_id": session_id, "error": type(exc).__name__},
        )
        return False
    logger.info("ocpp.command.sent", extra={"action": action, "session_id": session_id})
    return True
