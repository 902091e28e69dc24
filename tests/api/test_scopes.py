"""Every API route and method needs its scope: a key holding exactly that scope gets past the check, a
key holding every other scope is a 403 that names it.

The routes come from the URL resolver, so a new route is in the matrix without anyone adding it; one
whose view declares no scope fails `test_every_route_declares_its_scopes`, and one whose scope is not
the one the API promises fails `test_the_scopes_are_the_documented_ones`.
"""

from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from organizations.models import Organization, Scope
from organizations.permissions import required_scope
from organizations.services import api_key_create

pytestmark = pytest.mark.django_db

API_PREFIX = "/api/v1/"
# Any id: the permission check comes before the lookup, so a pass is a 404 (or a 400, or a 200).
PATH_VALUES = {"id": "404404404", "type": "session.started"}
READ, WRITE = ("get",), ("post", "put", "patch", "delete")

# What the API promises, per route name's base (the router's basename): (read, write). None: any key.
DOCUMENTED: dict[str, tuple[str | None, str | None]] = {
    "organization": (Scope.NETWORK_READ, Scope.NETWORK_WRITE),
    "location": (Scope.NETWORK_READ, Scope.NETWORK_WRITE),
    "chargestation": (Scope.NETWORK_READ, Scope.NETWORK_WRITE),
    "connector": (Scope.NETWORK_READ, Scope.NETWORK_WRITE),
    "rate": (Scope.NETWORK_READ, Scope.NETWORK_WRITE),
    "user": (Scope.NETWORK_READ, Scope.NETWORK_WRITE),
    "session": (Scope.NETWORK_READ, Scope.NETWORK_WRITE),
    "webhook": (Scope.WEBHOOKS_READ, Scope.WEBHOOKS_WRITE),
    "event": (Scope.WEBHOOKS_READ, Scope.WEBHOOKS_WRITE),
    "delivery": (Scope.WEBHOOKS_READ, Scope.WEBHOOKS_WRITE),
    "event-type": (None, None),
    "api-key": (Scope.KEYS_WRITE, Scope.KEYS_WRITE),
    "audit-log": (Scope.ALL, Scope.ALL),
}
# Routes whose scope is not their resource's.
EXCEPTIONS = {("webhook-secret", "get"): Scope.SECRETS_READ}
EVERY_SCOPE = [scope.value for scope in Scope if scope != Scope.ALL]
UNDOCUMENTED = "(a new route: add it to DOCUMENTED)"


class Route(NamedTuple):
    name: str
    method: str
    path: str
    view: Any

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"


def _patterns(resolver: URLResolver) -> Iterator[URLPattern]:
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern)
        else:
            yield pattern


def _methods(callback: Any) -> list[str]:
    actions = getattr(callback, "actions", None)  # a viewset's route: {method: action}
    if actions is not None:
        return [method for method in actions if method not in ("head", "options")]
    return [method for method in (*READ, *WRITE) if hasattr(callback.cls, method)]


def api_routes() -> list[Route]:
    routes: list[Route] = []
    for pattern in _patterns(get_resolver()):
        cls = getattr(pattern.callback, "cls", None)
        if cls is None or pattern.name is None:
            continue
        kwargs = {group: PATH_VALUES.get(group, "404404404") for group in pattern.pattern.regex.groupindex}
        try:
            path = reverse(pattern.name, kwargs=kwargs)
        except Exception:  # a name reused elsewhere with other arguments: not this pattern's route
            continue
        if not path.startswith(API_PREFIX):
            continue
        view = cls(**getattr(pattern.callback, "initkwargs", {}))
        routes.extend(Route(pattern.name, method, path, view) for method in _methods(pattern.callback))
    return sorted({str(route): route for route in routes}.values(), key=str)


ROUTES = api_routes()


def declared(route: Route) -> str | None:
    return required_scope(route.view, route.method)


def documented(route: Route) -> str | None:
    """The scope the API promises for the route; UNDOCUMENTED for a route this file does not know."""
    if (route.name, route.method) in EXCEPTIONS:
        return EXCEPTIONS[route.name, route.method]
    bases = sorted(DOCUMENTED, key=len, reverse=True)
    base = next((b for b in bases if f"{route.name}-".startswith(f"{b}-")), None)
    if base is None:
        return UNDOCUMENTED
    read, write = DOCUMENTED[base]
    return read if route.method in READ else write


