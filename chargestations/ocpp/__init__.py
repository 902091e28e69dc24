"""The OCPP 1.6J gateway: chargers connect here over a WebSocket and their messages become state.

Read in this order:
- `routing`: the URL a charger connects to, `/ocpp/<chargestation endpoint>`;
- `consumer`: one Channels consumer per connection (handshake, silence watchdog, commands);
- `charge_point`: the `ocpp` package's v1.6 ChargePoint with an `@on` handler per charger message,
  each a thin call into `chargestations.charger_services` or `sessions_app.charging`;
- `commands`: how web and worker processes reach a connection (the channel layer);
- `meter`: OCPP sampled values read into meter readings;
- `simulator`: a charger built on the same package, for `manage.py simulate_charger` and tests.
"""
