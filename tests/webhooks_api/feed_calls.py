"""Calling `GET /api/v1/events/feed` in tests: through the project's ASGI application in-process, or
over TCP to a real server; and the events to expect, as the bytes their webhooks send.

The feed reads on threads of its own, with connections of their own: tests commit what it is to
see (`django_db(transaction=True)`), and `feed_threads_closed` closes those connections after each
test, so that the test database can be dropped at the end.

A call that waits runs in a thread of its own (`in_background`), while the test's thread commits
the events it waits for.
"""

import asyncio
import http.client
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from channels.testing import HttpCommunicator
from django.db import transaction

from edrv_project.asgi import application
from organizations.models import Organization, Scope
from organizations.services import api_key_create
from webhooks.catalog.payloads import body
from webhooks.feed.threads import feed_threads_stop
from webhooks.models import Event
from webhooks.outbox import recording

T = TypeVar("T")
FEED = "/api/v1/events/feed"


@dataclass(frozen=True)
class Answer:
    status: int
    content: bytes
    seconds: float  # from the call to its answer

    def json(self) -> Any:
        return json.loads(self.content)


def key_for(organization: Organization, scopes: list[str] | None = None) -> str:
    return api_key_create(organization=organization, scopes=scopes or [Scope.WEBHOOKS_READ])[1]


async def _asgi_call(method: str, path: str, key: str | None, timeout: float) -> Answer:
    headers = [(b"host", b"127.0.0.1")]
    if key is not None:
        headers.append((b"authorization", f"Bearer {key}".encode()))
    started = time.monotonic()
    response = await HttpCommunicator(application, method, path, headers=headers).get_response(
        timeout=timeout
    )
    return Answer(response["status"], response["body"], time.monotonic() - started)


def asgi_get(path: str, key: str | None, timeout: float = 40, method: str = "GET") -> Answer:
    """GET (or `method`) `path` from the project's ASGI application (edrv_project.asgi), in-process."""
    return asyncio.run(_asgi_call(method, path, key, timeout))


def asgi_get_all(paths: list[str], key: str, timeout: float = 40) -> list[Answer]:
    """GET every path at once, in one event loop (as many clients of one web process)."""

    async def calls() -> list[Answer]:
        return list(await asyncio.gather(*(_asgi_call("GET", path, key, timeout) for path in paths)))

    return asyncio.run(calls())


def http_get(port: int, path: str, key: str, timeout: float = 40) -> Answer:
    """GET `path` from a server on 127.0.0.1:`port`, over TCP."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    started = time.monotonic()
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {key}"})
        response = connection.getresponse()
        return Answer(response.status, response.read(), time.monotonic() - started)
    finally:
        connection.close()


_background = ThreadPoolExecutor(max_workers=64, thread_name_prefix="feed-test-call")


def in_background(call: Callable[..., T], *args: Any, **kwargs: Any) -> "Future[T]":
    return _background.submit(call, *args, **kwargs)


def record(organization: Organization, type_name: str = "location.created", data: Any = None) -> Event:
    """One event of the organization, committed."""
    with transaction.atomic():
        [event] = recording.events_record(
            organization_id=organization.pk, items=[(type_name, data or {"name": "Depot"})]
        )
    return event


def page(events: list[Event], next_id: str) -> bytes:
    """The feed's answer for these events: each envelope byte for byte as its webhooks send it (the
    sender's, from the stored event: PostgreSQL's jsonb keeps its own order of keys)."""
    bodies = [body(Event.objects.get(pk=event.pk)) for event in events]
    return b'{"events":[' + b",".join(bodies) + b'],"next":' + json.dumps(next_id).encode() + b"}"


@pytest.fixture
def feed_threads_closed() -> Iterator[None]:
    yield
    feed_threads_stop()
