"""Endpoints: registering them, their secrets, and their health (failure streaks, disabling)."""

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from organizations.models import Organization
from webhooks import alerts, metrics, signing
from webhooks.models import Delivery, DeliveryStatus, Endpoint

logger = logging.getLogger(__name__)

DISABLED_BY_USER = "Disabled by a user."


def live_secrets(endpoint: Endpoint) -> list[str]:
    """The secrets that sign a delivery now: the current one, and a rotated-out one in its grace period."""
    secrets = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires and expires > timezone.now():
        secrets.append(endpoint.previous_secret)
    return secrets


def endpoint_create(
    *,
    organization: Organization,
    url: str,
    events: Sequence[str],
    secret: str | None = None,
    description: str = "",
    alert_emails: Sequence[str] = (),
    rate_limit: int | None = None,
    filter: dict[str, Any] | None = None,
    locations: Sequence[str] = (),
    chargestations: Sequence[str] = (),
    headers: Mapping[str, str] | None = None,
) -> Endpoint:
    """Register an endpoint. Input is assumed valid (the API and forms validate it first).

    `filter`, `locations` and `chargestations` narrow the events it receives (webhooks.matching);
    `headers` are sent with every delivery to it.
    """
    return Endpoint.objects.create(
        organization=organization,
        url=url,
        events=sorted(set(events)),
        secret=secret or signing.secret_generate(),
        description=description,
        alert_emails=list(alert_emails),
        rate_limit=rate_limit,
        **_narrowing(filter=filter, locations=locations, chargestations=chargestations, headers=headers),
    )


def _narrowing(**given: Any) -> dict[str, Any]:
    """Filter, scopes and headers as stored: no filter is null (`{}` too), none of the others empty."""
    stored = {}
    if "filter" in given:
        stored["filter"] = given["filter"] or None
    for name in ("locations", "chargestations"):
        if name in given:
            stored[name] = list(dict.fromkeys(given[name] or ()))
    if "headers" in given:
        stored["headers"] = {name.lower(): value for name, value in (given["headers"] or {}).items()}
    return stored


def endpoint_update(*, endpoint: Endpoint, **changes: Any) -> Endpoint:
    """Change any of url, events, active, description, alert_emails, rate_limit, filter, locations,
    chargestations, headers (input already valid).

    Switching `active` off is "disabled by you"; switching it on re-enables with a clean slate.
    """
    if "events" in changes:
        changes["events"] = sorted(set(changes["events"]))
    narrowing = ("filter", "locations", "chargestations", "headers")
    changes.update(_narrowing(**{name: changes[name] for name in narrowing if name in changes}))
    active = changes.pop("active", None)
    for name, value in changes.items():
        setattr(endpoint, name, value)
    if changes:
        endpoint.save(update_fields=[*changes, "updated_at"])
    if active is True and not endpoint.active:
        endpoint_enable(endpoint=endpoint)
    elif active is False and endpoint.active:
        endpoint_disable(endpoint_id=endpoint.pk, reason=DISABLED_BY_USER)
        endpoint.refresh_from_db()
    return endpoint


def endpoint_delete(*, endpoint: Endpoint) -> None:
    """Delete an endpoint with its delivery history; the events themselves stay."""
    endpoint.delete()


def endpoint_rotate_secret(*, endpoint: Endpoint, secret: str | None = None) -> Endpoint:
    """A new secret signs from now on; the old one keeps signing beside it for the grace period."""
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = timezone.now() + timedelta(
        seconds=settings.WEBHOOKS_SECRET_ROTATION_GRACE
    )
    endpoint.secret = secret or signing.secret_generate()
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    return endpoint


def endpoint_enable(*, endpoint: Endpoint) -> Endpoint:
    """Re-enable: the failure count starts again from zero."""
    endpoint.active = True
    endpoint.disabled_reason = ""
    endpoint.disabled_at = None
    endpoint.failing_since = None
    endpoint.consecutive_failures = 0
    endpoint.failing_warned_at = None
    endpoint.save(
        update_fields=[
            "active",
            "disabled_reason",
            "disabled_at",
            "failing_since",
            "consecutive_failures",
            "failing_warned_at",
            "updated_at",
        ]
    )
    return endpoint


