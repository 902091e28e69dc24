"""The dashboard's pages (Django templates, session login), included at the site's root.

An endpoint's page is /developers/webhooks/<id>/; alert emails link to it without the trailing
slash (webhooks.delivery.alerts), which CommonMiddleware's APPEND_SLASH redirects.
"""

from django.contrib.auth.views import LogoutView
from django.urls import path, re_path

from chargestations.views import ChargestationDetailView, ChargestationListView, LocationListView
from edrv_project.overview import OverviewView
from organizations.views import (
    ApiKeyRevokeView,
    ApiKeysView,
    AuditLogView,
    DashboardLoginView,
    MemberRemoveView,
    MemberRoleView,
    MembersView,
)
from sessions_app.views import SessionListView
from webhooks.dashboard import views as webhooks
from webhooks.dashboard.deliveries import DeliveryDetailView, DeliveryLiveView
from webhooks.dashboard.event_log import EventLogView
from webhooks.dashboard.event_types import EventTypeDetailView, EventTypeListView

ENDPOINT = r"^developers/webhooks/(?P<wh_id>wh_[0-9A-Za-z]+)/"
ENDPOINT_ACTIONS = {
    "rotate-secret": webhooks.EndpointRotateSecretView,
    "send-test": webhooks.EndpointSendTestView,
    "disable": webhooks.EndpointDisableView,
    "enable": webhooks.EndpointEnableView,
    "delete": webhooks.EndpointDeleteView,
    "recover": webhooks.EndpointRecoverView,
}

urlpatterns = [
    path("", OverviewView.as_view(), name="overview"),
    path("login/", DashboardLoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("locations/", LocationListView.as_view(), name="locations"),
    path("chargestations/", ChargestationListView.as_view(), name="chargestations"),
    re_path(
        r"^chargestations/(?P<station_id>[0-9A-Za-z]{1,40})/$",
        ChargestationDetailView.as_view(),
        name="chargestation",
    ),
    path("sessions/", SessionListView.as_view(), name="sessions"),
    path("developers/api-keys/", ApiKeysView.as_view(), name="api-keys"),
    # Database ids: at most 18 digits, so that a longer one is a 404 rather than an out-of-range query.
    re_path(
        r"^developers/api-keys/(?P<key_id>[0-9]{1,18})/revoke$",
        ApiKeyRevokeView.as_view(),
        name="api-key-revoke",
    ),
    path("members/", MembersView.as_view(), name="members"),
    path("audit-log/", AuditLogView.as_view(), name="audit-log"),
    re_path(r"^members/(?P<member_id>[0-9]{1,18})/role$", MemberRoleView.as_view(), name="member-role"),
    re_path(r"^members/(?P<member_id>[0-9]{1,18})/remove$", MemberRemoveView.as_view(), name="member-remove"),
    # Names start with "dashboard-": the API's router already names "webhook-list" and the like.
    path("developers/webhooks/", webhooks.EndpointListView.as_view(), name="dashboard-webhooks"),
    path("developers/webhooks/new", webhooks.EndpointCreateView.as_view(), name="dashboard-webhook-new"),
    path("developers/event-types/", EventTypeListView.as_view(), name="dashboard-event-types"),
    path("developers/events/", EventLogView.as_view(), name="dashboard-events"),
    path(
        "developers/event-types/<str:type_name>", EventTypeDetailView.as_view(), name="dashboard-event-type"
    ),
    re_path(ENDPOINT + "$", webhooks.EndpointDetailView.as_view(), name="dashboard-webhook"),
    re_path(ENDPOINT + "edit$", webhooks.EndpointEditView.as_view(), name="dashboard-webhook-edit"),
    re_path(ENDPOINT + "secret$", webhooks.EndpointSecretView.as_view(), name="dashboard-webhook-secret"),
    *(
        re_path(ENDPOINT + f"{action}$", view.as_view(), name=f"dashboard-webhook-{action}")
        for action, view in ENDPOINT_ACTIONS.items()
    ),
    re_path(ENDPOINT + "live$", DeliveryLiveView.as_view(), name="dashboard-webhook-live"),
    re_path(
        ENDPOINT + r"deliveries/(?P<delivery_id>[0-9]{1,18})/$",
        DeliveryDetailView.as_view(),
        name="dashboard-webhook-delivery",
    ),
    re_path(
        ENDPOINT + r"deliveries/(?P<delivery_id>[0-9]{1,18})/resend$",
        webhooks.DeliveryResendView.as_view(),
        name="dashboard-webhook-resend",
    ),
]
