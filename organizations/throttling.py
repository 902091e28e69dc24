import logging
from typing import Any

from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from organizations.models import ApiKey

logger = logging.getLogger(__name__)


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Requests per API key (per client address when there is none)."""

    scope = "api_key"

    def allow_request(self, request: Request, view: Any) -> bool:
        # The counters live in the cache (Redis in production). Redis being down must not take
        # the API down with it: the outbox keeps every change until the broker is back.
        try:
            return super().allow_request(request, view)
        except RedisError as exc:
            logger.warning("api.throttle.cache_unavailable", extra={"error": type(exc).__name__})
            return True

    def get_rate(self) -> str | None:
        # Read at request time (DRF reads it once at import), so a settings change takes effect.
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        return str(rate) if rate else None

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        ident = f"key-{request.auth.pk}" if isinstance(request.auth, ApiKey) else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
