"""Writes to the network: locations, chargestations, connectors, rates.

Every change is a `save()` or `delete()` on an instance inside `transaction.atomic`: the webhooks
pipeline listens to those signals and records its events in the same transaction, so a bulk
`QuerySet.update()` here would silently lose events. Uniqueness that the database enforces is
checked first for a clear message, and the IntegrityError of a concurrent write maps to the same
400 rather than a 500.
"""

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from chargestations.authorization_keys import authorization_key_hash, authorization_key_new
from chargestations.models import (
    MIN_HEARTBEAT_INTERVAL,
    Chargestation,
    Connector,
    ConnectorFormat,
    ConnectorStatus,
    ConnectorType,
    Location,
    PowerType,
    PriceComponent,
    Protocol,
    Rate,
)
from edrv_project.writes import children_replace, model_assign, model_save_unique
from organizations.audit import Actor, audit_record
from organizations.models import Organization

LOCATION_FIELDS = (
    "name",
    "active",
    "operator_name",
    "address",
    "latitude",
    "longitude",
    "timezone",
    "opening_hours",
    "meta_data",
)
CHARGESTATION_FIELDS = (
    "name",
    "location",
    "endpoint",
    "protocol",
    "active",
    "public",
    "open_for_business",
    "heartbeat_interval",
    "meta_data",
)
CONNECTOR_FIELDS = (
    "chargestation",
    "connector_number",
    "status",
    "error_code",
    "active",
    "type",
    "format",
    "power_type",
    "power",
    "rate",
)
RATE_FIELDS = ("name", "currency", "active", "minimum_amount", "meta_data")
PRICE_COMPONENT_FIELDS = ("price", "tax", "step_size", "grace_period")


def organization_match_check(*, organization_id: int, related: models.Model | None, field: str) -> None:
    """A defence behind the API's scoped lookups: never link objects of two organizations."""
    if related is not None and related.organization_id != organization_id:  # type: ignore[attr-defined]
        raise ValidationError({field: "Not found in this organization."})


@transaction.atomic
def location_create(
    *,
    organization: Organization,
    name: str,
    active: bool = True,
    operator_name: str = "",
    address: dict[str, Any] | None = None,
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    timezone: str = "UTC",
    opening_hours: dict[str, Any] | None = None,
    meta_data: dict[str, Any] | None = None,
) -> Location:
    location = Location(
        organization=organization,
        name=name,
        active=active,
        operator_name=operator_name,
        address=address or {},
        latitude=latitude,
        longitude=longitude,
        timezone=timezone,
        opening_hours=opening_hours or {},
        meta_data=meta_data or {},
    )
    location.save()
    return location


@transaction.atomic
def location_update(*, location: Location, data: Mapping[str, Any]) -> Location:
    if model_assign(instance=location, data=data, fields=LOCATION_FIELDS):
        location.save()
    return location


@transaction.atomic
def location_delete(*, location: Location) -> None:
    """Raises ProtectedError while chargestations still stand at the location."""
    location.delete()


def _chargestation_save(chargestation: Chargestation) -> None:
    organization_match_check(
        organization_id=chargestation.organization_id, related=chargestation.location, field="location"
    )
    # The front doors validate it too; a shorter interval would make every charger frame a write.
    if chargestation.heartbeat_interval < MIN_HEARTBEAT_INTERVAL:
        raise ValidationError(
            {"heartbeat_interval": f"Ensure this value is greater than or equal to {MIN_HEARTBEAT_INTERVAL}."}
        )
    # Endpoints are unique across organizations (a charger's URL names no organization); the
    # message says it is taken without saying by whom.
    taken = f'The endpoint "{chargestation.endpoint}" is already in use.'
    others = Chargestation.objects.filter(endpoint=chargestation.endpoint)
    if chargestation.pk is not None:
        others = others.exclude(pk=chargestation.pk)
    if others.exists():
        raise ValidationError({"endpoint": taken})
    model_save_unique(instance=chargestation, field="endpoint", message=taken)


@transaction.atomic
def chargestation_create(
    *,
    organization: Organization,
    location: Location,
    endpoint: str,
    name: str = "",
    protocol: str = Protocol.OCPP16,
    active: bool = True,
    public: bool = False,
    open_for_business: bool = True,
    heartbeat_interval: int = 300,
    meta_data: dict[str, Any] | None = None,
) -> Chargestation:
    chargestation = Chargestation(
        organization=organization,
        location=location,
        endpoint=endpoint,
        name=name,
        protocol=protocol,
        active=active,
        public=public,
        open_for_business=open_for_business,
        heartbeat_interval=heartbeat_interval,
        meta_data=meta_data or {},
    )
    _chargestation_save(chargestation)
    return chargestation


