"""Where chargers connect: `ws(s)://<host>/ocpp/<chargestation endpoint>`, subprotocol ocpp1.6."""

from django.urls import re_path

from ocpp_gateway.consumer import OcppConsumer

websocket_urlpatterns = [
    re_path(r"^ocpp/(?P<endpoint>[^/]+)/?$", OcppConsumer.as_asgi()),
]
