"""The charger gateway: chargers connect here over OCPP and what they say becomes state.

It adapts OCPP (1.6J and 2.0.1) to two domains (the network in `chargestations`, sessions in
`sessions_app`), so it sits above both: they never import it. Read in this order:
- `routing`: the URL a charger connects to, `/ocpp/<chargestation endpoint>`;
- `consumer`: one Channels consumer per connection (handshake, silence watchdog, commands);
- `auth`: who a connecting charger is (HTTP Basic: its endpoint and the station's authorization key),
  and what a refused handshake costs the next one;
- `protocols`: the OCPP versions spoken (a station's protocol is a subprotocol) and their classes;
- `charge_point`: the `ocpp` package's v1.6 ChargePoint with an `@on` handler per charger message,
  each a thin call into `stations` (connection, boot, connector status) or `transactions`;
  `charge_point_v201`: the same for 2.0.1; `central`: what the two share;
- `stations`, `transactions`: the state changes a charger's messages make;
- `evse`, `transaction_events`: what 2.0.1 says differently (EVSEs and their statuses; numbered
  transaction events, in order), turned into those same changes; `models`: their bookkeeping;
- `remote`: remote start and stop, what chargers answer, and what they never do;
- `ceilings`: a session's ceilings against its metering: each one reached is marked, then a stop asked;
- `commands`: how web and worker processes reach a connection (the channel layer);
- `meter`: OCPP sampled values read into meter readings;
- `tasks`: the gateway's Celery tasks (overdue remote starts, silent chargers, time ceilings);
- `simulator`, `simulator_v201`: chargers built on the same package, for `manage.py simulate_charger`
  and tests.
"""
