"""`/api/v1/event-types`: the event catalog, and per type the schema and an example of what is sent.

Open to every API key, whatever its scopes, Free tier included: the catalog is the same for everyone.
A type's example is made for the caller's organization (its currency, its own organization object),
nothing else.
"""

from dataclasses import asdict
from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from organizations.models import ApiKey
from organizations.permissions import ANY_KEY, HasOrganization, HasScope
from webhooks.api.serializers import (
    EVENT_TYPES_ROUTE,
    ErrorSerializer,
    EventTypeListSerializer,
    EventTypeSerializer,
)
from webhooks.catalog.types import EVENT_TYPES
from webhooks.schemas.envelopes import event_example, event_schema

UNAUTHORIZED = OpenApiResponse(ErrorSerializer, "No API key, or a malformed, unknown or revoked one.")
TYPE_NAME = OpenApiParameter(
    "type", str, OpenApiParameter.PATH, enum=list(EVENT_TYPES), description="The type's name."
)


class EventTypeDetailSerializer(EventTypeSerializer):
    schema = serializers.DictField(
        help_text="JSON Schema (draft 2020-12) of the whole body sent, envelope and `data`, self-contained."
    )
    example = serializers.DictField(help_text="A complete example body; it validates against `schema`.")


@extend_schema(tags=["event types"])
class EventTypeViewSet(viewsets.ViewSet):
    """The event catalog: every type, whether it can be subscribed to, and its envelope."""

    permission_classes = [HasOrganization, HasScope]
    read_scope = ANY_KEY
    write_scope = ANY_KEY  # there is nothing to write: other methods are 405
    lookup_url_kwarg = "type"
    lookup_value_regex = r"[^/]+"  # type names have dots, which the router's default refuses

    @extend_schema(
        summary="List every event type", responses={200: EventTypeListSerializer, 401: UNAUTHORIZED}
    )
    def list(self, request: Request) -> Response:
        return Response(EventTypeListSerializer({"eventTypes": EVENT_TYPES.values()}).data)

    @extend_schema(
        summary="Get an event type with the JSON Schema and an example of what is sent",
        parameters=[TYPE_NAME],
        responses={
            200: EventTypeDetailSerializer,
            401: UNAUTHORIZED,
            404: OpenApiResponse(ErrorSerializer, "No event type of this name."),
        },
    )
    def retrieve(self, request: Request, **kwargs: Any) -> Response:
        name = kwargs[self.lookup_url_kwarg]
        event_type = EVENT_TYPES.get(name)
        if event_type is None:
            raise NotFound(
                f'"{name}" is not an event type. The valid ones are listed at {EVENT_TYPES_ROUTE}.'
            )
        api_key: ApiKey = request.auth  # type: ignore[assignment]
        detail = {
            **asdict(event_type),
            "schema": event_schema(name),
            "example": event_example(organization=api_key.organization, type_name=name),
        }
        return Response(EventTypeDetailSerializer(detail).data)
