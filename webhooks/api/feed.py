"""`GET /api/v1/events/feed`: the organization's events after one, oldest first, for clients that cannot
receive webhooks; with `wait`, a long poll.

Query: `after` (an event id; empty: from the oldest event kept; absent: from the newest event),
`wait` (whole seconds, 0 to 30, default 0), `limit` (1 to 500, default 100), `types` (comma-separated
event types, default all). Answer: `{"events": [...], "next": "<the id to pass as after>"}`, each
event's envelope byte for byte as its webhooks send it (without their headers).

Scoped like `/events`: an API key with `webhooks:read` of a Starter (or higher) organization, which
sees its own events only, throttled as every API call. The checks are DRF's, with the API's own
classes, run on one of the feed's database threads (`EventFeedChecks`); the waiting is an async
view that holds no thread (webhooks.feed.waiting). Under uvicorn it is served by
edrv_project.waiting, without the project's sync middleware, which would hold a thread per request
for as long as it waits; any other handler answers the same, holding a thread meanwhile.
"""

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.response import SimpleTemplateResponse
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from organizations.models import ApiKey, Scope
from organizations.permissions import HasOrganization, HasScope
from webhooks.api.views import WebhooksPlan
from webhooks.endpoints.validation import event_type_problem
from webhooks.feed.hub import hub
from webhooks.feed.selectors import Page, Position, feed_position, feed_read
from webhooks.feed.threads import REQUESTS
from webhooks.feed.waiting import feed_wait

MAX_WAIT = 30
MAX_LIMIT = 500
DEFAULT_LIMIT = 100
UNKNOWN_AFTER = (
    "No event with this id in this organization (or no longer kept: see WEBHOOKS_RETENTION_DAYS). "
    "Leave out `after` to start at the newest event, or pass it empty to start at the oldest kept."
)


class FeedQuerySerializer(serializers.Serializer):
    after = serializers.CharField(required=False, allow_blank=True)
    wait = serializers.IntegerField(required=False, default=0, min_value=0, max_value=MAX_WAIT)
    limit = serializers.IntegerField(required=False, default=DEFAULT_LIMIT, min_value=1, max_value=MAX_LIMIT)
    types = serializers.CharField(required=False, allow_blank=True)

    def validate_types(self, value: str) -> list[str]:
        names = sorted({name.strip() for name in value.split(",") if name.strip()})
        if problems := [problem for name in names if (problem := event_type_problem(name))]:
            raise serializers.ValidationError(problems)
        return names


@dataclass(frozen=True)
class Feed:
    """A feed request that passed the checks: what to read, and how long to wait for it."""

    organization_id: int
    position: Position
    types: list[str]
    limit: int
    wait: int


class _Checked(HttpResponse):
    # Never sent: DRF's dispatch returns a response, so the checks that pass return this one, which
    # carries the request and its first read on to the waiting part.
    def __init__(self, feed: Feed, page: Page) -> None:
        super().__init__()
        self.feed, self.page = feed, page


class EventFeedChecks(APIView):
    """The synchronous part of the feed: API key, scope, plan, throttle, parameters, starting point,
    and the first read."""

    permission_classes = [HasOrganization, HasScope, WebhooksPlan]
    read_scope = Scope.WEBHOOKS_READ
    write_scope = Scope.WEBHOOKS_WRITE  # no method writes; declared as on every webhooks route

    def get(self, request: Request) -> HttpResponse:
        given = FeedQuerySerializer(data=request.query_params)
        given.is_valid(raise_exception=True)
        params: dict[str, Any] = given.validated_data
        api_key: ApiKey = request.auth  # type: ignore[assignment]
        position = feed_position(organization_id=api_key.organization_id, after=params.get("after"))
        if position is None:
            raise serializers.ValidationError({"after": [UNKNOWN_AFTER]})
        feed = Feed(
            api_key.organization_id, position, params.get("types", []), params["limit"], params["wait"]
        )
        page = feed_read(
            organization_id=feed.organization_id, position=position, types=feed.types, limit=feed.limit
        )
        return _Checked(feed, page)


_checks = EventFeedChecks.as_view()


def _checked(request: HttpRequest) -> HttpResponse:
    response = _checks(request)
    if isinstance(response, SimpleTemplateResponse):  # a DRF answer (an error): rendered here, off the loop
        response.render()
    return response


async def event_feed(request: HttpRequest) -> HttpResponse:
    hub_ = hub()
    read_after = hub_.sequence  # before the first read: what it may have missed is woken after this
    checked = await REQUESTS.run(_checked, request)
    if not isinstance(checked, _Checked):
        return checked
    feed, page = checked.feed, checked.page
    if feed.wait and not page.bodies:
        page = await feed_wait(
            hub=hub_,
            first=page,
            read_after=read_after,
            organization_id=feed.organization_id,
            position=feed.position,
            types=feed.types,
            limit=feed.limit,
            wait=feed.wait,
        )
    response = HttpResponse(page.json(), content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response
