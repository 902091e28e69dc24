from collections.abc import Callable

import pytest
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from organizations.authentication import ApiKeyAuthentication
from organizations.models import ApiKey, Organization


@pytest.fixture
def key_owner() -> Callable[[str], Organization]:
    """The organization a raw API key authenticates as, through the API's own authentication."""

    def authenticate(raw_key: str) -> Organization:
        django_request = APIRequestFactory().get(
            "/api/v1/organization", HTTP_AUTHORIZATION=f"Bearer {raw_key}"
        )
        request = Request(django_request, authenticators=[ApiKeyAuthentication()])
        assert isinstance(request.auth, ApiKey)
        return request.auth.organization

    return authenticate
