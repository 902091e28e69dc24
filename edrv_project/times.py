"""How the product writes a moment: eDRV's timestamps, in payloads, the API and OCPP messages alike."""

from datetime import UTC, datetime


def utc_timestamp(moment: datetime) -> str:
    """UTC, milliseconds, `Z`: 2021-10-04T08:34:10.863Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
