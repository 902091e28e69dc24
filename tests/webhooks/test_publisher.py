"""The hint on commit, off the request path: committed event ids reach the broker at once when
idle, and in fuller tasks under a stream of commits (the publisher thread publishes at most once
per PUBLISH_INTERVAL), every event exactly once; an import's many events go to the backlog queue.

The broker is a real one: a folder (kombu's filesystem transport) of this test's own.
"""

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import transaction
from pytest_django.fixtures import Settings

from edrv_project.celery import app
from organizations.models import Organization
from tests.e2e.broker import filesystem_broker, publishing_to
from tests.factories import EndpointFactory
from webhooks.models import Event
from webhooks.outbox import publishing
from webhooks.outbox import recording as events

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    with publishing_to(app, filesystem_broker(tmp_path / "broker")):
        yield tmp_path / "broker"


def published(folder: Path, queue_name: str = "celery") -> list[list[int]] | None:
    """The event ids of each task waiting in the folder for `queue_name`; None while a message is
    half written."""
    tasks = []
    for message in sorted(folder.glob("*.msg")):
        try:
            payload = json.loads(message.read_text())
            args = json.loads(base64.b64decode(payload["body"]))[0]
        except ValueError:  # the broker is still writing this file
            return None
        if payload["properties"]["delivery_info"]["routing_key"] == queue_name:
            tasks.append(args[0])
    return tasks


def wait_for_ids(
    folder: Path, count: int, timeout: float = 10, queue_name: str = "celery"
) -> list[list[int]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tasks = published(folder, queue_name)
        if tasks is not None and sum(len(ids) for ids in tasks) >= count:
            return tasks
        time.sleep(0.01)
    raise AssertionError(f"fewer than {count} ids published within {timeout} s: {published(folder)}")


def record(organization: Organization) -> None:
    with transaction.atomic():
        events.events_record(organization_id=organization.pk, items=[("location.created", {"name": "x"})])


def test_an_idle_process_publishes_a_commit_at_once(organization: Organization, folder: Path) -> None:
    EndpointFactory.create(organization=organization, events=["location.created"])
    time.sleep(publishing.PUBLISH_INTERVAL * 2)  # idle

    committed = time.monotonic()
    record(organization)
    [task] = wait_for_ids(folder, 1)

    assert time.monotonic() - committed < publishing.PUBLISH_INTERVAL + 0.5
    assert task == list(Event.objects.values_list("pk", flat=True))


def test_a_stream_of_commits_shares_tasks_and_loses_no_event(
    organization: Organization, folder: Path
) -> None:
    EndpointFactory.create(organization=organization, events=["location.created"])

    started = time.monotonic()
    for _ in range(30):
        record(organization)
    took = time.monotonic() - started
    tasks = wait_for_ids(folder, 30)

    sent = sorted(pk for ids in tasks for pk in ids)
    assert sent == sorted(Event.objects.values_list("pk", flat=True))  # each once
    # At most one publish per interval while the commits kept coming, plus the one after.
    assert len(tasks) <= took / publishing.PUBLISH_INTERVAL + 2, (len(tasks), took)


def test_a_rolled_back_transaction_publishes_nothing_not_even_later(
    organization: Organization, folder: Path
) -> None:
    EndpointFactory.create(organization=organization, events=["location.created"])

    with pytest.raises(RuntimeError), transaction.atomic():
        events.events_record(organization_id=organization.pk, items=[("location.created", {"name": "gone"})])
        raise RuntimeError("rolled back")
    record(organization)  # the next transaction of the same thread

    [task] = wait_for_ids(folder, 1)
    assert task == list(Event.objects.values_list("pk", flat=True))  # only the committed one


def test_an_import_goes_to_the_backlog_queue_and_fresh_events_do_not_wait_behind_it(
    organization: Organization, folder: Path, settings: Settings
) -> None:
    settings.WEBHOOKS_BATCH_SIZE = 10
    with transaction.atomic():
        events.events_record(
            organization_id=organization.pk, items=[("location.created", {"name": "i"})] * 25
        )
    record(organization)

    backlog = wait_for_ids(folder, 25, queue_name=settings.WEBHOOKS_BACKLOG_QUEUE)
    [fresh] = wait_for_ids(folder, 1)
    assert sorted(len(ids) for ids in backlog) == [5, 10, 10]
    assert fresh == [Event.objects.latest("id").pk]
