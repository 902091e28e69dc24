"""The charging sessions page (read-only) of the member's organization, newest first."""

from django.db.models import QuerySet
from django.views.generic import ListView

from organizations.models import Role
from organizations.views import MemberAccessMixin
from sessions_app.models import Session
from sessions_app.selectors import session_list

PAGE_SIZE = 50


class SessionListView(MemberAccessMixin, ListView):
    read_role = Role.VIEWER  # every member reads; the network is changed through the API
    template_name = "dashboard/sessions.html"
    context_object_name = "sessions"
    paginate_by = PAGE_SIZE

    def get_queryset(self) -> QuerySet[Session]:
        return session_list(organization=self.organization).order_by("-created_at", "-pk")