@pytest.fixture
def key_with(organization: Organization) -> Callable[[Sequence[str]], APIClient]:
    def make(scopes: Sequence[str]) -> APIClient:
        _, raw_key = api_key_create(organization=organization, scopes=scopes)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        return client

    return make


def call(client: APIClient, route: Route) -> Any:
    return getattr(client, route.method)(route.path, {} if route.method != "get" else None, format="json")


def test_the_matrix_covers_every_router() -> None:
    # The resolver finds every router's routes, the new api-keys ones and the webhooks' actions included.
    found = {str(route) for route in ROUTES}
    for expected in (
        "GET /api/v1/organization",
        "PATCH /api/v1/organization",
        "POST /api/v1/locations",
        "DELETE /api/v1/chargestations/404404404",
        "POST /api/v1/sessions/404404404/stop",
        "GET /api/v1/webhooks/404404404/secret",
        "POST /api/v1/webhooks/404404404/rotate-secret",
        "POST /api/v1/deliveries/404404404/resend",
        "GET /api/v1/event-types/session.started",
        "POST /api/v1/api-keys",
        "DELETE /api/v1/api-keys/404404404",
        "GET /api/v1/audit-log",
    ):
        assert expected in found
    assert len(ROUTES) >= 55


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_every_route_declares_its_scopes(route: Route) -> None:
    # Raises ImproperlyConfigured for a view that says nothing.
    scope = declared(route)
    assert scope is None or scope in Scope.values


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_the_scopes_are_the_documented_ones(route: Route) -> None:
    assert declared(route) == documented(route)


@pytest.mark.parametrize("route", [route for route in ROUTES if documented(route) is not None], ids=str)
def test_exactly_the_scope_passes_and_every_other_one_is_a_403_naming_it(
    route: Route, key_with: Callable[[Sequence[str]], APIClient]
) -> None:
    scope = declared(route)
    assert scope is not None

    # Given a key with exactly the route's scope; when it calls the route; then the check lets it by
    allowed = call(key_with([scope]), route)
    assert allowed.status_code not in (401, 403), allowed.content

    # Given a key with every scope but that one; when it calls the route; then it is a 403 naming it
    refused = call(key_with([other for other in EVERY_SCOPE if other != scope]), route)
    assert refused.status_code == 403
    assert refused.json() == {"detail": f"This API key lacks the scope {scope}.", "requiredScope": scope}


@pytest.mark.parametrize("route", [route for route in ROUTES if documented(route) is None], ids=str)
def test_the_event_catalog_is_open_to_any_key(
    route: Route, key_with: Callable[[Sequence[str]], APIClient]
) -> None:
    for scopes in ([Scope.NETWORK_READ], [Scope.KEYS_WRITE]):
        assert call(key_with(scopes), route).status_code == 200


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_a_key_with_every_scope_passes_everywhere(
    route: Route, key_with: Callable[[Sequence[str]], APIClient]
) -> None:
    assert call(key_with([Scope.ALL]), route).status_code not in (401, 403)


def test_a_refused_call_changes_nothing(
    organization: Organization, key_with: Callable[[Sequence[str]], APIClient]
) -> None:
    # Given a key that may read the network but not change it
    reader = key_with([Scope.NETWORK_READ])
    # When it creates a location and renames the organization; then both are refused, nothing written
    assert reader.post("/api/v1/locations", {"name": "Depot"}, format="json").status_code == 403
    assert reader.patch("/api/v1/organization", {"name": "Renamed"}, format="json").status_code == 403
    assert not organization.locations.exists()
    organization.refresh_from_db()
    assert organization.name != "Renamed"
    # And what it may do still works
    assert reader.get("/api/v1/locations").status_code == 200


def test_the_schema_says_each_operations_scope_and_what_a_403_holds() -> None:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = schema["paths"]
    assert paths["/api/v1/webhooks/{id}/secret/"]["get"]["security"] == [{"apiKey": ["secrets:read"]}]
    assert paths["/api/v1/locations/"]["post"]["security"] == [{"apiKey": ["network:write"]}]
    assert paths["/api/v1/event-types/"]["get"]["security"] == [{"apiKey": []}]
    description = schema["components"]["securitySchemes"]["apiKey"]["description"]
    assert '"requiredScope": "webhooks:write"' in description
