"""Where chargers connect: `ws(s)://<host>/ocpp/<chargestation endpoint>`, with the station's protocol as
subprotocol and HTTP Basic authentication (`auth`)."""

from django.urls import re_path

from ocpp_gateway.consumer import OcppConsumer

websocket_urlpatterns = [
    re_path(r"^ocpp/(?P<endpoint>[^/]+)/?$", OcppConsumer.as_asgi()),
]
