"""The network's pages: locations and chargestations of the member's organization, and a station's
page, where a developer generates the key its charger connects with."""

from typing import Any

from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views import View
from django.views.generic import ListView

from chargestations.authorization_keys import authorization_key_hex
from chargestations.models import Chargestation, Location
from chargestations.selectors import chargestation_list, location_list
from chargestations.services import chargestation_authorization_key_generate
from organizations.audit import actor_of
from organizations.models import Role
from organizations.views import MemberAccessMixin

# Where the charger gateway (ocpp_gateway.routing, a layer above this app) takes chargers in.
OCPP_PATH = "/ocpp/"

PAGE_SIZE = 50


class LocationListView(MemberAccessMixin, ListView):
    read_role = Role.VIEWER  # every member reads; the network is changed through the API
    template_name = "dashboard/locations.html"
    context_object_name = "locations"
    paginate_by = PAGE_SIZE

    def get_queryset(self) -> QuerySet[Location]:
        return (
            location_list(organization=self.organization)
            .annotate(chargestation_count=Count("chargestations"))
            .order_by("name", "pk")
        )


class ChargestationListView(MemberAccessMixin, ListView):
    read_role = Role.VIEWER  # every member reads; the network is changed through the API
    template_name = "dashboard/chargestations.html"
    context_object_name = "chargestations"
    paginate_by = PAGE_SIZE

    def get_queryset(self) -> QuerySet[Chargestation]:
        return chargestation_list(organization=self.organization).order_by("location__name", "name", "pk")


class ChargestationDetailView(MemberAccessMixin, View):
    """A station, its connectors and how its charger connects. A developer generates its authorization
    key here: the key is in that POST's answer only (only its hash is kept)."""

    read_role = Role.VIEWER
    change_role = Role.DEVELOPER
    template_name = "dashboard/chargestation.html"

    def get(self, request: HttpRequest, station_id: str) -> HttpResponse:
        return self._render(self._station(station_id))

    def post(self, request: HttpRequest, station_id: str) -> HttpResponse:
        station = self._station(station_id)
        key = chargestation_authorization_key_generate(chargestation=station, actor=actor_of(request))
        return self._render(station, authorization_key=key, authorization_key_hex=authorization_key_hex(key))

    def _station(self, station_id: str) -> Chargestation:
        return get_object_or_404(chargestation_list(organization=self.organization), public_id=station_id)

    def _render(self, station: Chargestation, **extra: Any) -> HttpResponse:
        scheme = "wss" if self.request.is_secure() else "ws"
        connect_url = f"{scheme}://{self.request.get_host()}{OCPP_PATH}{station.endpoint}"
        context = self.member_context(
            station=station,
            connect_url=connect_url,
            can_generate=self.membership.has_role(self.change_role),
            **extra,
        )
        response = render(self.request, self.template_name, context)
        # A key may be on this page: never keep it in a cache.
        response["Cache-Control"] = "no-store"
        return response
