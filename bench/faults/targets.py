"""What a scenario works on and the changes it makes: shared by the harness and tests/faults/.

A target is an organization on the Pro plan (with an API key), one endpoint on its own receiver
path subscribed to location and chargestation events, and a few stations whose `public` toggles
raise events that form FIFO chains. Every write goes through the domain services, the functions
the API and the dashboard call.
"""

from dataclasses import dataclass

from django.db import transaction

from bench.faults.tally import Tally
from tests.e2e.receiver import Plan, Receiver, ok

EVENTS = ["location.created", "location.updated", "chargestation.created", "chargestation.updated"]
ROLLED_BACK = "rolled-back"  # the name prefix of every object a rolled-back change touched


@dataclass(frozen=True)
class Target:
    name: str
    path: str
    organization_id: int
    api_key: str
    endpoint_id: int
    station_ids: list[int]


def target_new(
    *, receiver: Receiver, tally: Tally, name: str, plan: Plan | None = None, stations: int = 4
) -> Target:
    from chargestations import services
    from organizations.models import Plan as Tier
    from organizations.services import organization_create
    from webhooks.endpoints.services import endpoint_create

    path = f"/{name}"
    organization, api_key = organization_create(
        name=f"Faults {name}", email=f"{name}@faults.invalid", plan=Tier.PRO
    )
    endpoint = endpoint_create(organization=organization, url=receiver.url(path), events=EVENTS)
    receiver.expect_secrets(path, [endpoint.secret])
    receiver.behave(path, tally.replying(plan or ok()))
    location = services.location_create(organization=organization, name=f"{name} stations")
    station_ids = [
        services.chargestation_create(
            organization=organization, location=location, endpoint=f"{name}-CP-{n}"
        ).pk
        for n in range(stations)
    ]
    return Target(name, path, organization.pk, api_key, endpoint.pk, station_ids)


class _Rollback(Exception):
    """Raised to roll a transaction back on purpose."""


def _hundred_changes(target: Target) -> None:
    """60 new locations, 20 of them renamed, 20 `public` toggles of the target's stations."""
    from chargestations import services
    from chargestations.models import Chargestation, Location
    from organizations.models import Organization

    organization = Organization.objects.get(pk=target.organization_id)
    for n in range(60):
        services.location_create(organization=organization, name=f"{ROLLED_BACK}-{n}")
    for location in Location.objects.filter(name__startswith=ROLLED_BACK)[:20]:
        services.location_update(location=location, data={"name": f"{location.name}-renamed"})
    for n in range(20):
        station = Chargestation.objects.get(pk=target.station_ids[n % len(target.station_ids)])
        services.chargestation_update(chargestation=station, data={"public": not station.public})


def changes_rolled_back(target: Target) -> None:
    """100 changes in a transaction that is rolled back; then 100 more in a savepoint that is
    rolled back inside a transaction that commits two other changes ("kept-before/after")."""
    from chargestations import services
    from organizations.models import Organization

    try:
        with transaction.atomic():
            _hundred_changes(target)
            raise _Rollback
    except _Rollback:
        pass
    organization = Organization.objects.get(pk=target.organization_id)
    with transaction.atomic():
        services.location_create(organization=organization, name="kept-before")
        try:
            with transaction.atomic():
                _hundred_changes(target)
                raise _Rollback
        except _Rollback:
            pass
        services.location_create(organization=organization, name="kept-after")


def rolled_back_traces(target: Target, receiver: Receiver) -> tuple[int, int]:
    """Events recorded about rolled-back objects, and requests that mention them."""
    from webhooks.models import Event

    recorded = Event.objects.filter(
        organization_id=target.organization_id, data__name__startswith=ROLLED_BACK
    ).count()
    mentioned = sum(
        1
        for request in receiver.requests(target.path)
        if ROLLED_BACK in request.body.decode(errors="replace")
    )
    return recorded, mentioned
