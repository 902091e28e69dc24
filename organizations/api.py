"""What every API view shares (organization scoping, scopes, eDRV conventions), `/api/v1/organization`,
`/api/v1/api-keys` and `/api/v1/audit-log`."""

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError, QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error

from organizations.audit import actor_of
from organizations.models import ApiKey, AuditEntry, Organization, Scope
from organizations.permissions import HasOrganization, HasScope, ScopesNotHeld, required_scope
from organizations.selectors import api_key_list, audit_entry_list
from organizations.serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyCreateSerializer,
    ApiKeyRevokedSerializer,
    ApiKeySerializer,
    AuditEntrySerializer,
    DetailSerializer,
    ForbiddenSerializer,
    OrganizationSerializer,
)
from organizations.services import api_key_create, api_key_revoke, organization_update

API_KEY_REVOKED = {"message": "API key revoked: it no longer works."}
SCOPES_DESCRIPTION = (
    "An organization's API key, shown once when it is created. A key carries scopes: "
    + "; ".join(f"`{scope.value}`: {scope.label}" for scope in Scope)
    + ". Reading (GET, HEAD, OPTIONS) and writing (every other method) each need the scope listed in "
    "the operation's `security`. A call outside the key's scopes is a 403 whose JSON names the missing "
    'scope: `{"detail": "This API key lacks the scope webhooks:write.", "requiredScope": "webhooks:write"}`. '
    "An unknown, revoked or expired key is a 401 that says which."
)


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Documents `Authorization: Bearer <key>` in the schema (registered by being imported), and each
    operation's scope as its security requirement (OpenAPI 3.1 allows one for any scheme)."""

    target_class = "organizations.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": SCOPES_DESCRIPTION}

    def get_security_requirement(self, auto_schema: Any) -> dict[str, list[Any]]:
        scope = required_scope(auto_schema.view, auto_schema.method)
        return {self.name: [] if scope is None else [scope]}


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the object."
    default_code = "conflict"


def protected_message(exc: ProtectedError) -> str:
    """'Cannot delete it: still in use by 2 chargestations. Delete or move those first.'"""
    counts = Counter(type(obj)._meta for obj in exc.protected_objects)
    parts = ", ".join(
        f"{count} {meta.verbose_name if count == 1 else meta.verbose_name_plural}"
        for meta, count in sorted(counts.items(), key=lambda item: item[0].label)
    )
    return f"Cannot delete it: still in use by {parts}. Delete or move those first."


class ApiOrderingFilter(OrderingFilter):
    """`?ordering=-createdAt`: ordering by the API's field names, mapped by the view's `ordering_fields`."""

    def remove_invalid_fields(
        self, queryset: QuerySet[Any], fields: Iterable[str], view: Any, request: Request
    ) -> list[str]:
        mapping: Mapping[str, str] = view.ordering_fields
        ordering = []
        for term in fields:
            name = term.removeprefix("-")
            if name not in mapping:
                message = f'Cannot order by "{name}". Use one of: {", ".join(mapping)}.'
                raise ValidationError({self.ordering_param: [message]})
            ordering.append(("-" if term.startswith("-") else "") + mapping[name])
        return ordering

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        valid = ", ".join(view.ordering_fields)
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": f"Comma-separated fields to order by ({valid}); prefix with - to descend.",
                "schema": {"type": "string"},
            }
        ]


class ApiErrorsMixin:
    # Services speak Django (ValidationError, ProtectedError); the API answers 400 and 409.
    # (A comment, not a docstring: the schema would show it on every view's operations.)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, DjangoValidationError):
            exc = ValidationError(detail=as_serializer_error(exc))
        elif isinstance(exc, ProtectedError):
            exc = Conflict(detail=protected_message(exc))
        return super().handle_exception(exc)  # type: ignore[misc]


class OrganizationScopedViewSet(ApiErrorsMixin, viewsets.ModelViewSet):
    # CRUD over one organization's objects, found by `_id`: another organization's are 404.
    # Subclasses name their selector in `get_queryset` and their services in `perform_*`.
    # (A comment, not a docstring: the schema would show it on every subclass's operations.)

    permission_classes = [HasOrganization, HasScope]
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    # Nested objects (price components, id tags) have no form encoding: JSON only.
    parser_classes = [JSONParser]
    filter_backends = [DjangoFilterBackend, ApiOrderingFilter]
    ordering_fields: Mapping[str, str] = {"createdAt": "created_at", "updatedAt": "updated_at"}
    ordering = ["-created_at"]

    @property
    def organization(self) -> Organization:
        api_key: ApiKey = self.request.auth  # type: ignore[assignment]
        return api_key.organization

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "organization": self.organization}


