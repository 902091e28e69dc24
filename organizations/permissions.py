"""Who may call what with an API key: a valid key (`HasOrganization`), holding the route's scope (`HasScope`).

Every API view declares its scopes with two attributes: `read_scope` (GET, HEAD, OPTIONS) and
`write_scope` (every other method). An `@action` that needs another one says so in its decorator,
`@action(..., read_scope=Scope.SECRETS_READ)`: DRF sets an action's keyword arguments on the view.
`ANY_KEY` opens a route to every valid key. A view that declares nothing is a programming error,
raised on its first call (and by tests/api/test_scopes.py for every route).
"""

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from organizations.models import ApiKey

ANY_KEY = None


class HasOrganization(BasePermission):
    """The request carries a valid API key, hence an organization to scope every query to."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, ApiKey)


class ScopeMissing(PermissionDenied):
    """403 `{"detail": "This API key lacks the scope webhooks:write.", "requiredScope": "webhooks:write"}`."""

    def __init__(self, scope: str) -> None:
        super().__init__({"detail": f"This API key lacks the scope {scope}.", "requiredScope": scope})


class ScopesNotHeld(PermissionDenied):
    """403 for a key that would give another key scopes it does not hold itself, naming them."""

    def __init__(self, scopes: Iterable[str]) -> None:
        names = list(scopes)
        detail = (
            f"This API key lacks the scope{'s' if len(names) > 1 else ''} {', '.join(names)}: "
            "a key can only give the scopes it holds."
        )
        super().__init__({"detail": detail, "missingScopes": names})


def required_scope(view: Any, method: str) -> str | None:
    """The scope `view` declares for an HTTP method; None when any key may call it."""
    name = "read_scope" if method.upper() in SAFE_METHODS else "write_scope"
    if not hasattr(view, name):
        raise ImproperlyConfigured(
            f"{type(view).__name__} declares no {name}: say which API key scope it needs."
        )
    scope: str | None = getattr(view, name)
    return scope


class HasScope(BasePermission):
    """The API key holds the scope the view declares for this method; a 403 naming it otherwise."""

    def has_permission(self, request: Request, view: Any) -> bool:
        method = (request.method or "").lower()
        if not hasattr(view, method):
            return True  # the view answers 405: there is no scope to check
        if not isinstance(request.auth, ApiKey):
            return False  # no key at all: a 401, as HasOrganization says
        scope = required_scope(view, method)
        if scope is ANY_KEY or request.auth.grants(scope):
            return True
        raise ScopeMissing(scope)
