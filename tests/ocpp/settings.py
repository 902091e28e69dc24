"""Settings of the gateway process the daphne test starts: the project's, plus knobs.

`OCPP_TEST_CHANNEL_LAYER_URL` points its channel layer at the Redis the test process uses; the
OCPP knobs come from the environment, so that the test can shorten them for that process.
"""

from edrv_project.settings import *  # noqa: F403
from edrv_project.settings import env
from tests.ocpp.layers import redis_channel_layers

if env.str("OCPP_TEST_CHANNEL_LAYER_URL", default=""):
    CHANNEL_LAYERS = redis_channel_layers(env.str("OCPP_TEST_CHANNEL_LAYER_URL"))
for _name in ("OCPP_CANCEL_AFTER", "OCPP_COMMAND_TIMEOUT", "OCPP_EV_CHARGED_AFTER"):
    if env.str(_name, default=""):
        globals()[_name] = env.float(_name)
