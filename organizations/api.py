"""What every API view shares (organization scoping, eDRV conventions) and `/api/v1/organization`."""

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError, QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error

from organizations.models import ApiKey, Organization
from organizations.serializers import OrganizationSerializer
from organizations.services import organization_update


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Documents `Authorization: Bearer <key>` in the schema (registered by being imported)."""

    target_class = "organizations.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An organization's API key, shown once when it is created.",
        }


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
