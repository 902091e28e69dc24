"""Reads of drivers and sessions, always within one organization, loaded as the API shows them."""

from django.db.models import QuerySet

from organizations.models import Organization
from sessions_app.models import Driver, Session


def driver_list(*, organization: Organization) -> QuerySet[Driver]:
    return Driver.objects.filter(organization=organization).prefetch_related("id_tags")


def session_list(*, organization: Organization) -> QuerySet[Session]:
    return Session.objects.filter(organization=organization).select_related(
        "driver", "chargestation", "connector", "rate"
    )
