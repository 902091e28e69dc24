"""Reads of the network, always within one organization, loaded as the API shows them."""

from django.db.models import Prefetch, QuerySet

from chargestations.models import Chargestation, Connector, Location, Rate
from organizations.models import Organization


def connectors_prefetch() -> Prefetch:
    """A station's connectors with their rates: what a chargestation's representation shows."""
    return Prefetch("connectors", queryset=Connector.objects.select_related("rate"))


def location_list(*, organization: Organization) -> QuerySet[Location]:
    return Location.objects.filter(organization=organization)


def chargestation_list(*, organization: Organization) -> QuerySet[Chargestation]:
    return (
        Chargestation.objects.filter(organization=organization)
        .select_related("location")
        .prefetch_related(connectors_prefetch())
    )


def connector_list(*, organization: Organization) -> QuerySet[Connector]:
    return Connector.objects.filter(chargestation__organization=organization).select_related(
        "chargestation", "rate"
    )


def rate_list(*, organization: Organization) -> QuerySet[Rate]:
    return Rate.objects.filter(organization=organization).prefetch_related("price_components")
