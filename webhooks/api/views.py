"""`/api/v1/webhooks`, `/events`, `/deliveries`: parse, call a service, serialize.

`/event-types` is in webhooks/api/event_types.py.

Every query is scoped to the API key's organization: another organization's ids are 404. Reading
needs `webhooks:read`, changing `webhooks:write`, and revealing a signing secret `secrets:read`
(organizations.permissions).
"""

from typing import Any

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound
from rest_framework.parsers import JSONParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from edrv_project.pagination import Pagination
from organizations.audit import actor_of
from organizations.models import ApiKey, Organization, Plan, Scope
from organizations.permissions import HasOrganization, HasScope
from organizations.serializers import ForbiddenSerializer
from webhooks.api.idempotency import IDEMPOTENCY_KEY, idempotent
from webhooks.api.serializers import (
    DeliveryDetailSerializer,
    DeliverySerializer,
    ErrorSerializer,
    EventSerializer,
    MessageSerializer,
    NoSharedSecretSerializer,
    RecoveredSerializer,
    RecoverSerializer,
    RotatedSecretSerializer,
    RotateSecretSerializer,
    TestEventSerializer,
    WebhookCreatedSerializer,
    WebhookCreateSerializer,
    WebhookSecretSerializer,
    WebhookSerializer,
    WebhookUpdateSerializer,
)
from webhooks.endpoints import selectors
from webhooks.endpoints.redelivery import delivery_resend, endpoint_recover
from webhooks.endpoints.services import (
    NoSharedSecret,
    endpoint_create,
    endpoint_delete,
    endpoint_rotate_secret,
    endpoint_secret_reveal,
    endpoint_update,
)
from webhooks.endpoints.test_events import endpoint_send_test
from webhooks.models import Delivery, DeliveryStatus, Endpoint, Event

DELETED = {"message": "Webhook deleted successfully"}
V1A_NOTHING_TO_REVEAL = (
    "This webhook signs with ed25519 (v1a): it has no shared secret to show. "
    "Verify its deliveries with its publicKey."
)


class WebhooksPlan(BasePermission):
    """Webhooks are a Starter feature: a Free organization is refused on every webhook route."""

    message = (
        "Webhooks require the Starter tier or above, and this organization is on the Free tier. "
        "Upgrade to Starter to use webhooks."
    )

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, ApiKey) and request.auth.organization.plan != Plan.FREE


class WebhookDisabled(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = 'This webhook is disabled: re-enable it first (PATCH {"active": true}).'
    default_code = "webhook_disabled"


class _NamedPagination(Pagination):
    # `{"<key>": [...], "count", "next", "previous"}`: the contract names each list.
    results_key = "results"

    def get_paginated_response(self, data: Any) -> Response:
        response = super().get_paginated_response(data)
        response.data = {self.results_key: response.data.pop("results"), **response.data}
        return response

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        paginated = super().get_paginated_response_schema(schema)
        properties = dict(paginated["properties"])
        return {
            **paginated,
            "required": [self.results_key, "count", "next", "previous"],
            "properties": {self.results_key: properties.pop("results"), **properties},
        }


class WebhookPagination(_NamedPagination):
    results_key = "webhooks"


class EventPagination(_NamedPagination):
    results_key = "events"


class DeliveryPagination(_NamedPagination):
    results_key = "deliveries"


class EventFilter(filters.FilterSet):
    type = filters.CharFilter(help_text="Only events of this type.")

    class Meta:
        model = Event
        fields = ["type"]


class DeliveryFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=DeliveryStatus.choices)
    event_type = filters.CharFilter(field_name="event__type", help_text="Only deliveries of this event type.")

    class Meta:
        model = Delivery
        fields = ["status", "event_type"]


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    described = {
        400: OpenApiResponse(OpenApiTypes.OBJECT, "A key per bad field, each with a list of reasons."),
        401: OpenApiResponse(ErrorSerializer, "No API key, or a malformed, unknown or revoked one."),
        403: OpenApiResponse(
            ForbiddenSerializer,
            "The API key lacks this operation's scope (`requiredScope` names it), or the organization is "
            "on the Free tier: webhooks need Starter.",
        ),
        404: OpenApiResponse(ErrorSerializer, "No such id in this organization."),
        409: OpenApiResponse(ErrorSerializer, "The webhook is disabled: re-enable it first."),
        422: OpenApiResponse(ErrorSerializer, "The Idempotency-Key was used for a different request."),
    }
    return {code: described[code] for code in codes}


def _id(description: str) -> OpenApiParameter:
    return OpenApiParameter("id", str, OpenApiParameter.PATH, description=description)


WEBHOOK_ID = _id("The webhook's id (`wh_…`).")


def _ok(code: int, serializer: Any, *errors: int) -> dict[int, Any]:
    return {code: serializer, **_errors(401, 403, *errors)}


