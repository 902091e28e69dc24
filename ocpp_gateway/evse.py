"""OCPP 2.0.1 EVSEs as our connectors, and their statuses in the words of 1.6 (which the catalog publishes).

A 2.0.1 station has EVSEs (numbered from 1), each with connectors (numbered from 1 within it). An
EVSE charges one car at a time, and 2.0.1 names the EVSE in transactions, meter values and remote
starts: so an EVSE is one of our connectors, `connector_number = evse_id`. The connectors of an
EVSE with several (a CCS and a CHAdeMO cable) make one connector here, whose status is the EVSE's:
Occupied or Reserved if one of them is, else Available if one is, else Unavailable, else Faulted.

2.0.1 reports five statuses and tells the rest as the transaction's chargingState; the connector's
status is refined so that a session raises the same status events as over 1.6J:

| 2.0.1                                      | 1.6 status                                            |
|--------------------------------------------|-------------------------------------------------------|
| Available, Reserved, Unavailable, Faulted  | the same (Faulted with error code OtherError)         |
| Occupied                                   | Preparing; unchanged if already Preparing, Charging,  |
|                                            | SuspendedEV, SuspendedEVSE or Finishing               |
| chargingState EVConnected                  | Preparing                                             |
| chargingState Charging                     | Charging                                              |
| chargingState SuspendedEV / SuspendedEVSE  | SuspendedEV / SuspendedEVSE                           |
| chargingState Idle                         | Finishing after charging; Preparing before it         |
| transaction Ended                          | Finishing while occupied (Available comes from the    |
|                                            | StatusNotification of the EVSE once it is free)       |

Only live messages say how a connector is now: events a charger queued while offline change the
session, never the connector's status.
"""

from collections.abc import Iterable

from chargestations.models import Connector
from chargestations.models import ConnectorStatus as Status
from ocpp_gateway import stations

OCCUPIED = "Occupied"
# The status of an EVSE from its connectors': the first of these that one of them reports.
EVSE_PRECEDENCE = (OCCUPIED, Status.RESERVED, Status.AVAILABLE, Status.UNAVAILABLE, Status.FAULTED)
BUSY = frozenset(
    {Status.PREPARING, Status.CHARGING, Status.SUSPENDED_EV, Status.SUSPENDED_EVSE, Status.FINISHING}
)
DRAWING = frozenset({Status.CHARGING, Status.SUSPENDED_EV, Status.SUSPENDED_EVSE, Status.FINISHING})
CHARGING_STATES = {
    "EVConnected": Status.PREPARING,
    "Charging": Status.CHARGING,
    "SuspendedEV": Status.SUSPENDED_EV,
    "SuspendedEVSE": Status.SUSPENDED_EVSE,
}


def evse_status(connector_statuses: Iterable[str]) -> str:
    """The 2.0.1 status of an EVSE whose connectors report these."""
    reported = set(connector_statuses)
    return next((status for status in EVSE_PRECEDENCE if status in reported), Status.AVAILABLE)


def status_v16(
    current: str | None,
    *,
    connector_status: str | None = None,
    charging_state: str | None = None,
    transaction_ended: bool = False,
) -> str | None:
    """The 1.6 status a connector now at `current` takes from what a 2.0.1 charger said (None: keep it)."""
    if connector_status is not None:
        if connector_status != OCCUPIED:
            return connector_status
        return current if current in BUSY else Status.PREPARING
    if transaction_ended:
        return Status.FINISHING if current in BUSY else None
    if charging_state == "Idle":
        return Status.FINISHING if current in DRAWING else Status.PREPARING
    return CHARGING_STATES.get(charging_state or "")


def evse_status_record(
    *,
    chargestation_id: int,
    evse_id: int,
    connector_status: str | None = None,
    charging_state: str | None = None,
    transaction_ended: bool = False,
) -> None:
    """The EVSE's connector takes the status a StatusNotification or a TransactionEvent implies."""
    current = (
        Connector.objects.filter(chargestation_id=chargestation_id, connector_number=evse_id)
        .values_list("status", flat=True)
        .first()
    )
    status = status_v16(
        current,
        connector_status=connector_status,
        charging_state=charging_state,
        transaction_ended=transaction_ended,
    )
    if status is not None:
        stations.connector_status_record(
            chargestation_id=chargestation_id,
            connector_number=evse_id,
            status=status,
            error_code="OtherError" if status == Status.FAULTED else "NoError",
        )
