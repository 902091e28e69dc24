from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from organizations.models import ApiKey
from organizations.services import api_key_hash, api_key_touch


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer <key>`. `request.auth` is the ApiKey; `request.user` stays None."""

    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header: use 'Bearer <API key>'.")
        try:
            raw_key = parts[1].decode()
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid API key.") from exc
        api_key = ApiKey.objects.select_related("organization").filter(key_hash=api_key_hash(raw_key)).first()
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid API key.")
        if not api_key.is_active:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        api_key_touch(api_key=api_key)
        return (None, api_key)

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
