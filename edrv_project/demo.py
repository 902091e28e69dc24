"""The demo network `make run` starts with: one organization, its login, a small network.

Idempotent by natural keys (names, endpoints, emails, tokens): a second run finds every object
and creates none, and it never edits what an operator may have changed since, but for two secrets
that cannot be shown twice: every run issues a new API key and gives each demo charger a new
authorization key (the old ones stop working; a charger connected with one stays connected), so that
the commands it prints work. Objects are made with `objects.create` (never bulk_create) so that
model signals, hence webhooks, see them.
"""

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from django.contrib.auth.models import User
from django.core.management.base import CommandError
from django.db import models, transaction

from chargestations.models import (
    Chargestation,
    Connector,
    ConnectorFormat,
    ConnectorStatus,
    ConnectorType,
    Location,
    PowerType,
    PriceComponent,
    PriceComponentType,
    Protocol,
    Rate,
)
from chargestations.services import chargestation_authorization_key_generate
from organizations.models import Membership, Organization, Plan, Role
from organizations.services import api_key_create
from sessions_app.models import Driver, IdTag, TokenType

ORGANIZATION_NAME = "Demo Charging Co"
ORGANIZATION_EMAIL = "ops@demo.example"
USERNAME = "demo"
PASSWORD = "demo-password-1"  # noqa: S105 - a published login for the local demo only
API_KEY_NAME = "demo (seed)"

M = TypeVar("M", bound=models.Model)

AMSTERDAM = {
    "streetAndNumber": "Stationsplein 1",
    "city": "Amsterdam",
    "postalCode": "1012 AB",
    "country": "NL",
}
UTRECHT = {"streetAndNumber": "Jaarbeursplein 6", "city": "Utrecht", "postalCode": "3521 AL", "country": "NL"}
LOCATIONS = [
    {"name": "Demo Depot Amsterdam", "address": AMSTERDAM, "latitude": "52.378901", "longitude": "4.900581"},
    {"name": "Demo Plaza Utrecht", "address": UTRECHT, "latitude": "52.088353", "longitude": "5.108978"},
]
AC = {"type": ConnectorType.TYPE2, "format": ConnectorFormat.SOCKET, "power_type": PowerType.AC_3_PHASE}
CCS = {"type": ConnectorType.CCS2, "format": ConnectorFormat.CABLE, "power_type": PowerType.DC}
# endpoint, location name, connector specs (numbered from 1)
CHARGESTATIONS = [
    ("DEMO-CP-001", "Demo Depot Amsterdam", [{**AC, "power": Decimal(22)}, {**AC, "power": Decimal(22)}]),
    ("DEMO-CP-002", "Demo Depot Amsterdam", [{**AC, "power": Decimal(11)}, {**AC, "power": Decimal(11)}]),
    ("DEMO-CP-003", "Demo Plaza Utrecht", [{**CCS, "power": Decimal(50)}, {**CCS, "power": Decimal(50)}]),
]
# The Utrecht charger speaks OCPP 2.0.1, the others 1.6J: the demo shows both (same events).
PROTOCOLS = {"DEMO-CP-003": Protocol.OCPP201}
# ENERGY per kWh billed per Wh; TIME per hour billed per minute.
PRICE_COMPONENTS = {
    PriceComponentType.ENERGY: {"price": Decimal("0.3500"), "tax": Decimal(21), "step_size": 1},
    PriceComponentType.TIME: {"price": Decimal("1.2000"), "tax": Decimal(21), "step_size": 60},
}
# first name, last name, email, RFID token
DRIVERS = [
    ("Alex", "Jansen", "alex.jansen@demo.example", "DEMO-RFID-0001"),
    ("Sam", "de Vries", "sam.devries@demo.example", "DEMO-RFID-0002"),
]


@dataclass
class DemoSeed:
    organization: Organization
    raw_key: str
    created: Counter[str] = field(default_factory=Counter)
    charger_keys: dict[str, str] = field(default_factory=dict)  # endpoint: authorization key
    charger_protocols: dict[str, str] = field(default_factory=dict)  # endpoint: OCPP version


