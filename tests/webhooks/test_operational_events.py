"""Operational events (`webhook.*`, `delivery.exhausted`): each raised once, where its change happens and
in the change's transaction, carrying the webhook or the delivery, never a secret.

Deliveries run in this process against a real HTTP receiver on 127.0.0.1 (tests/pipeline.py); the
end-to-end path through a real worker is tests/e2e/test_operational_e2e.py.
"""

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, transaction
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from chargestations.models import Chargestation
from organizations.models import Organization
from tests.e2e.receiver import Receiver, ok, sequence, status
from tests.factories import EndpointFactory
from tests.pipeline import deliver_waiting
from webhooks.catalog.types import OPERATIONAL
from webhooks.delivery import sending
from webhooks.endpoints.services import (
    DISABLED_BY_USER,
    endpoint_create,
    endpoint_delete,
    endpoint_update,
)
from webhooks.models import Attempt, Delivery, DeliveryStatus, Endpoint, Event

pytestmark = pytest.mark.django_db

CREDENTIAL = "customer-credential-0123456789"  # a custom header's value: never in an event


def news(*types: str) -> list[Event]:
    """The operational events recorded so far (of these types), oldest first."""
    return list(Event.objects.filter(type__in=types or OPERATIONAL).order_by("id"))


def secret_free(event: Event, endpoint: Endpoint) -> bool:
    sent = json.dumps(event.data)
    return endpoint.secret not in sent and CREDENTIAL not in sent and "secret" not in event.data


def register(organization: Organization, **fields: Any) -> Endpoint:
    given: dict[str, Any] = {
        "url": "https://example.com/hooks/edrv",
        "events": ["session.started"],
        "headers": {"X-Api-Key": CREDENTIAL},
        **fields,
    }
    return endpoint_create(organization=organization, **given)


def turns(times: int) -> None:
    """`times` worker turns of one attempt each: a new event is fanned out and sent, or else the
    retry that is due (the schedules here make each due at once) is sent."""
    for _ in range(times):
        if not sending.events_deliver():
            sending.deliveries_send()


def dying_endpoint(receiver: Receiver, station: Chargestation, *answers: Any) -> Endpoint:
    """An endpoint of the network's events whose receiver answers `answers` (the last repeating),
    with an event on its way to it."""
    endpoint = EndpointFactory.create(
        organization=station.organization, url=receiver.url("/a"), headers={"x-api-key": CREDENTIAL}
    )
    receiver.expect_secrets("/a", [endpoint.secret])
    receiver.behave("/a", sequence(list(answers)))
    station.active = not station.active
    station.save()
    return endpoint


def test_registering_a_webhook_raises_webhook_created_with_what_the_api_shows_but_no_secret(
    organization: Organization, api: APIClient
) -> None:
    # When a webhook with a custom header is registered
    endpoint = register(organization)

    # Then one webhook.created carries it as the API shows it: headers by name, no secret
    [created] = news()
    shown = api.get(f"/api/v1/webhooks/{endpoint.public_id}").json()
    assert created.type == "webhook.created" and created.object == "webhook"
    assert created.organization_id == organization.pk and created.ordering_key == endpoint.public_id
    assert created.data == {
        **shown,
        "headers": ["x-api-key"],
        "failingSince": None,
        "consecutiveFailures": 0,
        "lastError": None,
    }
    assert secret_free(created, endpoint)
    assert created.location_pk is None and created.chargestation_pk is None  # about no place


def test_a_registration_rolled_back_raises_nothing(organization: Organization) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        register(organization)
        raise RuntimeError("rolled back")

    assert news() == []


def test_a_change_raises_one_webhook_updated_and_no_change_raises_none(organization: Organization) -> None:
    endpoint = register(organization)

    endpoint_update(endpoint=endpoint, url="https://example.com/hooks/v2", description="Billing")
    endpoint_update(endpoint=endpoint, url="https://example.com/hooks/v2")  # the same again

    [updated] = news("webhook.updated")
    assert updated.data["url"] == "https://example.com/hooks/v2" and updated.data["description"] == "Billing"
    assert secret_free(updated, endpoint)


