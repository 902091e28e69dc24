"""Reads for the dashboard's webhook pages, always within one organization.

Health figures are computed in SQL (subqueries over the indexed delivery and attempt tables), the
delivery log loads one page of deliveries with their events and attempts, and the event log one
page of events with their deliveries: the number of queries a page makes does not grow with the
organization's history.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import (
    CharField,
    Count,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from organizations.models import Membership, Organization, Role
from webhooks.models import Attempt, Delivery, Endpoint, Event

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
    attempts = Attempt.objects.defer("headers").order_by("-created_at", "-id")
    return (
        deliveries.select_related("event")
        .defer("event__data")
        .prefetch_related(Prefetch("attempts", queryset=attempts))
        .order_by("-created_at", "-id")
    )


def deliveries_of(*, endpoint: Endpoint, ids: list[int]) -> list[Delivery]:
    """Those of `ids` that are the endpoint's deliveries (others are left out), as its log shows them."""
    return list(delivery_log(endpoint=endpoint).filter(pk__in=ids)) if ids else []


def delivery_get(*, endpoint: Endpoint, delivery_id: int) -> Delivery | None:
    return Delivery.objects.filter(endpoint=endpoint, pk=delivery_id).first()


def delivery_get_with_attempts(*, endpoint: Endpoint, delivery_id: int) -> Delivery | None:
    """The endpoint's delivery with its whole event and every attempt, newest first, headers included."""
    attempts = Attempt.objects.order_by("-created_at", "-id")
    return (
        Delivery.objects.filter(endpoint=endpoint, pk=delivery_id)
        .select_related("event")
        .prefetch_related(Prefetch("attempts", queryset=attempts))
        .first()
    )


# What names the object an event is about, in its data: `_id` in eDRV envelopes; in charger-protocol
# ones, which carry no `_id`, the transaction's id or the charger's OCPP identity.
OBJECT_ID_KEYS = ("_id", "transactionId", "chargeBoxId")


def event_object_id(data: object) -> str:
    """The id of the object an event's `data` is about ("" when it names none)."""
    if isinstance(data, dict):
        for key in OBJECT_ID_KEYS:
            if data.get(key) not in (None, ""):
                return str(data[key])
    return ""


def event_log(
    *,
    organization: Organization,
    event_id: str = "",
    type_name: str = "",
    object_id: str = "",
    since: datetime | None = None,
    before: datetime | None = None,
) -> QuerySet[Event]:
    """The organization's events, newest first, each with its deliveries and their endpoints.

    Every filter narrows a walk of the organization's events newest first, on the index
    event_org_recent (event_org_type_recent with a type; the unique public id with an event id).
    An object id is matched in the data of the events so walked: an index of its own would cost
    every change of the network (a JSON expression index on the busiest table); a date range or a
    type bounds the walk, and retention bounds it anyway.
    """
    events = Event.objects.filter(organization=organization)
    if event_id:
        events = events.filter(public_id=event_id)
    if type_name:
        events = events.filter(type=type_name)
    if since is not None:
        events = events.filter(created_at__gte=since)
    if before is not None:
        events = events.filter(created_at__lt=before)
    if object_id:
        # As text: a transaction id may be a JSON number, which the search box cannot tell.
        keys = {
            f"object_key_{n}": Cast(KeyTextTransform(key, "data"), CharField())
            for n, key in enumerate(OBJECT_ID_KEYS)
        }
        matched = Q()
        for alias in keys:
            matched |= Q(**{alias: object_id})
        events = events.alias(**keys).filter(matched)
    deliveries = (
        Delivery.objects.select_related("endpoint")
        .only(
            "event_id", "status", "attempt_count", "last_status_code", "endpoint__public_id", "endpoint__url"
        )
        .order_by("endpoint__url", "id")
    )
    return events.prefetch_related(Prefetch("deliveries", queryset=deliveries)).order_by("-created_at", "-id")


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
