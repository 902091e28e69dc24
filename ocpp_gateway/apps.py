from django.apps import AppConfig


class OcppGatewayConfig(AppConfig):
    name = "ocpp_gateway"
    verbose_name = "Charger gateway (OCPP)"

    def ready(self) -> None:
        # Sessions sit below the gateway: it tells them how to reach a charger.
        from ocpp_gateway import remote
        from sessions_app import chargers

        chargers.gateway_register(start=remote.session_start_request, stop=remote.session_stop_request)