def test_a_user_disabling_raises_webhook_disabled_and_enabling_one_webhook_updated(
    organization: Organization,
) -> None:
    endpoint = register(organization)

    # When a user pauses it (changing its description at the same time), then enables it again
    endpoint_update(endpoint=endpoint, active=False, description="Paused for maintenance")
    endpoint_update(endpoint=endpoint, active=True, description="Back")

    # Then: the change, the disabling with its reason, and the re-enabling with its change, once each
    assert [e.type for e in news()] == [
        "webhook.created",
        "webhook.updated",
        "webhook.disabled",
        "webhook.updated",
    ]
    _, changed, disabled, enabled = news()
    assert changed.data["description"] == "Paused for maintenance" and changed.data["active"] is True
    assert disabled.data["active"] is False and disabled.data["disabledReason"] == DISABLED_BY_USER
    assert disabled.data["disabledAt"] is not None and disabled.data["lastError"] is None  # never failed
    assert enabled.data["active"] is True and enabled.data["disabledReason"] is None
    assert enabled.data["description"] == "Back"


def test_deleting_raises_webhook_deleted_with_the_webhook_as_it_was(organization: Organization) -> None:
    endpoint = register(organization, description="Old billing")
    public_id = endpoint.public_id

    endpoint_delete(endpoint=endpoint)

    [deleted] = news("webhook.deleted")
    assert deleted.data["id"] == public_id and deleted.data["description"] == "Old billing"
    assert not Endpoint.objects.filter(public_id=public_id).exists()  # the event outlives it


def test_a_410_raises_delivery_exhausted_then_webhook_disabled_with_the_last_error(
    receiver: Receiver, station: Chargestation
) -> None:
    endpoint = dying_endpoint(receiver, station, status(410, body="gone for good"))

    deliver_waiting()

    exhausted, disabled = news()
    sent = Delivery.objects.select_related("event").get(endpoint=endpoint)
    assert exhausted.type == "delivery.exhausted" and exhausted.ordering_key == endpoint.public_id
    assert exhausted.data["id"] == str(sent.pk) and exhausted.data["webhook"] == endpoint.public_id
    assert exhausted.data["event"] == {"id": sent.event.public_id, "type": "chargestation.updated"}
    assert exhausted.data["status"] == "failed" and exhausted.data["attemptCount"] == 1
    assert exhausted.data["lastStatusCode"] == 410
    assert exhausted.data["lastError"]["statusCode"] == 410
    assert exhausted.data["lastError"]["responseExcerpt"] == "gone for good"
    assert disabled.type == "webhook.disabled" and disabled.data["active"] is False
    assert disabled.data["disabledReason"] == "The endpoint answered 410 Gone."
    assert disabled.data["lastError"]["statusCode"] == 410
    assert secret_free(exhausted, endpoint) and secret_free(disabled, endpoint)


def test_a_failure_streak_raises_webhook_failing_with_its_warning_then_webhook_disabled(
    receiver: Receiver, station: Chargestation, settings: Settings
) -> None:
    settings.WEBHOOKS_RETRY_SCHEDULE = [0] * 10
    settings.WEBHOOKS_WARN_AFTER, settings.WEBHOOKS_WARN_MIN_FAILURES = 0, 2
    settings.WEBHOOKS_DISABLE_AFTER, settings.WEBHOOKS_DISABLE_MIN_FAILURES = 0, 4
    endpoint = dying_endpoint(receiver, station, status(503, body="upstream is down"))

    turns(1)  # the first failure: nothing to report yet
    assert news() == []
    turns(1)  # the second: the owners are warned
    [failing] = news()
    turns(1)  # the third: still failing, already warned
    assert news() == [failing]
    turns(1)  # the fourth: disabled

    assert [e.type for e in news()] == ["webhook.failing", "webhook.disabled"]
    disabled = news()[1]
    assert failing.data["active"] is True and failing.data["consecutiveFailures"] == 2
    assert failing.data["failingSince"] is not None
    assert failing.data["lastError"]["statusCode"] == 503
    assert failing.data["lastError"]["responseExcerpt"] == "upstream is down"
    assert disabled.data["disabledReason"].endswith("(4 failed attempts in a row).")
    assert disabled.data["lastError"]["statusCode"] == 503
    assert secret_free(failing, endpoint) and secret_free(disabled, endpoint)