class _WebhooksApi(viewsets.GenericViewSet):
    # What every webhooks route shares: an API key with the route's scope, of a Starter (or higher)
    # organization, JSON in. Each viewset declares its scopes.
    # (A comment, not a docstring: the schema would show it on every subclass's operations.)

    permission_classes = [HasOrganization, HasScope, WebhooksPlan]
    parser_classes = [JSONParser]
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class: type[filters.FilterSet] | None = None
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    noun = "object"

    @property
    def organization(self) -> Organization:
        api_key: ApiKey = self.request.auth  # type: ignore[assignment]
        return api_key.organization

    def get_object(self) -> Any:
        # By id only: the filters (`?status=`...) belong to the lists, not to the object in the path.
        found = self.get_queryset().filter(**{self.lookup_field: self.kwargs[self.lookup_url_kwarg]}).first()
        if found is None:
            raise NotFound(f"No {self.noun} with this id.")
        return found

    def paginated(self, queryset: QuerySet[Any], serializer_class: type[Serializer]) -> Response:
        page = self.paginate_queryset(self.filter_queryset(queryset))
        return self.get_paginated_response(serializer_class(page, many=True).data)


def _require_active(endpoint: Endpoint) -> None:
    # Sent to a disabled webhook, it would only be recorded as skipped: say so instead.
    if not endpoint.active:
        raise WebhookDisabled()


def _delivery_response(organization: Organization, delivery: Delivery) -> Response:
    found = selectors.delivery_get(organization=organization, delivery_id=str(delivery.pk))
    return Response(DeliveryDetailSerializer(found).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["webhooks"])
