"""Reads for the dashboard's webhook pages, always within one organization.

Health figures are computed in SQL (subqueries over the indexed delivery and attempt tables), and
the delivery log loads one page of deliveries with their events and attempts: the number of
queries a page makes does not grow with an endpoint's history.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, IntegerField, OuterRef, Prefetch, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from organizations.models import Membership, Organization, Role
from webhooks.models import Attempt, Delivery, Endpoint

HEALTH_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class EndpointHealth:
    """An endpoint with its attempts of the last 24 hours and the time of its latest attempt."""

    endpoint: Endpoint
    attempts: int
    succeeded: int
    last_attempt_at: datetime | None

    @property
    def success_rate(self) -> int | None:
        """Percent of the window's attempts that succeeded; None when there were none."""
        return round(100 * self.succeeded / self.attempts) if self.attempts else None


def _attempt_count(attempts: QuerySet[Attempt]) -> Coalesce:
    counted = attempts.order_by().values("delivery__endpoint").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def _with_health(endpoints: QuerySet[Endpoint]) -> list[EndpointHealth]:
    recent = Attempt.objects.filter(
        delivery__endpoint=OuterRef("pk"), created_at__gte=timezone.now() - HEALTH_WINDOW
    )
    latest = Attempt.objects.filter(delivery__endpoint=OuterRef("pk")).order_by("-created_at")
    annotated = endpoints.annotate(
        health_attempts=_attempt_count(recent),
        health_succeeded=_attempt_count(recent.filter(succeeded=True)),
        health_last_attempt_at=Subquery(latest.values("created_at")[:1]),
    )
    return [
        EndpointHealth(
            endpoint=endpoint,
            attempts=endpoint.health_attempts,
            succeeded=endpoint.health_succeeded,
            last_attempt_at=endpoint.health_last_attempt_at,
        )
        for endpoint in annotated
    ]


def endpoint_list_with_health(*, organization: Organization) -> list[EndpointHealth]:
    return _with_health(Endpoint.objects.filter(organization=organization).order_by("-created_at", "-id"))


def endpoint_get_with_health(*, organization: Organization, public_id: str) -> EndpointHealth | None:
    """The organization's endpoint with this id, or None (another organization's id included)."""
    found = _with_health(Endpoint.objects.filter(organization=organization, public_id=public_id))
    return found[0] if found else None


def endpoint_get(*, organization: Organization, public_id: str) -> Endpoint | None:
    return Endpoint.objects.filter(organization=organization, public_id=public_id).first()


def delivery_log(*, endpoint: Endpoint, status: str = "", event_type: str = "") -> QuerySet[Delivery]:
    """The endpoint's deliveries, newest first, with event type and id (not data) and attempts."""
    deliveries = Delivery.objects.filter(endpoint=endpoint)
    if status:
        deliveries = deliveries.filter(status=status)
    if event_type:
        deliveries = deliveries.filter(event__type=event_type)
    attempts = Attempt.objects.order_by("-created_at", "-id")
    return (
        deliveries.select_related("event")
        .defer("event__data")
        .prefetch_related(Prefetch("attempts", queryset=attempts))
        .order_by("-created_at", "-id")
    )


def delivery_get(*, endpoint: Endpoint, delivery_id: int) -> Delivery | None:
    return Delivery.objects.filter(endpoint=endpoint, pk=delivery_id).first()


def alert_email_default(*, organization: Organization) -> str:
    """Where a new endpoint's alerts go unless changed: the organization admin's address."""
    admin_email = (
        Membership.objects.filter(organization=organization, role=Role.ADMIN)
        .exclude(user__email="")
        .order_by("created_at", "pk")
        .values_list("user__email", flat=True)
        .first()
    )
    return admin_email or organization.email
