"""The dashboard's home: a glance at the whole organization, composed from every app's selectors."""

from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone
from django.views.generic import TemplateView

from chargestations.selectors import chargestation_list, location_list
from organizations.models import Organization
from organizations.views import MemberAccessMixin
from sessions_app.selectors import session_list
from webhooks.dashboard.activity import event_volume_by_type
from webhooks.dashboard.charts import event_volume_charts


def _start_of_today(organization: Organization) -> datetime:
    # "Today" is the operator's day, not UTC's.
    try:
        zone = ZoneInfo(organization.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.combine(timezone.now().astimezone(zone).date(), time.min, tzinfo=zone)


class OverviewView(MemberAccessMixin, TemplateView):
    template_name = "dashboard/overview.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        stations = chargestation_list(organization=self.organization).order_by()
        return super().get_context_data(
            locations=location_list(organization=self.organization).count(),
            chargestations=stations.count(),
            chargestations_online=stations.filter(online=True).count(),
            sessions_today=session_list(organization=self.organization)
            .filter(created_at__gte=_start_of_today(self.organization))
            .count(),
            event_charts=event_volume_charts(event_volume_by_type(organization=self.organization)),
            **kwargs,
        )
