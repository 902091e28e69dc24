"""`/api/v1/locations`, `/chargestations`, `/connectors`, `/rates`: parse, call a selector or a service."""

from typing import Any

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from chargestations import selectors, services
from chargestations.models import Chargestation, Connector, ConnectorStatus, Location, Rate
from chargestations.serializers import (
    AuthorizationKeySerializer,
    ChargestationSerializer,
    ConnectorSerializer,
    LocationSerializer,
    RateSerializer,
)
from organizations.api import OrganizationScopedViewSet
from organizations.audit import actor_of
from organizations.models import Scope
from organizations.serializers import DetailSerializer

NAME_ORDERING = {"createdAt": "created_at", "updatedAt": "updated_at", "name": "name"}


class LocationFilter(filters.FilterSet):
    class Meta:
        model = Location
        fields = ["active"]


class ChargestationFilter(filters.FilterSet):
    location = filters.CharFilter(field_name="location__public_id", help_text="A location's _id.")
    endpoint = filters.CharFilter()

    class Meta:
        model = Chargestation
        fields = ["location", "endpoint", "active", "public", "online", "open_for_business"]


class ConnectorFilter(filters.FilterSet):
    chargestation = filters.CharFilter(
        field_name="chargestation__public_id", help_text="A chargestation's _id."
    )
    status = filters.ChoiceFilter(choices=ConnectorStatus.choices)

    class Meta:
        model = Connector
        fields = ["chargestation", "status", "active"]


class RateFilter(filters.FilterSet):
    class Meta:
        model = Rate
        fields = ["active", "currency"]


@extend_schema(tags=["locations"])
@extend_schema_view(
    destroy=extend_schema(description="409 while chargestations still stand at the location.")
)
class LocationViewSet(OrganizationScopedViewSet):
    """Locations: the sites where chargestations stand."""

    read_scope = Scope.NETWORK_READ
    write_scope = Scope.NETWORK_WRITE
    queryset = Location.objects.none()
    serializer_class = LocationSerializer
    filterset_class = LocationFilter
    ordering_fields = NAME_ORDERING

    def get_queryset(self) -> QuerySet[Location]:
        return selectors.location_list(organization=self.organization)

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = services.location_create(
            organization=self.organization, **serializer.validated_data
        )

    def perform_update(self, serializer: Any) -> None:
        services.location_update(location=serializer.instance, data=serializer.validated_data)

    def perform_destroy(self, instance: Location) -> None:
        services.location_delete(location=instance)


@extend_schema(tags=["chargestations"])
@extend_schema_view(
    destroy=extend_schema(description="Deletes its connectors; 409 while sessions refer to it.")
)
class ChargestationViewSet(OrganizationScopedViewSet):
    """Chargestations, with their connectors. `endpoint` is the charger's OCPP identity."""

    read_scope = Scope.NETWORK_READ
    write_scope = Scope.NETWORK_WRITE
    queryset = Chargestation.objects.none()
    serializer_class = ChargestationSerializer
    filterset_class = ChargestationFilter
    ordering_fields = {**NAME_ORDERING, "endpoint": "endpoint"}

    def get_queryset(self) -> QuerySet[Chargestation]:
        return selectors.chargestation_list(organization=self.organization)

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = services.chargestation_create(
            organization=self.organization, **serializer.validated_data
        )

    def perform_update(self, serializer: Any) -> None:
        services.chargestation_update(chargestation=serializer.instance, data=serializer.validated_data)

    def perform_destroy(self, instance: Chargestation) -> None:
        services.chargestation_delete(chargestation=instance)

    @extend_schema(
        summary="Generate the chargestation's authorization key; the answer shows it, once",
        description="The charger connects to `wss://<host>/ocpp/<endpoint>` with HTTP Basic authentication: "
        "user the station's `endpoint`, password this key (OCPP security profiles 1 and 2; OCPP 1.6's "
        "`AuthorizationKey` configuration key takes the key's UTF-8 bytes in hex, OCPP 2.0.1's "
        "`BasicAuthPassword` the key as it is). Only a hash is kept: the key is in this answer only. "
        "A new key replaces the old one, which no longer connects; a charger connected with it stays "
        "connected until it reconnects. Raises no webhook event.",
        request=None,
        responses={
            201: AuthorizationKeySerializer,
            404: OpenApiResponse(DetailSerializer, "No such chargestation in this organization."),
        },
    )
    @action(detail=True, methods=["post"], url_path="authorization-key")
    def authorization_key(self, request: Request, **kwargs: Any) -> Response:
        key = services.chargestation_authorization_key_generate(
            chargestation=self.get_object(), actor=actor_of(request)
        )
        answer = AuthorizationKeySerializer({"authorizationKey": key}).data
        return Response(answer, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})


@extend_schema(tags=["connectors"])
class ConnectorViewSet(OrganizationScopedViewSet):
    """Connectors: the plugs of a chargestation."""

    read_scope = Scope.NETWORK_READ
    write_scope = Scope.NETWORK_WRITE
    queryset = Connector.objects.none()
    serializer_class = ConnectorSerializer
    filterset_class = ConnectorFilter
    ordering_fields = {
        "createdAt": "created_at",
        "updatedAt": "updated_at",
        "connector_number": "connector_number",
    }

    def get_queryset(self) -> QuerySet[Connector]:
        return selectors.connector_list(organization=self.organization)

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = services.connector_create(**serializer.validated_data)

    def perform_update(self, serializer: Any) -> None:
        services.connector_update(connector=serializer.instance, data=serializer.validated_data)

    def perform_destroy(self, instance: Connector) -> None:
        services.connector_delete(connector=instance)


@extend_schema(tags=["rates"])
@extend_schema_view(
    create=extend_schema(description="`price_components`: at most one of each type."),
    update=extend_schema(description="`price_components`, when given, replace the rate's whole set."),
    partial_update=extend_schema(description="`price_components`, when given, replace the rate's whole set."),
)
class RateViewSet(OrganizationScopedViewSet):
    """Rates (tariffs) and their price components."""

    read_scope = Scope.NETWORK_READ
    write_scope = Scope.NETWORK_WRITE
    queryset = Rate.objects.none()
    serializer_class = RateSerializer
    filterset_class = RateFilter
    ordering_fields = NAME_ORDERING

    def get_queryset(self) -> QuerySet[Rate]:
        return selectors.rate_list(organization=self.organization)

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = services.rate_create(
            organization=self.organization, **serializer.validated_data
        )

    def perform_update(self, serializer: Any) -> None:
        services.rate_update(rate=serializer.instance, data=serializer.validated_data)

    def perform_destroy(self, instance: Rate) -> None:
        services.rate_delete(rate=instance)