class OrganizationView(ApiErrorsMixin, GenericAPIView):
    """The organization the API key belongs to."""

    serializer_class = OrganizationSerializer
    permission_classes = [HasOrganization, HasScope]
    read_scope = Scope.NETWORK_READ
    write_scope = Scope.NETWORK_WRITE
    parser_classes = [JSONParser]
    filter_backends: list[Any] = []
    pagination_class = None

    def get_object(self) -> Organization:
        api_key: ApiKey = self.request.auth  # type: ignore[assignment]
        return api_key.organization

    @extend_schema(
        operation_id="organization_retrieve", responses=OrganizationSerializer, tags=["organization"]
    )
    def get(self, request: Request) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(
        operation_id="organization_partial_update",
        tags=["organization"],
        request=OrganizationSerializer,
        responses=OrganizationSerializer,
        description="Change the organization's details. The plan is not changed through the API.",
    )
    def patch(self, request: Request) -> Response:
        organization = self.get_object()
        serializer = self.get_serializer(organization, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        organization = organization_update(organization=organization, data=serializer.validated_data)
        return Response(self.get_serializer(organization).data)


KEY_ID = OpenApiParameter("id", str, OpenApiParameter.PATH, description="The key's id (`key_…`).")
_FORBIDDEN = OpenApiResponse(ForbiddenSerializer, "This API key lacks `keys:write` (`requiredScope`).")
_UNAUTHORIZED = OpenApiResponse(
    DetailSerializer, "No API key, or a malformed, unknown, revoked or expired one."
)


@extend_schema(tags=["api keys"])
@extend_schema_view(
    list=extend_schema(
        summary="List the organization's API keys (never the keys themselves), newest first",
        responses={200: ApiKeySerializer(many=True), 401: _UNAUTHORIZED, 403: _FORBIDDEN},
    ),
    retrieve=extend_schema(
        summary="Get an API key (never the key itself)",
        parameters=[KEY_ID],
        responses={200: ApiKeySerializer, 401: _UNAUTHORIZED, 403: _FORBIDDEN, 404: DetailSerializer},
    ),
    create=extend_schema(
        summary="Create an API key; the answer shows the key, once",
        description="A key can only give the scopes it holds itself: asking for others is a 403 that names "
        "them (`missingScopes`). An unknown scope name is a 400 that names it.",
        request=ApiKeyCreateSerializer,
        responses={
            201: ApiKeyCreatedSerializer,
            400: OpenApiResponse(description="A key per bad field, each with a list of reasons."),
            401: _UNAUTHORIZED,
            403: OpenApiResponse(
                ForbiddenSerializer, "This API key lacks `keys:write`, or a scope asked for."
            ),
        },
    ),
    destroy=extend_schema(
        summary="Revoke an API key: it stops working at once",
        parameters=[KEY_ID],
        responses={200: ApiKeyRevokedSerializer, 401: _UNAUTHORIZED, 403: _FORBIDDEN, 404: DetailSerializer},
    ),
)
class ApiKeyViewSet(
    ApiErrorsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """API keys. Managing them, listing included, needs `keys:write`: there is no read-only scope for keys."""

    queryset = ApiKey.objects.none()
    serializer_class = ApiKeySerializer
    permission_classes = [HasOrganization, HasScope]
    read_scope = Scope.KEYS_WRITE
    write_scope = Scope.KEYS_WRITE
    parser_classes = [JSONParser]
    filter_backends: list[Any] = []
    lookup_field = "public_id"
    lookup_url_kwarg = "id"

    def get_queryset(self) -> QuerySet[ApiKey]:
        api_key: ApiKey = self.request.auth  # type: ignore[assignment]
        return api_key_list(organization=api_key.organization)

    def create(self, request: Request) -> Response:
        given = ApiKeyCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        creator: ApiKey = request.auth  # type: ignore[assignment]
        lacking = creator.scopes_lacking(given.validated_data["scopes"])
        if lacking:
            raise ScopesNotHeld(lacking)
        api_key, raw_key = api_key_create(
            organization=creator.organization, actor=actor_of(request), **given.validated_data
        )
        answer = ApiKeyCreatedSerializer(api_key, context={"raw_key": raw_key}).data
        return Response(answer, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})

    def destroy(self, request: Request, **kwargs: Any) -> Response:
        api_key_revoke(api_key=self.get_object(), actor=actor_of(request))
        return Response(API_KEY_REVOKED)


@extend_schema(tags=["audit log"])
@extend_schema_view(
    list=extend_schema(
        summary="List the organization's audit entries, newest first",
        description="Who created, changed, enabled, disabled or deleted a webhook, revealed or rotated its "
        "secret, created or revoked an API key, added, changed or removed a member, generated a "
        "chargestation's authorization key. Needs a `*` key.",
        parameters=[
            OpenApiParameter(
                "action", str, description="Only entries of this action (e.g. `webhook.created`)."
            ),
            OpenApiParameter("target", str, description="Only entries about this id (e.g. `wh_…`, `key_…`)."),
        ],
        responses={
            200: AuditEntrySerializer(many=True),
            401: _UNAUTHORIZED,
            403: OpenApiResponse(ForbiddenSerializer, "This API key lacks `*` (`requiredScope`)."),
        },
    ),
)
class AuditLogViewSet(ApiErrorsMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The audit log: read-only, for keys holding every scope (`*`), as it tells what every key did."""

    queryset = AuditEntry.objects.none()
    serializer_class = AuditEntrySerializer
    permission_classes = [HasOrganization, HasScope]
    read_scope = Scope.ALL
    write_scope = Scope.ALL
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[AuditEntry]:
        api_key: ApiKey = self.request.auth  # type: ignore[assignment]
        return audit_entry_list(
            organization=api_key.organization,
            action=self.request.query_params.get("action", ""),
            target_id=self.request.query_params.get("target", ""),
        )
