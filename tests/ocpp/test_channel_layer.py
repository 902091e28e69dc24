"""The channel layer of a gateway process on Redis takes every charger of a burst at once."""

import asyncio

from channels_redis.core import RedisChannelLayer
from django.conf import settings

from edrv_project.channel_layers import redis_channel_layers
from ocpp_gateway.commands import chargestation_group

# Twice redis-py's default pool, 100: a restart makes every charger of a gateway reconnect at once.
BURST = 200


def test_a_burst_of_chargers_joining_their_groups_at_once_is_not_refused(channel_layer_url: str) -> None:
    # Given the project's channel layer, on a Redis
    config = redis_channel_layers(channel_layer_url, max_connections=settings.CHANNEL_LAYER_MAX_CONNECTIONS)
    layer = RedisChannelLayer(**config["default"]["CONFIG"])

    # When BURST chargers connect in the same moment, each joining its station's group
    async def burst() -> list[str]:
        channels = [await layer.new_channel() for _ in range(BURST)]
        groups = [chargestation_group(public_id=f"cs_{index:024x}") for index in range(BURST)]
        await asyncio.gather(*(layer.group_add(g, c) for g, c in zip(groups, channels, strict=True)))
        received = []
        for index, (group, channel) in enumerate(zip(groups, channels, strict=True)):
            await layer.group_send(group, {"type": "ocpp.call", "station": str(index)})
            received.append((await layer.receive(channel))["station"])
        await layer.flush()
        await layer.close_pools()
        return received

    # Then every one of them joined and gets its own station's commands (redis-py's default pool
    # refuses the 101st with MaxConnectionsError)
    assert asyncio.run(burst()) == [str(index) for index in range(BURST)]
