"""The webhooks API's routes, included under /api/v1/. They answer with and without a trailing slash."""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from webhooks.api.event_types import EventTypeViewSet
from webhooks.api.feed import event_feed
from webhooks.api.views import DeliveryViewSet, EventViewSet, WebhookViewSet

router = SimpleRouter()
router.trailing_slash = "/?"  # as edrv_project/api_urls.py: the constructor only knows "/" or ""
router.register("webhooks", WebhookViewSet, basename="webhook")
router.register("event-types", EventTypeViewSet, basename="event-type")
router.register("events", EventViewSet, basename="event")
router.register("deliveries", DeliveryViewSet, basename="delivery")

# Before the router's, whose `events/<id>` would take "feed" for an id.
urlpatterns = [re_path(r"^events/feed/?$", event_feed, name="event-feed"), *router.urls]
