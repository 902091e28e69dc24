"""The charger gateway: chargers connect here over OCPP and what they say becomes state.

It adapts one protocol to two domains (the network in `chargestations`, sessions in
`sessions_app`), so it sits above both: they never import it. Read in this order:
- `routing`: the URL a charger connects to, `/ocpp/<chargestation endpoint>`;
- `consumer`: one Channels consumer per connection (handshake, silence watchdog, commands);
- `charge_point`: the `ocpp` package's v1.6 ChargePoint with an `@on` handler per charger message,
  each a thin call into `stations` (connection, boot, connector status) or `transactions`;
- `stations`, `transactions`: the state changes a charger's messages make;
- `remote`: remote start and stop, what chargers answer, and what they never do;
- `commands`: how web and worker processes reach a connection (the channel layer);
- `meter`: OCPP sampled values read into meter readings;
- `tasks`: the gateway's Celery tasks (overdue remote starts, silent chargers);
- `simulator`: a charger built on the same package, for `manage.py simulate_charger` and tests.
"""