def endpoint_disable(*, endpoint_id: int, reason: str, alert: bool = False) -> bool:
    """Disable an active endpoint; its pending deliveries become skipped (recoverable later).

    Returns False if it was already disabled, so that only one caller sends the alert.
    """
    now = timezone.now()
    with transaction.atomic():
        disabled = Endpoint.objects.filter(pk=endpoint_id, active=True).update(
            active=False, disabled_reason=reason, disabled_at=now, updated_at=now
        )
        if not disabled:
            return False
        skipped = Delivery.objects.filter(endpoint_id=endpoint_id, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.SKIPPED, next_attempt_at=None, claimed_until=None
        )
        metrics.deliveries_counted_on_commit(metrics.SKIPPED, skipped)
        if alert:
            transaction.on_commit(lambda: alerts.endpoint_disabled_send(endpoint_id=endpoint_id), robust=True)
    logger.warning("webhooks.endpoint.disabled", extra={"endpoint_pk": endpoint_id, "reason": reason})
    return True


def outcomes_record(outcomes: Iterable[tuple[Endpoint, bool, bool, object]]) -> None:
    """Update each endpoint's failure streak from a batch of (endpoint, ok, gone, result) outcomes.

    A success ends the streak. An endpoint answering 410 Gone is disabled at once; one with no
    success for WEBHOOKS_DISABLE_AFTER seconds and at least WEBHOOKS_DISABLE_MIN_FAILURES failed
    attempts in a row is disabled, with one alert email. Before that, one with no success for
    WEBHOOKS_WARN_AFTER seconds and at least WEBHOOKS_WARN_MIN_FAILURES failed attempts gets one
    early-warning email per streak.
    """
    now = timezone.now()
    per_endpoint: dict[int, list[tuple[bool, bool]]] = defaultdict(list)
    for endpoint, ok, gone, _ in outcomes:
        per_endpoint[endpoint.pk].append((ok, gone))
    for endpoint_id, results in per_endpoint.items():
        if any(gone for _, gone in results):
            endpoint_disable(endpoint_id=endpoint_id, reason="The endpoint answered 410 Gone.", alert=True)
        elif any(ok for ok, _ in results):
            Endpoint.objects.filter(pk=endpoint_id).filter(
                Q(consecutive_failures__gt=0)
                | Q(failing_since__isnull=False)
                | Q(failing_warned_at__isnull=False)
            ).update(consecutive_failures=0, failing_since=None, failing_warned_at=None)
        else:
            _failures_add(endpoint_id, len(results), now)


def _failures_add(endpoint_id: int, count: int, now: datetime) -> None:
    Endpoint.objects.filter(pk=endpoint_id).update(
        consecutive_failures=F("consecutive_failures") + count, failing_since=Coalesce("failing_since", now)
    )
    endpoint = Endpoint.objects.only(
        "failing_since", "consecutive_failures", "active", "failing_warned_at"
    ).get(pk=endpoint_id)
    if not endpoint.active or endpoint.failing_since is None:
        return
    failing_for = (now - endpoint.failing_since).total_seconds()
    failures = endpoint.consecutive_failures
    if failing_for >= settings.WEBHOOKS_DISABLE_AFTER and failures >= settings.WEBHOOKS_DISABLE_MIN_FAILURES:
        reason = (
            f"No successful delivery since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC "
            f"({failures} failed attempts in a row)."
        )
        endpoint_disable(endpoint_id=endpoint_id, reason=reason, alert=True)
    elif (
        endpoint.failing_warned_at is None
        and failing_for >= settings.WEBHOOKS_WARN_AFTER
        and failures >= settings.WEBHOOKS_WARN_MIN_FAILURES
    ):
        _failing_warn(endpoint_id, failing_since=endpoint.failing_since, now=now)


def _failing_warn(endpoint_id: int, *, failing_since: datetime, now: datetime) -> None:
    """Warn the owners once per streak: only the worker that marks the streak as warned sends it."""
    with transaction.atomic():
        marked = Endpoint.objects.filter(
            pk=endpoint_id, active=True, failing_since=failing_since, failing_warned_at__isnull=True
        ).update(failing_warned_at=now)
        if marked:
            transaction.on_commit(lambda: alerts.endpoint_failing_send(endpoint_id=endpoint_id), robust=True)
    if marked:
        logger.warning("webhooks.endpoint.failing", extra={"endpoint_pk": endpoint_id})
