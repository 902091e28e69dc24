"""`/api/v1/users` (drivers) and `/api/v1/sessions`: parse, call a selector or a service."""

from typing import Any

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from organizations.api import Conflict, OrganizationScopedViewSet
from organizations.models import Scope
from sessions_app import selectors, services
from sessions_app.chargers import SessionNotRunning
from sessions_app.models import Driver, Session, SessionStatus
from sessions_app.serializers import DriverSerializer, SessionSerializer


class DriverFilter(filters.FilterSet):
    email = filters.CharFilter(lookup_expr="iexact")
    token = filters.CharFilter(field_name="id_tags__token", help_text="Drivers holding this id tag.")

    class Meta:
        model = Driver
        fields = ["active", "email", "token"]


CEILINGS_HELP = (
    "`ceilings` (`energy` Wh, `time` seconds, `cost` in the session's currency) stop the session: "
    "when metering reaches one, `session.stop_<energy|time|cost>_ceiling_exceeded` is raised once and "
    "the chargestation is asked to stop. They are replaced whole (null or {} removes them) and fixed "
    "once the session is over. A ceiling set below what is already metered is reached at the next "
    "meter value (a time ceiling also by the periodic check, within `OCPP_CEILINGS_CHECK_INTERVAL`)."
)


class SessionFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=SessionStatus.choices)
    user = filters.CharFilter(field_name="driver__public_id", help_text="A user's _id.")
    chargestation = filters.CharFilter(
        field_name="chargestation__public_id", help_text="A chargestation's _id."
    )
    connector = filters.CharFilter(field_name="connector__public_id", help_text="A connector's _id.")
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Session
        fields = ["status", "user", "chargestation", "connector", "id_tag"]


@extend_schema(tags=["users"])
@extend_schema_view(
    create=extend_schema(description="`id_tags`: tokens unique in the organization."),
    update=extend_schema(description="`id_tags`, when given, replace the user's whole set."),
    partial_update=extend_schema(description="`id_tags`, when given, replace the user's whole set."),
)
class DriverViewSet(OrganizationScopedViewSet):
    """eDRV's "users": the drivers who charge."""

    read_scope = Scope.NETWORK_READ
    write_scope = Scope.NETWORK_WRITE
    queryset = Driver.objects.none()
    serializer_class = DriverSerializer
    filterset_class = DriverFilter
    ordering_fields = {
        "createdAt": "created_at",
        "updatedAt": "updated_at",
        "last_name": "last_name",
        "email": "email",
    }

    def get_queryset(self) -> QuerySet[Driver]:
        return selectors.driver_list(organization=self.organization)

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = services.driver_create(
            organization=self.organization, **serializer.validated_data
        )

    def perform_update(self, serializer: Any) -> None:
        services.driver_update(driver=serializer.instance, data=serializer.validated_data)

    def perform_destroy(self, instance: Driver) -> None:
        services.driver_delete(driver=instance)


@extend_schema(tags=["sessions"])
@extend_schema_view(
    create=extend_schema(
        description="Starts charging: the session is created and its chargestation is sent a remote "
        "start. `session.started` follows, or `session.start_failure` (offline, refused, no answer), "
        "or `session.cancelled` when charging does not start within 120 seconds. " + CEILINGS_HELP
    ),
    update=extend_schema(description=CEILINGS_HELP),
    partial_update=extend_schema(description=CEILINGS_HELP),
)
class SessionViewSet(OrganizationScopedViewSet):
    """Charging sessions. Status, metering and cost are written by the charger gateway."""

    read_scope = Scope.NETWORK_READ
    write_scope = Scope.NETWORK_WRITE
    queryset = Session.objects.none()
    serializer_class = SessionSerializer
    filterset_class = SessionFilter

    def get_queryset(self) -> QuerySet[Session]:
        return selectors.session_list(organization=self.organization)

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = services.session_remote_start(
            organization=self.organization, **serializer.validated_data
        )

    @extend_schema(
        request=None,
        responses={202: SessionSerializer},
        description="Sends the chargestation a remote stop. `session.ended` follows, or "
        "`session.stop_failure` (offline, refused, no answer). 409 unless the session is started.",
    )
    @action(detail=True, methods=["post"])
    def stop(self, request: Request, **kwargs: Any) -> Response:
        try:
            session = services.session_remote_stop(session=self.get_object())
        except SessionNotRunning as exc:
            raise Conflict(detail=str(exc)) from exc
        return Response(self.get_serializer(session).data, status=status.HTTP_202_ACCEPTED)

    def perform_update(self, serializer: Any) -> None:
        serializer.instance = services.session_update(
            session=serializer.instance, data=serializer.validated_data
        )

    def perform_destroy(self, instance: Session) -> None:
        services.session_delete(session=instance)
