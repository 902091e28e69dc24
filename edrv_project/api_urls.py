from django.urls import re_path
from rest_framework.routers import SimpleRouter

from chargestations.api import ChargestationViewSet, ConnectorViewSet, LocationViewSet, RateViewSet
from organizations.api import ApiKeyViewSet, AuditLogViewSet, OrganizationView
from sessions_app.api import DriverViewSet, SessionViewSet

# Routes answer with and without a trailing slash (eDRV documents them without). The constructor
# only knows "/" or "" (SimpleRouter(trailing_slash="/?") silently means "/"); the attribute is
# a regex fragment, so set it afterwards.
router = SimpleRouter()
router.trailing_slash = "/?"
router.register("locations", LocationViewSet, basename="location")
router.register("chargestations", ChargestationViewSet, basename="chargestation")
router.register("connectors", ConnectorViewSet, basename="connector")
router.register("rates", RateViewSet, basename="rate")
router.register("users", DriverViewSet, basename="user")
router.register("sessions", SessionViewSet, basename="session")
router.register("api-keys", ApiKeyViewSet, basename="api-key")
router.register("audit-log", AuditLogViewSet, basename="audit-log")

urlpatterns = [
    re_path(r"^organization/?$", OrganizationView.as_view(), name="organization"),
    *router.urls,
]
