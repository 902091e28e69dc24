"""The network's read-only pages: locations and chargestations of the member's organization."""

from django.db.models import Count, QuerySet
from django.views.generic import ListView

from chargestations.models import Chargestation, Location
from chargestations.selectors import chargestation_list, location_list
from organizations.models import Role
from organizations.views import MemberAccessMixin

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
