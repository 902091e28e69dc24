"""The early warning through a real worker and a real SMTP server on 127.0.0.1: once per streak."""

import time

import pytest

from organizations.models import Organization
from tests.e2e.conftest import StartProcess
from tests.e2e.receiver import Receiver, ok, status
from tests.e2e.smtp import SmtpServer
from tests.e2e.test_pipeline import endpoint_at, wait_until
from tests.factories import LocationFactory
from webhooks.models import Endpoint

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_failing_endpoint_warns_its_owners_once_per_streak_before_it_is_disabled(
    receiver: Receiver,
    celery_worker: StartProcess,
    celery_beat: StartProcess,
    smtp_server: SmtpServer,
    organization: Organization,
) -> None:
    env = {
        "WEBHOOKS_RETRY_SCHEDULE": ",".join(["0"] + ["0.2"] * 12),
        "WEBHOOKS_SWEEP_INTERVAL": "1",
        "WEBHOOKS_WARN_AFTER": "0",
        "WEBHOOKS_WARN_MIN_FAILURES": "3",
        "WEBHOOKS_DISABLE_AFTER": "432000",
        "EMAIL_URL": smtp_server.url,
    }
    celery_worker(**env)
    celery_beat(**env)
    endpoint = endpoint_at(receiver, "/down", organization, alert_emails=["oncall@example.com"])
    receiver.behave("/down", status(500))

    # A streak of failures: one warning, however long it goes on.
    LocationFactory.create(organization=organization)
    assert wait_until(lambda: Endpoint.objects.get(pk=endpoint.pk).consecutive_failures >= 6, timeout=30)
    [warning] = smtp_server.wait_for(1, timeout=15)
    time.sleep(1)
    assert len(smtp_server.messages()) == 1
    assert "failing" in warning.subject and "disabled" not in warning.subject
    assert set(warning.to) == {organization.email, "oncall@example.com"}
    assert endpoint.public_id in warning.body and "HTTP 500" in warning.body

    # A success ends the streak; the next streak warns again.
    receiver.behave("/down", ok())
    assert wait_until(lambda: Endpoint.objects.get(pk=endpoint.pk).failing_since is None, timeout=30)
    receiver.behave("/down", status(500))
    LocationFactory.create(organization=organization)
    smtp_server.wait_for(2, timeout=30)
    assert Endpoint.objects.get(pk=endpoint.pk).active
