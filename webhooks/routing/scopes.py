"""Network scopes: an endpoint restricted to events about some locations and chargestations.

An event is about a place when its subject is one: a location event is about that location, a
chargestation (or connector) event about its station and the station's location, a session event
about its station and that station's location. Other events (organization, user, rate) are about
no place and no scope restricts them. With both lists set, an event about either passes.

Endpoints store public ids (what the API and dashboard show); matching compares primary keys,
which the objects being saved already hold in memory, so that finding an event's place costs no
query.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Model

from chargestations.models import Chargestation, Location
from sessions_app.models import Session

MAX_SCOPE_IDS = 100


@dataclass(frozen=True)
class Place:
    """What an event is about, by primary key."""

    location_id: int | None
    chargestation_id: int | None


def place_of(subject: Model) -> Place | None:
    """The place an event's subject is about, from objects already loaded; None for no place."""
    if isinstance(subject, Location):
        return Place(location_id=subject.pk, chargestation_id=None)
    if isinstance(subject, Chargestation):
        return Place(location_id=subject.location_id, chargestation_id=subject.pk)
    if isinstance(subject, Session):
        # Its data (eDRV or charger-protocol) names its station: the station is loaded already.
        station = subject.chargestation
        return Place(location_id=station.location_id, chargestation_id=station.pk)
    return None


@dataclass(frozen=True)
class Scope:
    """An endpoint's scopes as primary keys (built only for an endpoint that has some)."""

    location_ids: frozenset[int]
    chargestation_ids: frozenset[int]

    def admits(self, place: Place | None) -> bool:
        if place is None:
            return True
        return place.location_id in self.location_ids or place.chargestation_id in self.chargestation_ids


def scope_resolve(*, organization_id: int, locations: Sequence[str], chargestations: Sequence[str]) -> Scope:
    """The scope's primary keys; ids that no longer exist (a deleted station) match nothing."""
    return Scope(
        location_ids=frozenset(_primary_keys(Location, organization_id, locations)),
        chargestation_ids=frozenset(_primary_keys(Chargestation, organization_id, chargestations)),
    )


def _primary_keys(model: type[Model], organization_id: int, public_ids: Sequence[str]) -> Iterable[int]:
    if not public_ids:
        return []
    return model._default_manager.filter(
        organization_id=organization_id, public_id__in=list(public_ids)
    ).values_list("pk", flat=True)


def scope_ids_unknown(*, organization_id: int, model: type[Model], public_ids: Sequence[str]) -> list[str]:
    """The ids, in order, that name no object of this model in this organization."""
    found = set(
        model._default_manager.filter(
            organization_id=organization_id, public_id__in=list(public_ids)
        ).values_list("public_id", flat=True)
    )
    return [public_id for public_id in public_ids if public_id not in found]


def scope_ids_check(*, organization_id: int, model: type[Model], public_ids: Any) -> list[str]:
    """The ids without repeats, or ValueError saying which are not this organization's (or not ids)."""
    noun = model._meta.verbose_name
    if not isinstance(public_ids, list | tuple) or not all(isinstance(i, str) for i in public_ids):
        raise ValueError(f"Give a list of {noun} ids.")
    ids = list(dict.fromkeys(public_ids))
    if len(ids) > MAX_SCOPE_IDS:
        raise ValueError(f"At most {MAX_SCOPE_IDS} {noun} ids.")
    unknown = scope_ids_unknown(organization_id=organization_id, model=model, public_ids=ids)
    if unknown:
        listed = ", ".join(f'"{public_id}"' for public_id in unknown)
        raise ValueError(f"Not found: no {noun} with _id {listed} in this organization.")
    return ids


def scope_places(
    *, organization_id: int, locations: Sequence[str], chargestations: Sequence[str]
) -> tuple[list[Location], list[Chargestation]]:
    """The scoped places themselves, for pages that name them (an id since deleted is left out)."""
    found_locations = Location.objects.filter(organization_id=organization_id, public_id__in=list(locations))
    found_stations = Chargestation.objects.filter(
        organization_id=organization_id, public_id__in=list(chargestations)
    ).select_related("location")
    return list(found_locations.order_by("name")), list(found_stations.order_by("name", "endpoint"))
