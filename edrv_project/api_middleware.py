"""JSON answers under /api/ for what no API view gets to answer, hostile input first.

- A body larger than DATA_UPLOAD_MAX_MEMORY_SIZE is a 413, refused on its Content-Length before it is read
  (DRF's JSON parser reads the stream itself, past Django's own check of that setting).
- A JSON body nested deeper than MAX_JSON_DEPTH is a 400. Python's parser raises RecursionError somewhere
  below a thousand levels, which DRF does not catch (a 500); and a body just short of that would reach
  the views' recursive code. No field of the API nests anywhere near this deep.
- A path that is no route is a 404 in JSON, with DEBUG on too (Django's debug page otherwise).

Each answer is `{"detail": "..."}`, as DRF's own errors are.
"""

import json
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from edrv_project.json_bounds import json_depth

API_PREFIX = "/api/"
MAX_JSON_DEPTH = 64

NOT_FOUND = "Not found: no such API route. The routes are listed at /api/docs/."
TOO_DEEP = f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels."


def too_large_message() -> str:
    return f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."


class ApiInputMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(API_PREFIX):
            return self.get_response(request)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if _content_length(request) > limit:
            return JsonResponse({"detail": too_large_message()}, status=413)
        if _is_json(request):
            # Read here (DRF reads it again from memory): the length is checked once more for a body sent
            # without Content-Length, which an ASGI server hands over whole.
            if len(request.body) > limit:
                return JsonResponse({"detail": too_large_message()}, status=413)
            if json_too_deep(request.body):
                return JsonResponse({"detail": TOO_DEEP}, status=400)
        response = self.get_response(request)
        # Django's own 404 (no route matched) is a page; an API view's 404 is JSON already.
        if response.status_code == 404 and not _is_json_response(response):
            return JsonResponse({"detail": NOT_FOUND}, status=404)
        return response


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _is_json_response(response: HttpResponse) -> bool:
    return response.get("Content-Type", "").startswith("application/json")


def _is_json(request: HttpRequest) -> bool:
    media_type = request.content_type or ""
    return media_type == "application/json" or media_type.endswith("+json")


def json_too_deep(body: bytes) -> bool:
    """Whether `body`, read as JSON, nests arrays and objects deeper than MAX_JSON_DEPTH.

    A body that is not JSON is not too deep: the view's parser says what is wrong with it.
    """
    # A body without that many brackets cannot nest that deep: most are answered without parsing.
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return False
    try:
        value = json.loads(body)
    except RecursionError:
        return True
    except ValueError:
        return False
    return json_depth(value) > MAX_JSON_DEPTH
