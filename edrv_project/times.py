"""How the product writes a moment: eDRV's timestamps, in payloads, the API and OCPP messages alike."""

from datetime import UTC, datetime


def utc_timestamp(moment: datetime) -> str:
    """UTC, milliseconds, `Z`: 2021-10-04T08:34:10.863Z."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
