from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from organizations.models import ApiKey


class HasOrganization(BasePermission):
    """The request carries a valid API key, hence an organization to scope every query to."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, ApiKey)
