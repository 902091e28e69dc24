"""The channel layer that carries remote commands to the gateway process holding a charger's socket.

Kept apart from the settings (no Django imports) so that a settings module of another process, such
as the gateway the ASGI server test starts, builds the same layer with another Redis.
"""

from typing import Any


def redis_channel_layers(url: str, *, max_connections: int) -> dict[str, Any]:
    """CHANNEL_LAYERS on Redis at `url`.

    Every charger connecting or disconnecting borrows a connection from one pool per process
    (group_add, group_send, group_discard): redis-py's default of 100 refuses the 101st charger of a
    burst, such as every charger reconnecting after a deployment, with MaxConnectionsError.
    The socket timeout outlasts channels-redis's 5 s blocking read (redis-py 8 defaults it to 5 s).
    """
    host = {"address": url, "socket_timeout": 15, "max_connections": max_connections}
    return {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [host]}}}
