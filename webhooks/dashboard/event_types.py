"""The dashboard's event catalog: every type by category, and per type the schema and an example.

The same catalog, JSON Schema and example as `GET /api/v1/event-types[/:type]` (webhooks.schemas.envelopes),
for any member of any plan: reading what would be sent changes nothing.
"""

import json
from itertools import groupby
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import View

from organizations.views import MemberAccessMixin
from webhooks.catalog.types import EVENT_TYPES, Category
from webhooks.schemas.envelopes import event_example, event_schema


class EventTypeListView(MemberAccessMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        order = list(Category)  # the catalog's own order of categories
        ordered = sorted(EVENT_TYPES.values(), key=lambda t: order.index(t.category))
        categories = [
            (category, list(types)) for category, types in groupby(ordered, key=lambda t: t.category)
        ]
        return render(request, "webhooks/event_types.html", self.member_context(categories=categories))


class EventTypeDetailView(MemberAccessMixin, View):
    def get(self, request: HttpRequest, type_name: str) -> HttpResponse:
        event_type = EVENT_TYPES.get(type_name)
        if event_type is None:
            raise Http404("No event type of this name.")
        context: dict[str, Any] = self.member_context(
            event_type=event_type,
            schema_json=json.dumps(event_schema(type_name), indent=2),
            example_json=json.dumps(
                event_example(organization=self.organization, type_name=type_name), indent=2
            ),
        )
        return render(request, "webhooks/event_type.html", context)