@transaction.atomic
def demo_seed() -> DemoSeed:
    """Make sure the demo network exists; always issue a new API key and new charger keys, since none
    can be shown twice."""
    created: Counter[str] = Counter()
    charger_keys: dict[str, str] = {}
    charger_protocols: dict[str, str] = {}
    organization = _ensure(
        Organization,
        created,
        lookup={"name": ORGANIZATION_NAME},
        defaults={"email": ORGANIZATION_EMAIL, "plan": Plan.PRO},
    )
    _ensure_login(organization=organization, created=created)
    locations = {
        spec["name"]: _ensure(
            Location,
            created,
            lookup={"organization": organization, "name": spec["name"]},
            defaults={
                **{k: v for k, v in spec.items() if k != "name"},
                "operator_name": ORGANIZATION_NAME,
                "timezone": "Europe/Amsterdam",
                "opening_hours": {"twentyfourseven": True},
            },
        )
        for spec in LOCATIONS
    }
    rate = _ensure(
        Rate,
        created,
        lookup={"organization": organization, "name": "Demo Standard"},
        defaults={"currency": "EUR"},
    )
    for component_type, price in PRICE_COMPONENTS.items():
        _ensure(PriceComponent, created, lookup={"rate": rate, "type": component_type}, defaults=price)
    for endpoint, location_name, connectors in CHARGESTATIONS:
        station = _ensure(
            Chargestation,
            created,
            lookup={"endpoint": endpoint},
            defaults={
                "organization": organization,
                "location": locations[location_name],
                "public": True,
                "protocol": PROTOCOLS.get(endpoint, Protocol.OCPP16),
            },
        )
        if station.organization_id != organization.pk:
            raise CommandError(f"Chargestation {endpoint} exists in another organization; remove it first.")
        charger_keys[endpoint] = chargestation_authorization_key_generate(chargestation=station)
        charger_protocols[endpoint] = station.protocol
        for number, spec in enumerate(connectors, start=1):
            _ensure(
                Connector,
                created,
                lookup={"chargestation": station, "connector_number": number},
                defaults={**spec, "status": ConnectorStatus.AVAILABLE, "rate": rate},
            )
    for first_name, last_name, email, token in DRIVERS:
        driver = _ensure(
            Driver,
            created,
            lookup={"organization": organization, "email": email},
            defaults={"first_name": first_name, "last_name": last_name},
        )
        _ensure(
            IdTag,
            created,
            lookup={"organization": organization, "token": token},
            defaults={"driver": driver, "type": TokenType.RFID},
        )
    _, raw_key = api_key_create(organization=organization, name=API_KEY_NAME)
    return DemoSeed(
        organization=organization,
        raw_key=raw_key,
        created=created,
        charger_keys=charger_keys,
        charger_protocols=charger_protocols,
    )


def _ensure(model: type[M], created: Counter[str], *, lookup: dict[str, Any], defaults: dict[str, Any]) -> M:
    """The oldest object matching `lookup`, or a new one; unlike get_or_create, duplicates an
    operator made since (names are not unique) do not break the seed."""
    existing = model._default_manager.filter(**lookup).order_by("pk").first()
    if existing is not None:
        return existing
    created[str(model._meta.verbose_name_plural)] += 1
    return model._default_manager.create(**lookup, **defaults)


def _ensure_login(*, organization: Organization, created: Counter[str]) -> None:
    user = User.objects.filter(username=USERNAME).first()
    if user is None:
        user = User.objects.create_user(username=USERNAME, email=ORGANIZATION_EMAIL, password=PASSWORD)
        created["users"] += 1
    elif not user.check_password(PASSWORD) or not user.is_active:
        # The output promises this login works: make it true again.
        user.set_password(PASSWORD)
        user.is_active = True
        user.save(update_fields=["password", "is_active"])
    membership = Membership.objects.filter(user=user).first()
    if membership is None:
        Membership.objects.create(user=user, organization=organization, role=Role.ADMIN)
        created["memberships"] += 1
    elif membership.organization_id != organization.pk:
        raise CommandError(f"User {USERNAME!r} belongs to another organization; remove it first.")
