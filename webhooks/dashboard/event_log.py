"""Developers > Events: every event of the organization, newest first, searchable by event id, type,
object id and date range, each with its data and the endpoints it went to with their outcome.

Any member of any plan reads it (events are recorded whether or not webhooks are on). Pages are
not counted: counting an organization's events, the largest table, on every visit would cost more
than the page itself; a page tells only whether another follows.
"""

import json
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views import View

from organizations.views import MemberAccessMixin
from webhooks.catalog.types import EVENT_TYPES
from webhooks.dashboard import selectors
from webhooks.models import Delivery, Event

EVENTS_PER_PAGE = 25


class EventSearchForm(forms.Form):
    """The log's search; a field that is not valid says so and is left out of the search."""

    id = forms.CharField(
        label="Event id", required=False, max_length=40, help_text="Also its webhook-id header."
    )
    type = forms.ChoiceField(
        label="Type", required=False, choices=[("", "Any type"), *((n, n) for n in EVENT_TYPES)]
    )
    object = forms.CharField(
        label="Object id",
        required=False,
        max_length=100,
        help_text="The object's _id; a chargeBoxId or transactionId for charger-protocol events.",
    )
    since = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and until < since:
            self.add_error("until", ValidationError("The end of the range comes before its start."))
        return cleaned

    def filters(self) -> dict[str, Any]:
        """The selector's arguments from the valid fields; days are whole days of the current time zone."""
        self.is_valid()  # an invalid field is left out of cleaned_data, and shows its error
        data = self.cleaned_data
        since, until = data.get("since"), data.get("until")
        zone = timezone.get_current_timezone()
        return {
            "event_id": (data.get("id") or "").strip(),
            "type_name": data.get("type") or "",
            "object_id": (data.get("object") or "").strip(),
            "since": datetime.combine(since, time.min, tzinfo=zone) if since else None,
            "before": datetime.combine(until + timedelta(days=1), time.min, tzinfo=zone) if until else None,
        }

    def query(self) -> str:
        """The search as a query string, for the pages' links."""
        return urlencode(
            {name: value for name, value in (self.data or {}).items() if name != "page" and value}
        )


@dataclass(frozen=True)
class LoggedEvent:
    event: Event
    object_id: str
    data_json: str

    @property
    def deliveries(self) -> list[Delivery]:
        return list(self.event.deliveries.all())  # prefetched by the selector


@dataclass(frozen=True)
class EventPage:
    """A page of a list that is not counted: what the pagination include needs, but the total."""

    object_list: list[LoggedEvent]
    number: int
    has_next: bool

    def has_previous(self) -> bool:
        return self.number > 1

    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous()

    def previous_page_number(self) -> int:
        return self.number - 1

    def next_page_number(self) -> int:
        return self.number + 1


def _page_number(raw: str | None) -> int:
    return int(raw) if raw and raw.isdecimal() and len(raw) <= 6 and int(raw) > 0 else 1


class EventLogView(MemberAccessMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        form = EventSearchForm(request.GET)
        filters = form.filters()
        number = _page_number(request.GET.get("page"))
        start = (number - 1) * EVENTS_PER_PAGE
        # One more than a page: whether a next page exists, without counting them all.
        events = list(
            selectors.event_log(organization=self.organization, **filters)[
                start : start + EVENTS_PER_PAGE + 1
            ]
        )
        page = EventPage(
            object_list=[
                LoggedEvent(
                    event=event,
                    object_id=selectors.event_object_id(event.data),
                    data_json=json.dumps(event.data, indent=2, ensure_ascii=False),
                )
                for event in events[:EVENTS_PER_PAGE]
            ],
            number=number,
            has_next=len(events) > EVENTS_PER_PAGE,
        )
        context = self.member_context(
            form=form,
            page=page,
            query=form.query(),
            searching=any(filters.values()),
            retention_days=settings.WEBHOOKS_RETENTION_DAYS,
            time_zone=timezone.get_current_timezone_name(),
        )
        return render(request, "webhooks/events.html", context)
