"""Emails to the people who own an endpoint."""

import logging
import smtplib

from django.conf import settings
from django.core.mail import send_mail

from webhooks.models import Endpoint

logger = logging.getLogger(__name__)


def endpoint_page_url(endpoint: Endpoint) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/developers/webhooks/{endpoint.public_id}"


def recipients(endpoint: Endpoint) -> list[str]:
    """The organization's alert address and the endpoint's own, once each."""
    addresses = [endpoint.organization.email, *endpoint.alert_emails]
    return list(dict.fromkeys(a for a in addresses if a))


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
    try:
        send_mail(subject, body, None, recipients(endpoint))
    except (smtplib.SMTPException, OSError) as exc:
        logger.error(
            "webhooks.alert.failed", extra={"endpoint_id": endpoint.public_id, "error": type(exc).__name__}
        )
        return
    logger.info("webhooks.alert.sent", extra={"endpoint_id": endpoint.public_id, "kind": "disabled"})
