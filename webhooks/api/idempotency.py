"""`Idempotency-Key` on POSTs that do something: a repeat returns the first answer, and does nothing.

A client that lost the answer to a POST (a timeout, a dropped connection) sends it again with the
same key and gets the same status and body back. The work and the record of its answer commit
together, so of two concurrent twins one waits on the unique key, rolls its own work back and
replays the other's answer. Only successes are kept: a refused request did nothing, and the
client may correct it and send it again under the same key.

A record never holds a secret: an answer that shows what a webhook keeps encrypted (its signing
secret, its custom headers: a webhook created, its secret rotated) is kept with those fields empty,
and a replay fills them in from the webhook, where they are encrypted at rest.
"""

import functools
import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar

from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from organizations.models import ApiKey, Organization
from webhooks.models import Endpoint, IdempotencyRecord

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
KEY_LIFETIME = timedelta(hours=24)
# The fields of the answers about a webhook that show what it keeps encrypted: the webhook's own.
FROM_WEBHOOK = ("secret", "headers")

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


def _kept(answer: Any) -> Any:
    """The answer as a record keeps it: the fields from the webhook left empty (null, never a value)."""
    if not isinstance(answer, Mapping):
        return answer
    return {**answer, **{name: None for name in FROM_WEBHOOK if name in answer}}


def _replayed(answer: Any, *, organization: Organization, webhook_id: str | None) -> Any:
    """The kept answer with the webhook's fields filled in again. An answer with such fields is about
    one webhook: the one it shows (its `id`), or else the one in the path."""
    if not isinstance(answer, Mapping):
        return answer
    empty = [name for name in FROM_WEBHOOK if name in answer and answer[name] is None]
    if not empty:
        return answer
    public_id = answer.get("id", webhook_id)
    endpoint = Endpoint.objects.filter(organization=organization, public_id=public_id).first()
    if endpoint is None:
        raise NotFound("The webhook of this request has since been deleted.")
    return {**answer, **{name: getattr(endpoint, name) for name in empty}}


def _replay(
    *, organization: Organization, key: str, fingerprint: str, webhook_id: str | None
) -> Response | None:
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
    answer = _replayed(record.response, organization=organization, webhook_id=webhook_id)
    return Response(answer, status=record.status_code, headers={"Idempotent-Replayed": "true"})


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
        webhook_id = kwargs.get("id")  # the webhook in the path, on its routes
        replay = functools.partial(
            _replay,
            organization=organization,
            key=key,
            fingerprint=fingerprint,
            webhook_id=webhook_id if isinstance(webhook_id, str) else None,
        )
        if (earlier := replay()) is not None:
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
                        response=_kept(response.data),
                    )
        except IntegrityError:
            # A twin with the same key committed first: our work is rolled back, theirs is the answer.
            earlier = replay()
            if earlier is None:
                raise
            return earlier
        return response

    return wrapper
