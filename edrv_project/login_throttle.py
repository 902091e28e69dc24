"""Throttled logins: django-axes counts failed logins and refuses locked-out ones (settings, AXES_*).

Every login over HTTP (the dashboard's, the admin's) passes a request to `authenticate()`, and that is what
is counted and refused. A call without one has no client to throttle (a management command, the test
client's `login()`): axes would raise; here the next backend simply decides.
"""

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest


class LoginThrottleBackend(AxesStandaloneBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)
