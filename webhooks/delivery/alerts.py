"""Emails to the people who own an endpoint."""

import logging
import smtplib
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail

from webhooks.models import Attempt, Endpoint

logger = logging.getLogger(__name__)


def endpoint_page_url(endpoint: Endpoint) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/developers/webhooks/{endpoint.public_id}"


def recipients(endpoint: Endpoint) -> list[str]:
    """The organization's alert address and the endpoint's own, once each."""
    addresses = [endpoint.organization.email, *endpoint.alert_emails]
    return list(dict.fromkeys(a for a in addresses if a))


def last_error(endpoint: Endpoint) -> str:
    """The most recent failed attempt in words: its status code or error, and what it answered."""
    attempt = (
        Attempt.objects.filter(delivery__endpoint=endpoint, succeeded=False)
        .order_by("-created_at", "-id")
        .first()
    )
    if attempt is None:
        return "unknown"
    what = f"HTTP {attempt.status_code}" if attempt.status_code else (attempt.error or "no answer")
    excerpt = " ".join(attempt.response_excerpt.split())[:200]
    return f"{what} at {attempt.created_at:%Y-%m-%d %H:%M:%S} UTC" + (f": {excerpt}" if excerpt else "")


def endpoint_failing_send(*, endpoint_id: int) -> None:
    """The early warning: failing for a while, and when it will be disabled unless it recovers."""
    endpoint = Endpoint.objects.select_related("organization").get(pk=endpoint_id)
    if endpoint.failing_since is None:
        return  # it recovered before the mail went out
    disable_at = endpoint.failing_since + timedelta(seconds=settings.WEBHOOKS_DISABLE_AFTER)
    subject = f"Webhook endpoint failing: {endpoint.url}"
    body = (
        f"Your webhook endpoint {endpoint.url} ({endpoint.public_id}) is failing.\n\n"
        f"Failing since: {endpoint.failing_since:%Y-%m-%d %H:%M:%S} UTC "
        f"({endpoint.consecutive_failures} failed attempts in a row)\n"
        f"Last error: {last_error(endpoint)}\n"
        f"It will be disabled at {disable_at:%Y-%m-%d %H:%M:%S} UTC if no delivery succeeds by then "
        f"(and at least {settings.WEBHOOKS_DISABLE_MIN_FAILURES} attempts in a row have failed).\n\n"
        "Events are kept and retried meanwhile; one successful delivery ends the streak. Details and\n"
        "the delivery log are on the endpoint's page:\n"
        f"{endpoint_page_url(endpoint)}\n"
    )
    _send(endpoint, subject, body, kind="failing")


def endpoint_disabled_send(*, endpoint_id: int) -> None:
    endpoint = Endpoint.objects.select_related("organization").get(pk=endpoint_id)
    subject = f"Webhook endpoint disabled: {endpoint.url}"
    body = (
        f"Your webhook endpoint {endpoint.url} ({endpoint.public_id}) has been disabled.\n\n"
        f"Why: {endpoint.disabled_reason}\n"
        f"Disabled at: {endpoint.disabled_at:%Y-%m-%d %H:%M:%S} UTC\n\n"
        "Events are still recorded while it is disabled. Once your receiver is fixed, re-enable the\n"
        "endpoint and recover the events you missed from its page:\n"
        f"{endpoint_page_url(endpoint)}\n"
    )
    _send(endpoint, subject, body, kind="disabled")


def _send(endpoint: Endpoint, subject: str, body: str, *, kind: str) -> None:
    try:
        send_mail(subject, body, None, recipients(endpoint))
    except (smtplib.SMTPException, OSError) as exc:
        logger.error(
            "webhooks.alert.failed",
            extra={"endpoint_id": endpoint.public_id, "kind": kind, "error": type(exc).__name__},
        )
        return
    logger.info("webhooks.alert.sent", extra={"endpoint_id": endpoint.public_id, "kind": kind})
