"""Django for the routes that wait (long polls), without a thread per waiting request.

Django's ASGI handler gives each request a thread of its own for its sync code, which lives as long
as the request: the project's sync middleware (ApiInputMiddleware, WhiteNoise, django-axes) put the
rest of the chain, the view included, on that thread. A long poll that waits 30 s would hold an idle
thread per waiting client. The routes of WAITING_PATHS are served by `WaitingHandler` instead:

- its only middleware is SecurityMiddleware's (HTTPS redirect, HSTS, nosniff...), the host check
  (ALLOWED_HOSTS) and CommonMiddleware's Content-Length, run on the event loop: they read the
  request and set headers, no I/O. Nothing else of the project's chain concerns these routes: they
  take no body, no cookie, no session;
- the bits Django's handler still runs in a thread per request (the request_started and
  request_finished signals) go to one thread, shared by every request it serves;
- their views are async: they run on the event loop, and send their blocking work where they want
  (webhooks.feed.threads). A waiting request is then a coroutine and a socket, nothing more.

Every other path goes to Django's own handler, as before.
"""

import re
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext, markcoroutinefunction
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponse
from django.middleware.security import SecurityMiddleware

# webhooks.api.feed's route (webhooks/api/urls.py).
WAITING_PATHS = re.compile(r"^/api/v1/events/feed/?$")

AsgiApp = Callable[
    [dict[str, Any], Callable[..., Awaitable[Any]], Callable[..., Awaitable[Any]]], Awaitable[None]
]

_signals_thread: ThreadPoolExecutor | None = None


def _one_thread() -> ThreadPoolExecutor:
    global _signals_thread
    if _signals_thread is None:
        _signals_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="waiting-routes")
    return _signals_thread


class _SecurityOnTheLoop:
    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.security = SecurityMiddleware(get_response)
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        request.get_host()  # DisallowedHost (a 400) for a host not in ALLOWED_HOSTS, as CommonMiddleware
        response = self.security.process_request(request) or await self.get_response(request)
        if not response.streaming and not response.has_header("Content-Length"):  # as CommonMiddleware
            response.headers["Content-Length"] = str(len(response.content))
        return self.security.process_response(request, response)


class WaitingHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        # BaseHandler.load_middleware, with this chain instead of settings.MIDDLEWARE (the stubs know
        # none of these attributes).
        handler: Any = self
        handler._view_middleware, handler._template_response_middleware = [], []
        handler._exception_middleware = []
        view = convert_exception_to_response(handler._get_response_async)
        handler._middleware_chain = convert_exception_to_response(_SecurityOnTheLoop(view))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        async with ThreadSensitiveContext(executor=_one_thread()):
            await self.handle(scope, receive, send)


def with_waiting_routes(django_application: AsgiApp) -> AsgiApp:
    """The HTTP application: WAITING_PATHS to a WaitingHandler, everything else to `django_application`."""
    waiting = WaitingHandler()

    async def route(scope: dict[str, Any], receive: Any, send: Any) -> None:
        handler = waiting if WAITING_PATHS.match(scope["path"]) else django_application
        await handler(scope, receive, send)

    return route
