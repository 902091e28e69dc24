import logging
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus: a service's refusal (Django's ValidationError, e.g. a plan's endpoint limit) is a
    400 in DRF's shape; a database that cannot be reached is a 503 in JSON, never a 500."""
    if isinstance(exc, DjangoValidationError):
        exc = ValidationError(as_serializer_error(exc))
    response = exception_handler(exc, context)
    if response is None and isinstance(exc, OperationalError | InterfaceError):
        logger.warning("api.database_unavailable", extra={"error": type(exc).__name__})
        return Response(
            {"detail": "The service is temporarily unavailable. Please retry shortly."},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    return response
