"""Factories for every model the tests build. Each one creates a whole, valid object.

Call `XFactory.create(...)` (typed: returns the model) rather than `XFactory(...)`.
"""

import factory
from django.contrib.auth.models import User

from chargestations.models import Chargestation, Connector, Location, PriceComponent, Rate
from organizations.models import Membership, Organization, Plan, Role
from sessions_app.models import Driver, IdTag, Session
from webhooks.catalog.types import OPERATIONAL, SUBSCRIBABLE
from webhooks.models import Endpoint
from webhooks.signing import secret_generate

PASSWORD = "correct-horse-battery"


class OrganizationFactory(factory.django.DjangoModelFactory[Organization]):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")
    email = factory.Sequence(lambda n: f"ops{n}@example.com")
    plan = Plan.STARTER


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.django.Password(PASSWORD)


class MembershipFactory(factory.django.DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Role.ADMIN


class LocationFactory(factory.django.DjangoModelFactory[Location]):
    class Meta:
        model = Location

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Location {n}")
    address = factory.LazyFunction(
        lambda: {"streetAndNumber": "Main St 1", "city": "Amsterdam", "postalCode": "1011", "country": "NL"}
    )


class ChargestationFactory(factory.django.DjangoModelFactory[Chargestation]):
    class Meta:
        model = Chargestation

    location = factory.SubFactory(LocationFactory)
    organization = factory.SelfAttribute("location.organization")
    name = factory.Sequence(lambda n: f"Station {n}")
    endpoint = factory.Sequence(lambda n: f"CP-{n:05d}")


class RateFactory(factory.django.DjangoModelFactory[Rate]):
    class Meta:
        model = Rate

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Rate {n}")


class PriceComponentFactory(factory.django.DjangoModelFactory[PriceComponent]):
    class Meta:
        model = PriceComponent

    rate = factory.SubFactory(RateFactory)
    type = "ENERGY"
    price = "0.3000"
    tax = "21.00"


class ConnectorFactory(factory.django.DjangoModelFactory[Connector]):
    class Meta:
        model = Connector

    chargestation = factory.SubFactory(ChargestationFactory)
    connector_number = factory.Sequence(lambda n: n + 1)


class DriverFactory(factory.django.DjangoModelFactory[Driver]):
    class Meta:
        model = Driver

    organization = factory.SubFactory(OrganizationFactory)
    first_name = "Ada"
    last_name = factory.Sequence(lambda n: f"Driver{n}")
    email = factory.Sequence(lambda n: f"driver{n}@example.com")


class IdTagFactory(factory.django.DjangoModelFactory[IdTag]):
    class Meta:
        model = IdTag

    driver = factory.SubFactory(DriverFactory)
    organization = factory.SelfAttribute("driver.organization")
    token = factory.Sequence(lambda n: f"TAG{n:06d}")


class SessionFactory(factory.django.DjangoModelFactory[Session]):
    class Meta:
        model = Session

    chargestation = factory.SubFactory(ChargestationFactory)
    organization = factory.SelfAttribute("chargestation.organization")
    driver = factory.SubFactory(DriverFactory, organization=factory.SelfAttribute("..organization"))


class EndpointFactory(factory.django.DjangoModelFactory[Endpoint]):
    class Meta:
        model = Endpoint

    organization = factory.SubFactory(OrganizationFactory)
    url = factory.Sequence(lambda n: f"http://127.0.0.1:9/hook{n}")
    # Every event of the network; the news about webhooks themselves only when a test asks for it.
    events = factory.LazyFunction(lambda: sorted(SUBSCRIBABLE - OPERATIONAL))
    secret = factory.LazyFunction(secret_generate)
