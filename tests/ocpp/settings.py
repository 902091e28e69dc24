"""Settings of the gateway process the ASGI server test starts: the project's, plus knobs.

`OCPP_TEST_CHANNEL_LAYER_URL` points its channel layer at the Redis the test process uses. The
OCPP knobs (OCPP_CANCEL_AFTER, ...) are read from the environment by the project's settings, so
that the test can shorten them for that process.
"""

from edrv_project.channel_layers import redis_channel_layers
from edrv_project.settings import *  # noqa: F403
from edrv_project.settings import CHANNEL_LAYER_MAX_CONNECTIONS, env

if env.str("OCPP_TEST_CHANNEL_LAYER_URL", default=""):
    CHANNEL_LAYERS = redis_channel_layers(
        env.str("OCPP_TEST_CHANNEL_LAYER_URL"), max_connections=CHANNEL_LAYER_MAX_CONNECTIONS
    )
