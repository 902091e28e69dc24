"""Which endpoints an event goes to, beyond its type: content filters and network scopes.

Each endpoint's filter is compiled, and its scopes resolved to primary keys, once per process and
kept until the endpoint's filter or scopes change: recording an event then costs a dictionary
lookup and a call per restricted endpoint, and endpoints with neither cost nothing at all.
"""

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from webhooks.catalog.operational_serializers import webhook_of
from webhooks.catalog.payloads import envelope
from webhooks.catalog.types import NOT_TO_ITS_SUBJECT
from webhooks.models import Endpoint, Event
from webhooks.routing.filters import FilterError, filter_compile
from webhooks.routing.scopes import Place, Scope, scope_resolve

logger = logging.getLogger(__name__)

MAX_CACHED = 4096

_Spec = tuple[Any, ...]  # what a matcher was built from: rebuilt when it differs


@dataclass(frozen=True)
class Matcher:
    spec: _Spec
    content: Callable[[dict[str, Any]], bool] | None  # None: no content filter
    scope: Scope | None  # None: no network scope

    def admits(self, envelope_of: Callable[[], dict[str, Any]], place: Place | None) -> bool:
        if self.scope is not None and not self.scope.admits(place):
            return False
        return self.content is None or self.content(envelope_of())


_matchers: dict[int, Matcher] = {}


def _spec(endpoint: Endpoint) -> _Spec:
    return (endpoint.organization_id, endpoint.filter, endpoint.locations, endpoint.chargestations)


def restricted(endpoint: Endpoint) -> bool:
    return bool(endpoint.filter or endpoint.locations or endpoint.chargestations)


def matchers_for(endpoints: Sequence[Endpoint]) -> dict[int, Matcher]:
    """The matcher of each endpoint that has a filter or scopes, by endpoint pk (compiled if new)."""
    found: dict[int, Matcher] = {}
    for endpoint in endpoints:
        if not restricted(endpoint):
            continue
        spec = _spec(endpoint)
        matcher = _matchers.get(endpoint.pk)
        if matcher is None or matcher.spec != spec:
            matcher = _matcher_build(endpoint, spec)
            if len(_matchers) >= MAX_CACHED:
                _matchers.clear()
            _matchers[endpoint.pk] = matcher
        found[endpoint.pk] = matcher
    return found


def _matcher_build(endpoint: Endpoint, spec: _Spec) -> Matcher:
    scope = None
    if endpoint.locations or endpoint.chargestations:
        scope = scope_resolve(
            organization_id=endpoint.organization_id,
            locations=endpoint.locations,
            chargestations=endpoint.chargestations,
        )
    content = None
    if endpoint.filter:
        try:
            content = filter_compile(endpoint.filter)
        except FilterError as exc:
            # Only a filter written around the validators gets here. Failing would roll back the
            # change being saved (a charger's status, say), and keeping events out would lose them:
            # the endpoint gets its types unfiltered, and the operators are told.
            logger.error(
                "webhooks.filter.invalid", extra={"endpoint_id": endpoint.public_id, "problem": str(exc)}
            )
    return Matcher(spec=spec, content=content, scope=scope)


def endpoints_matching(
    *, event: Event, endpoints: Sequence[Endpoint], matchers: dict[int, Matcher], place: Place | None
) -> Iterator[Endpoint]:
    """The endpoints subscribed to the event's type whose filter and scopes admit it.

    News of a webhook's health (catalog.types.NOT_TO_ITS_SUBJECT) goes to the others, never to it.
    """
    built: list[dict[str, Any]] = []
    subject = webhook_of(event.object, event.data) if event.type in NOT_TO_ITS_SUBJECT else None

    def envelope_of() -> dict[str, Any]:
        # Built once per event, and only if some endpoint filters on content.
        if not built:
            built.append(envelope(event))
        return built[0]

    for endpoint in endpoints:
        if event.type not in endpoint.events or endpoint.public_id == subject:
            continue
        matcher = matchers.get(endpoint.pk)
        if matcher is None or matcher.admits(envelope_of, place):
            yield endpoint