@transaction.atomic
def chargestation_update(*, chargestation: Chargestation, data: Mapping[str, Any]) -> Chargestation:
    if model_assign(instance=chargestation, data=data, fields=CHARGESTATION_FIELDS):
        _chargestation_save(chargestation)
    return chargestation


@transaction.atomic
def chargestation_authorization_key_generate(
    *, chargestation: Chargestation, actor: Actor | None = None
) -> str:
    """Give the station a new authorization key, replacing any other, and return it: the only time it
    can be read, since only its hash is kept.

    The old key no longer opens a connection; a charger connected with it stays connected (over that
    connection its operator may send it the new key). Raises no webhook event: the catalog's
    `chargestation.updated` is about other fields, and the key is no one's business but the charger's.
    """
    key = authorization_key_new()
    replaced = chargestation.has_authorization_key
    chargestation.authorization_key_hash = authorization_key_hash(key)
    chargestation.authorization_key_set_at = timezone.now()
    chargestation.save(update_fields=["authorization_key_hash", "authorization_key_set_at", "updated_at"])
    audit_record(
        organization=chargestation.organization,
        action="chargestation.authorization_key_generated",
        actor=actor,
        target_id=chargestation.public_id,
        changes={"endpoint": chargestation.endpoint, "replaced": replaced},
    )
    return key


@transaction.atomic
def chargestation_delete(*, chargestation: Chargestation) -> None:
    """Deletes its connectors too; raises ProtectedError while sessions refer to it."""
    chargestation.delete()


def _connector_save(connector: Connector) -> None:
    station = connector.chargestation
    organization_match_check(organization_id=station.organization_id, related=connector.rate, field="rate")
    taken = f"Chargestation {station.public_id} already has a connector number {connector.connector_number}."
    siblings = Connector.objects.filter(chargestation=station, connector_number=connector.connector_number)
    if siblings.exclude(pk=connector.pk).exists():
        raise ValidationError({"connector_number": taken})
    model_save_unique(instance=connector, field="connector_number", message=taken)


@transaction.atomic
def connector_create(
    *,
    chargestation: Chargestation,
    connector_number: int,
    status: str = ConnectorStatus.UNAVAILABLE,
    error_code: str = "NoError",
    active: bool = True,
    type: str = ConnectorType.TYPE2,
    format: str = ConnectorFormat.SOCKET,
    power_type: str = PowerType.AC_3_PHASE,
    power: Decimal = Decimal(22),
    rate: Rate | None = None,
) -> Connector:
    connector = Connector(
        chargestation=chargestation,
        connector_number=connector_number,
        status=status,
        error_code=error_code,
        active=active,
        type=type,
        format=format,
        power_type=power_type,
        power=power,
        rate=rate,
    )
    _connector_save(connector)
    return connector


@transaction.atomic
def connector_update(*, connector: Connector, data: Mapping[str, Any]) -> Connector:
    if model_assign(instance=connector, data=data, fields=CONNECTOR_FIELDS):
        _connector_save(connector)
    return connector


@transaction.atomic
def connector_delete(*, connector: Connector) -> None:
    connector.delete()


@transaction.atomic
def rate_create(
    *,
    organization: Organization,
    name: str,
    currency: str = "EUR",
    active: bool = True,
    minimum_amount: Decimal = Decimal(0),
    meta_data: dict[str, Any] | None = None,
    price_components: Sequence[Mapping[str, Any]] = (),
) -> Rate:
    rate = Rate(
        organization=organization,
        name=name,
        currency=currency,
        active=active,
        minimum_amount=minimum_amount,
        meta_data=meta_data or {},
    )
    rate.save()
    _price_components_replace(rate=rate, components=price_components)
    return rate


@transaction.atomic
def rate_update(*, rate: Rate, data: Mapping[str, Any]) -> Rate:
    if model_assign(instance=rate, data=data, fields=RATE_FIELDS):
        rate.save()
    if "price_components" in data:
        _price_components_replace(rate=rate, components=data["price_components"])
    return rate


@transaction.atomic
def rate_delete(*, rate: Rate) -> None:
    """Connectors and sessions that used the rate keep existing, without a rate."""
    rate.delete()


def _price_components_replace(*, rate: Rate, components: Sequence[Mapping[str, Any]]) -> None:
    """Make the rate's components exactly `components` (one per type), touching only what differs.

    Each component is saved on its own, so that each change is seen by the webhooks pipeline.
    Components refer to the rate by id: each of their events then reads the rate afresh, never a
    copy of its components cached before the change.
    """
    children_replace(
        existing={pc.type: pc for pc in PriceComponent.objects.filter(rate_id=rate.pk)},
        wanted={component["type"]: component for component in components},
        new=lambda type_: PriceComponent(rate_id=rate.pk, type=type_),
        fields=PRICE_COMPONENT_FIELDS,
    )
    # The instance may carry the components a selector prefetched: they are stale now.
    rate._prefetched_objects_cache = {}  # type: ignore[attr-defined]