def test_a_success_after_a_warned_streak_raises_webhook_recovered_once(
    receiver: Receiver, station: Chargestation, settings: Settings
) -> None:
    settings.WEBHOOKS_RETRY_SCHEDULE = [0] * 10
    settings.WEBHOOKS_WARN_AFTER, settings.WEBHOOKS_WARN_MIN_FAILURES = 0, 2
    endpoint = dying_endpoint(receiver, station, status(500), status(500), ok())

    turns(3)  # two failures (a warning), then a success

    assert [e.type for e in news()] == ["webhook.failing", "webhook.recovered"]
    recovered = news()[1]
    assert recovered.data["id"] == endpoint.public_id and recovered.data["active"] is True
    assert recovered.data["failingSince"] is None and recovered.data["consecutiveFailures"] == 0
    assert recovered.data["lastError"] is None


def test_a_success_after_a_streak_nobody_was_warned_of_raises_nothing(
    receiver: Receiver, station: Chargestation, settings: Settings
) -> None:
    settings.WEBHOOKS_RETRY_SCHEDULE = [0] * 10
    endpoint = dying_endpoint(receiver, station, status(500), ok())

    turns(2)

    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0 and news() == []


def test_a_delivery_failing_its_last_attempt_raises_delivery_exhausted_once(
    receiver: Receiver, station: Chargestation, settings: Settings
) -> None:
    settings.WEBHOOKS_RETRY_SCHEDULE = [0, 0, 0]
    endpoint = dying_endpoint(receiver, station, status(500), status(502), status(504))

    turns(2)
    assert news() == []  # retried: not given up on yet
    turns(1)

    [exhausted] = news()
    sent = Delivery.objects.get(endpoint=endpoint)
    last = Attempt.objects.filter(delivery=sent).latest("id")
    assert sent.status == DeliveryStatus.FAILED
    assert exhausted.data["status"] == "failed" and exhausted.data["attemptCount"] == 3
    assert exhausted.data["lastStatusCode"] == 504 and exhausted.data["nextAttemptAt"] is None
    assert exhausted.data["lastError"]["statusCode"] == 504
    assert exhausted.data["lastError"]["durationMs"] == last.duration_ms
    assert secret_free(exhausted, endpoint)


@pytest.fixture
def events_refused() -> Iterator[None]:
    """The database refuses every new operational event (a trigger): the news cannot be written."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION refuse_news() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'refused'; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER refuse_news BEFORE INSERT ON webhooks_event FOR EACH ROW WHEN "
                "(NEW.type LIKE 'webhook.%' OR NEW.type LIKE 'delivery.%') EXECUTE FUNCTION refuse_news()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER refuse_news BEFORE INSERT ON webhooks_event "
                "WHEN NEW.type LIKE 'webhook.%' OR NEW.type LIKE 'delivery.%' "
                "BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
    yield  # the test's transaction is rolled back, the trigger with it


def test_news_the_database_refuses_never_undoes_the_outcome_it_reports(
    receiver: Receiver, station: Chargestation, events_refused: None, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint = dying_endpoint(receiver, station, status(410))

    with caplog.at_level(logging.ERROR, logger="webhooks.delivery.operational"):
        deliver_waiting()

    # Then the attempt, the failed delivery and the disabling stand; only the news is missing, and logged
    endpoint.refresh_from_db()
    sent = Delivery.objects.get(endpoint=endpoint)
    assert sent.status == DeliveryStatus.FAILED and Attempt.objects.filter(delivery=sent).count() == 1
    assert not endpoint.active and endpoint.disabled_reason == "The endpoint answered 410 Gone."
    assert news() == []
    refused = [r for r in caplog.records if r.getMessage() == "webhooks.operational_event.failed"]
    assert [getattr(r, "type", None) for r in refused] == ["delivery.exhausted", "webhook.disabled"]
