from typing import Any

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from organizations.models import ApiKey


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Requests per API key (per client address when there is none)."""

    scope = "api_key"

    def get_rate(self) -> str | None:
        # Read at request time (DRF reads it once at import), so a settings change takes effect.
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        return str(rate) if rate else None

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        ident = f"key-{request.auth.pk}" if isinstance(request.auth, ApiKey) else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
