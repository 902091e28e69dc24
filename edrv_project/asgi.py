"""The ASGI application: HTTP to Django (long polls to its waiting handler), WebSockets to the OCPP
gateway (chargers)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "edrv_project.settings")

# Django is set up first: the gateway's modules import models.
django_application = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from edrv_project.waiting import with_waiting_routes  # noqa: E402
from ocpp_gateway.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": with_waiting_routes(django_application),
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
