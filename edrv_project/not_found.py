"""The product's 404 page under DEBUG too (`make run`), for pages; the API answers its own JSON 404.

With DEBUG on, Django answers a path that no route matches (and any Http404) with its technical page,
which lists every URL pattern of the site: not what a person who mistyped a link should read, nor what
a product shows. This renders templates/404.html instead, as Django itself does with DEBUG off
(`django.views.defaults.page_not_found`). Paths under /api/ are left to ApiInputMiddleware's JSON.
"""

from collections.abc import Callable

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.defaults import page_not_found

from edrv_project.api_middleware import API_PREFIX


class ProductNotFoundMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            settings.DEBUG
            and response.status_code == 404
            and not request.path_info.startswith(API_PREFIX)
            and response.get("Content-Type", "").startswith("text/html")
        ):
            return page_not_found(request, Http404())
        return response