@extend_schema_view(
    list=extend_schema(summary="List webhooks", responses=_ok(200, WebhookSerializer(many=True))),
    create=extend_schema(
        summary="Register a webhook",
        request=WebhookCreateSerializer,
        responses=_ok(201, WebhookCreatedSerializer, 400, 422),
        parameters=[IDEMPOTENCY_KEY],
    ),
    retrieve=extend_schema(
        summary="Get a webhook", responses=_ok(200, WebhookSerializer, 404), parameters=[WEBHOOK_ID]
    ),
    partial_update=extend_schema(
        summary="Change a webhook",
        request=WebhookUpdateSerializer,
        responses=_ok(200, WebhookSerializer, 400, 404),
        parameters=[WEBHOOK_ID],
    ),
    destroy=extend_schema(
        summary="Delete a webhook and its delivery history",
        responses=_ok(200, MessageSerializer, 404),
        parameters=[WEBHOOK_ID],
    ),
)
class WebhookViewSet(_WebhooksApi):
    """Webhooks: the HTTPS endpoints that receive the organization's events, signed."""

    read_scope = Scope.WEBHOOKS_READ
    write_scope = Scope.WEBHOOKS_WRITE
    queryset = Endpoint.objects.none()
    serializer_class = WebhookSerializer
    pagination_class = WebhookPagination
    noun = "webhook"

    def get_queryset(self) -> QuerySet[Endpoint]:
        return selectors.endpoint_list(organization=self.organization)

    def list(self, request: Request) -> Response:
        return self.paginated(self.get_queryset(), WebhookSerializer)

    @idempotent
    def create(self, request: Request) -> Response:
        given = WebhookCreateSerializer(data=request.data, context={"organization": self.organization})
        given.is_valid(raise_exception=True)
        endpoint = endpoint_create(
            organization=self.organization, actor=actor_of(request), **given.validated_data
        )
        return Response(WebhookCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, **kwargs: Any) -> Response:
        return Response(WebhookSerializer(self.get_object()).data)

    def partial_update(self, request: Request, **kwargs: Any) -> Response:
        endpoint = self.get_object()
        given = WebhookUpdateSerializer(
            data=request.data, partial=True, context={"organization": self.organization, "endpoint": endpoint}
        )
        given.is_valid(raise_exception=True)
        endpoint = endpoint_update(endpoint=endpoint, actor=actor_of(request), **given.validated_data)
        return Response(WebhookSerializer(endpoint).data)

    def destroy(self, request: Request, **kwargs: Any) -> Response:
        endpoint_delete(endpoint=self.get_object(), actor=actor_of(request))
        return Response(DELETED)

    @extend_schema(
        summary="List a webhook's deliveries, newest first",
        responses=_ok(200, DeliverySerializer(many=True), 400, 404),
        parameters=[WEBHOOK_ID],
    )
    @action(
        detail=True,
        methods=["get"],
        filterset_class=DeliveryFilter,
        pagination_class=DeliveryPagination,
        queryset=Delivery.objects.none(),  # what the filters apply to (get_object uses get_queryset)
    )
    def deliveries(self, request: Request, **kwargs: Any) -> Response:
        deliveries = selectors.delivery_list(organization=self.organization, endpoint=self.get_object())
        return self.paginated(deliveries, DeliverySerializer)

    @extend_schema(
        summary="Send again its failed and skipped deliveries since a moment",
        request=RecoverSerializer,
        responses=_ok(202, RecoveredSerializer, 400, 404, 409, 422),
        parameters=[WEBHOOK_ID, IDEMPOTENCY_KEY],
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def recover(self, request: Request, **kwargs: Any) -> Response:
        endpoint = self.get_object()
        given = RecoverSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        _require_active(endpoint)
        recovered = endpoint_recover(endpoint=endpoint, since=given.validated_data["since"])
        return Response({"recovered": recovered}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Send a signed example event of a type, marked as a test",
        request=TestEventSerializer,
        responses=_ok(202, DeliveryDetailSerializer, 400, 404, 409, 422),
        parameters=[WEBHOOK_ID, IDEMPOTENCY_KEY],
    )
    @action(detail=True, methods=["post"], url_path="test")
    @idempotent
    def send_test(self, request: Request, **kwargs: Any) -> Response:
        endpoint = self.get_object()
        given = TestEventSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        _require_active(endpoint)
        delivery = endpoint_send_test(endpoint=endpoint, type_name=given.validated_data["type"])
        return _delivery_response(self.organization, delivery)

    @extend_schema(
        summary="Get the webhook's signing secret (needs `secrets:read`)",
        responses={
            **_ok(200, WebhookSecretSerializer, 404),
            409: OpenApiResponse(
                NoSharedSecretSerializer, "A v1a webhook: no shared secret, its `publicKey` verifies."
            ),
        },
        parameters=[WEBHOOK_ID],
    )
    @action(detail=True, methods=["get"], read_scope=Scope.SECRETS_READ)
    def secret(self, request: Request, **kwargs: Any) -> Response:
        endpoint = self.get_object()
        try:
            return Response({"secret": endpoint_secret_reveal(endpoint=endpoint, actor=actor_of(request))})
        except NoSharedSecret:
            return Response(
                {"detail": V1A_NOTHING_TO_REVEAL, "publicKey": endpoint.public_key},
                status=status.HTTP_409_CONFLICT,
            )

    @extend_schema(
        summary="Rotate the signing secret; the old one signs beside it for 24 hours",
        request=RotateSecretSerializer,
        responses=_ok(200, RotatedSecretSerializer, 400, 404, 422),
        parameters=[WEBHOOK_ID, IDEMPOTENCY_KEY],
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    @idempotent
    def rotate_secret(self, request: Request, **kwargs: Any) -> Response:
        endpoint = self.get_object()
        given = RotateSecretSerializer(data=request.data, context={"endpoint": endpoint})
        given.is_valid(raise_exception=True)
        endpoint = endpoint_rotate_secret(
            endpoint=endpoint, secret=given.validated_data.get("secret"), actor=actor_of(request)
        )
        return Response(RotatedSecretSerializer(endpoint).data)


@extend_schema(tags=["events"])
@extend_schema_view(
    list=extend_schema(summary="List events, newest first", responses=_ok(200, EventSerializer(many=True))),
    retrieve=extend_schema(
        summary="Get an event",
        responses=_ok(200, EventSerializer, 404),
        parameters=[_id("The event's id (also the `webhook-id` of its deliveries).")],
    ),
)
class EventViewSet(_WebhooksApi):
    """Events: what happened on the network, as webhooks carry it."""

    read_scope = Scope.WEBHOOKS_READ
    write_scope = Scope.WEBHOOKS_WRITE
    queryset = Event.objects.none()
    serializer_class = EventSerializer
    pagination_class = EventPagination
    filterset_class = EventFilter
    noun = "event"

    def get_queryset(self) -> QuerySet[Event]:
        return selectors.event_list(organization=self.organization)

    def list(self, request: Request) -> Response:
        return self.paginated(self.get_queryset(), EventSerializer)

    def retrieve(self, request: Request, **kwargs: Any) -> Response:
        return Response(EventSerializer(self.get_object()).data)


@extend_schema(tags=["deliveries"], parameters=[_id("The delivery's id.")])
class DeliveryViewSet(_WebhooksApi):
    """Deliveries: one event to one webhook, with every attempt to send it."""

    read_scope = Scope.WEBHOOKS_READ
    write_scope = Scope.WEBHOOKS_WRITE
    queryset = Delivery.objects.none()
    serializer_class = DeliveryDetailSerializer
    pagination_class = None

    def get_object(self) -> Delivery:
        found = selectors.delivery_get(organization=self.organization, delivery_id=self.kwargs["id"])
        if found is None:
            raise NotFound("No delivery with this id.")
        return found

    @extend_schema(
        summary="Get a delivery with its attempts", responses=_ok(200, DeliveryDetailSerializer, 404)
    )
    def retrieve(self, request: Request, **kwargs: Any) -> Response:
        return Response(DeliveryDetailSerializer(self.get_object()).data)

    @extend_schema(
        summary="Attempt the delivery again now",
        request=None,
        responses=_ok(202, DeliveryDetailSerializer, 404, 409, 422),
        parameters=[IDEMPOTENCY_KEY],
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def resend(self, request: Request, **kwargs: Any) -> Response:
        delivery = self.get_object()
        _require_active(delivery.endpoint)
        return _delivery_response(self.organization, delivery_resend(delivery=delivery))
