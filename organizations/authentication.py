import re
from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from organizations.models import ApiKey
from organizations.serializers import ApiDateTimeField
from organizations.services import api_key_hash, api_key_touch

MALFORMED = "Malformed Authorization header: use 'Bearer <API key>'."
INVALID = "Invalid API key."
# What api_key_create makes (edrv_<8 hex>_<43 of base64url>), with room to spare. Anything else is
# answered without hashing it or asking the database: a 10 KB or binary header costs nothing.
KEY_SHAPE = re.compile(rb"[A-Za-z0-9_-]{1,128}")
MAX_HEADER_LENGTH = 1024


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer <key>`. `request.auth` is the ApiKey; `request.user` stays None."""

    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        header = _authorization_header(request)
        if header is None:
            return None
        parts = header.split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(MALFORMED)
        if not KEY_SHAPE.fullmatch(parts[1]):
            raise exceptions.AuthenticationFailed(INVALID)
        raw_key = parts[1].decode("ascii")
        api_key = ApiKey.objects.select_related("organization").filter(key_hash=api_key_hash(raw_key)).first()
        if api_key is None:
            raise exceptions.AuthenticationFailed(INVALID)
        if not api_key.is_active:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        if api_key.is_expired:
            expired = ApiDateTimeField().to_representation(api_key.expires_at)
            raise exceptions.AuthenticationFailed(f"This API key expired at {expired}.")
        api_key_touch(api_key=api_key)
        return (None, api_key)

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


def _authorization_header(request: Request) -> bytes | None:
    """The header's bytes; None when there is none. One that is too long or cannot be bytes (a
    client can put any character in it) is a 401, never a 500."""
    header: str | bytes = request.META.get("HTTP_AUTHORIZATION", b"")
    if not header:
        return None
    if len(header) > MAX_HEADER_LENGTH:
        raise exceptions.AuthenticationFailed(MALFORMED)
    if isinstance(header, bytes):
        return header
    try:
        # As DRF's get_authorization_header, which lets the encoding error through.
        return header.encode("iso-8859-1")
    except UnicodeEncodeError as exc:
        raise exceptions.AuthenticationFailed(MALFORMED) from exc
