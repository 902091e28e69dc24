"""`Idempotency-Key` on POSTs that do something: a repeat returns the first answer, and does nothing.

A client that lost the answer to a POST (a timeout, a dropped connection) sends it again with the
same key and gets the same status and body back. The work and the record of its answer commit
together, so of two concurrent twins one waits on the unique key, rolls its own work back and
replays the other's answer. Only successes are kept: a refused request did nothing, and the
client may correct it and send it again under the same key.
"""

import functools
import hashlib
import json
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Concatenate, ParamSpec, TypeVar

from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from organizations.models import ApiKey, Organization
from webhooks.models import IdempotencyRecord

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
KEY_LIFETIME = timedelta(hours=24)

IDEMPOTENCY_KEY = OpenApiParameter(
    name=HEADER,
    type=str,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        f"Any unique string (at most {MAX_KEY_LENGTH} characters, e.g. a UUID). Repeating the request "
        "with the same key within 24 hours returns the first answer without doing it again; the same "
        "key with a different request is a 422."
    ),
)

_View = TypeVar("_View", bound=APIView)
_P = ParamSpec("_P")
Handler = Callable[Concatenate[_View, Request, _P], Response]


class IdempotencyKeyReused(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = (
        "This Idempotency-Key was already used with a different request. Use a new key for a new request."
    )
    default_code = "idempotency_key_reused"


def _fingerprint(request: Request) -> str:
    # The parsed body, keys sorted: the same request sent with other spacing or key order is a repeat.
    canonical = json.dumps(
        [request.method, request.path.rstrip("/"), request.data], sort_keys=True, default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(*, organization: Organization, key: str, fingerprint: str) -> Response | None:
    record = IdempotencyRecord.objects.filter(organization=organization, key=key).first()
    if record is None:
        return None
    if record.created_at < timezone.now() - KEY_LIFETIME:
        record.delete()
        return None
    if record.request_fingerprint != fingerprint:
        logger.info("webhooks.idempotency.key_reused", extra={"organization_id": organization.pk})
        raise IdempotencyKeyReused()
    logger.info(
        "webhooks.idempotency.replayed",
        extra={"organization_id": organization.pk, "status_code": record.status_code},
    )
    return Response(record.response, status=record.status_code, headers={"Idempotent-Replayed": "true"})


def idempotent(handler: Handler[_View, _P]) -> Handler[_View, _P]:
    """Make a POST handler of an API-key view honour `Idempotency-Key`."""

    @functools.wraps(handler)
    def wrapper(view: _View, request: Request, *args: _P.args, **kwargs: _P.kwargs) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            raise ValidationError({HEADER: [f"Use 1 to {MAX_KEY_LENGTH} characters."]})
        api_key: ApiKey = request.auth  # type: ignore[assignment]
        organization, fingerprint = api_key.organization, _fingerprint(request)
        if (earlier := _replay(organization=organization, key=key, fingerprint=fingerprint)) is not None:
            return earlier
        try:
            with transaction.atomic():
                response = handler(view, request, *args, **kwargs)
                if status.is_success(response.status_code):
                    IdempotencyRecord.objects.create(
                        organization=organization,
                        key=key,
                        request_fingerprint=fingerprint,
                        status_code=response.status_code,
                        response=response.data,
                    )
        except IntegrityError:
            # A twin with the same key committed first: our work is rolled back, theirs is the answer.
            earlier = _replay(organization=organization, key=key, fingerprint=fingerprint)
            if earlier is None:
                raise
            return earlier
        return response

    return wrapper
