"""The early warning: one "failing" email per failure streak, before the endpoint is disabled.

Deliveries run in this process against a real HTTP receiver on 127.0.0.1; mail goes to Django's
test outbox (the real SMTP path is in tests/e2e/test_warning_e2e.py).
"""

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone
from pytest_django.fixtures import Settings

from chargestations.models import Chargestation
from tests.e2e.receiver import Receiver, ok, status
from tests.factories import EndpointFactory
from webhooks.delivery import sending
from webhooks.endpoints.services import endpoint_disable, endpoint_enable
from webhooks.models import Endpoint

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def thresholds(settings: Settings) -> Settings:
    settings.WEBHOOKS_WARN_AFTER = 0
    settings.WEBHOOKS_WARN_MIN_FAILURES = 3
    settings.WEBHOOKS_DISABLE_AFTER = 432000
    settings.WEBHOOKS_DISABLE_MIN_FAILURES = 10
    settings.WEBHOOKS_RETRY_SCHEDULE = [0] * 20
    return settings


@pytest.fixture
def send(django_capture_on_commit_callbacks: Any) -> Any:
    def run(times: int = 1) -> None:
        """`times` worker turns of one attempt each: an event waiting for its fan-out is fanned out
        and sent; otherwise the retry that is due (the schedule makes each due at once) is sent."""
        for _ in range(times):
            with django_capture_on_commit_callbacks(execute=True):
                if not sending.events_deliver():
                    sending.deliveries_send()

    return run


def failing_endpoint(receiver: Receiver, station: Chargestation) -> Endpoint:
    endpoint = EndpointFactory.create(
        organization=station.organization, url=receiver.url("/a"), alert_emails=["oncall@example.com"]
    )
    receiver.expect_secrets("/a", [endpoint.secret])
    receiver.behave("/a", status(503, body=b"upstream is down"))
    station.active = not station.active
    station.save()
    return endpoint


def warnings_sent() -> list[mail.EmailMessage]:
    return [m for m in mail.outbox if "failing" in m.subject]


def test_one_warning_goes_out_once_the_streak_crosses_both_thresholds(
    receiver: Receiver, station: Chargestation, send: Any
) -> None:
    endpoint = failing_endpoint(receiver, station)

    send(2)
    assert warnings_sent() == []
    send(4)

    [warning] = mail.outbox
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.failing_warned_at is not None
    assert warning.subject == f"Webhook endpoint failing: {endpoint.url}"
    assert sorted(warning.to) == sorted([station.organization.email, "oncall@example.com"])
    assert endpoint.public_id in warning.body
    assert f"Failing since: {endpoint.failing_since:%Y-%m-%d %H:%M:%S} UTC" in warning.body
    assert "HTTP 503" in warning.body and "upstream is down" in warning.body
    assert endpoint.failing_since is not None
    disable_at = endpoint.failing_since + timedelta(seconds=432000)
    assert f"disabled at {disable_at:%Y-%m-%d %H:%M:%S} UTC" in warning.body
    assert f"/developers/webhooks/{endpoint.public_id}" in warning.body


def test_no_warning_before_the_streak_is_old_enough(
    receiver: Receiver, station: Chargestation, send: Any, thresholds: Settings
) -> None:
    thresholds.WEBHOOKS_WARN_AFTER = 3600
    endpoint = failing_endpoint(receiver, station)

    send(6)

    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 6 and endpoint.failing_warned_at is None
    assert mail.outbox == []

    # An hour into the same streak, the next failure warns.
    Endpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - timedelta(hours=1))
    send()
    assert len(warnings_sent()) == 1


def test_a_success_ends_the_streak_and_a_new_streak_warns_again(
    receiver: Receiver, station: Chargestation, send: Any
) -> None:
    endpoint = failing_endpoint(receiver, station)
    send(4)
    assert len(warnings_sent()) == 1

    receiver.behave("/a", ok())
    send()
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.failing_warned_at is None

    receiver.behave("/a", status(500))
    station.active = not station.active
    station.save()
    send(4)
    assert len(warnings_sent()) == 2


def test_an_endpoint_that_reaches_the_disable_threshold_gets_the_disabled_alert_only(
    receiver: Receiver, station: Chargestation, send: Any, thresholds: Settings
) -> None:
    thresholds.WEBHOOKS_DISABLE_AFTER = 0
    thresholds.WEBHOOKS_DISABLE_MIN_FAILURES = 3
    endpoint = failing_endpoint(receiver, station)

    send(4)

    endpoint.refresh_from_db()
    assert not endpoint.active
    assert [m.subject for m in mail.outbox] == [f"Webhook endpoint disabled: {endpoint.url}"]


def test_re_enabling_starts_a_fresh_streak_that_can_warn_again(
    receiver: Receiver, station: Chargestation, send: Any
) -> None:
    endpoint = failing_endpoint(receiver, station)
    send(4)
    endpoint_disable(endpoint_id=endpoint.pk, reason="by hand")
    endpoint.refresh_from_db()

    endpoint_enable(endpoint=endpoint)

    endpoint.refresh_from_db()
    assert endpoint.failing_warned_at is None and endpoint.failing_since is None
    station.active = not station.active
    station.save()
    send(4)
    assert len(warnings_sent()) == 2
