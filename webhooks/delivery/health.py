"""An endpoint's health as deliveries see it: failure streaks, the early warning, disabling.

A success ends a streak. An endpoint answering 410 Gone is disabled at once; one with no success
for WEBHOOKS_DISABLE_AFTER seconds and at least WEBHOOKS_DISABLE_MIN_FAILURES failed attempts in a
row is disabled, with one alert email; before that, one early-warning email per streak. Each of
these raises its operational event in the same transaction (webhook.disabled, webhook.failing, and
webhook.recovered when a success ends a streak that was warned of: webhooks.delivery.operational).
"""

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from organizations.audit import Actor, audit_record
from webhooks import metrics
from webhooks.delivery import alerts
from webhooks.delivery.operational import webhook_event_record
from webhooks.models import Delivery, DeliveryStatus, Endpoint

logger = logging.getLogger(__name__)

DISABLED_BY_USER = "Disabled by a user."


def endpoint_disable(
    *, endpoint_id: int, reason: str, alert: bool = False, actor: Actor | None = None
) -> bool:
    """Disable an active endpoint; its pending deliveries become skipped (recoverable later), and
    a worker holding one of them cannot record an outcome over the skip (its claim token goes).

    `actor` is who disabled it; none is the platform itself (a failing endpoint).

    Returns False if it was already disabled, so that only one caller sends the alert.
    """
    now = timezone.now()
    with transaction.atomic():
        disabled = Endpoint.objects.filter(pk=endpoint_id, active=True).update(
            active=False, disabled_reason=reason, disabled_at=now, updated_at=now
        )
        if not disabled:
            return False
        endpoint = (
            Endpoint.objects.select_related("organization")
            .only("public_id", "organization")
            .get(pk=endpoint_id)
        )
        audit_record(
            organization=endpoint.organization,
            action="webhook.disabled",
            actor=actor,
            target_id=endpoint.public_id,
            changes={"active": False, "disabled_reason": reason},
        )
        webhook_event_record(type_name="webhook.disabled", endpoint=endpoint_id)
        pending = Delivery.objects.filter(endpoint_id=endpoint_id, status=DeliveryStatus.PENDING)
        # Locked in id order, as workers lock the deliveries they record (outcomes._lock_in_id_order):
        # two transactions that both update many of them then wait for each other in turn.
        locked = list(pending.select_for_update(of=("self",)).order_by("id").values_list("id", flat=True))
        skipped = pending.filter(id__in=locked).update(
            status=DeliveryStatus.SKIPPED, next_attempt_at=None, claimed_until=None, claim_token=None
        )
        metrics.deliveries_counted_on_commit(metrics.SKIPPED, skipped)
        if alert:
            transaction.on_commit(lambda: alerts.endpoint_disabled_send(endpoint_id=endpoint_id), robust=True)
    logger.warning("webhooks.endpoint.disabled", extra={"endpoint_pk": endpoint_id, "reason": reason})
    return True


def streaks_lock(outcomes: Iterable[tuple[Endpoint, bool, bool]]) -> None:
    """Lock, in id order, the rows of the endpoints whose streak these (endpoint, ok, gone) outcomes
    may update: first in the transaction that records them, before any of its deliveries.

    Disabling an endpoint (here, or from a front door) locks its row, then its pending deliveries.
    A batch that locked its deliveries first and its endpoint's row after could hold a delivery
    that such a disable waits for, while it waits for the endpoint: a circle, which PostgreSQL
    breaks by aborting one of them (a batch whose sends are then repeated, or a disable refused).
    """
    ids = sorted({e.pk for e, ok, gone in outcomes if gone or not ok or _was_failing(e)})
    if ids and connection.features.has_select_for_update:
        list(Endpoint.objects.filter(pk__in=ids).order_by("pk").select_for_update().values_list("pk"))


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
    endpoints: dict[int, Endpoint] = {}
    for endpoint, ok, gone, _ in outcomes:
        per_endpoint[endpoint.pk].append((ok, gone))
        endpoints[endpoint.pk] = endpoint
    for endpoint_id, results in per_endpoint.items():
        if any(gone for _, gone in results):
            endpoint_disable(endpoint_id=endpoint_id, reason="The endpoint answered 410 Gone.", alert=True)
        elif any(ok for ok, _ in results):
            if not _was_failing(endpoints[endpoint_id]):
                continue  # as it was when this batch was claimed: nothing to reset, no statement
            _streak_end(endpoints[endpoint_id])
        else:
            _failures_add(endpoint_id, len(results), now)


def _was_failing(endpoint: Endpoint) -> bool:
    """A success resets a streak. Another worker may have begun one since this batch loaded the
    endpoint: that streak is reset by the next success of a batch that sees it."""
    return bool(endpoint.consecutive_failures or endpoint.failing_since or endpoint.failing_warned_at)


def _streak_end(endpoint: Endpoint) -> None:
    """Reset the streak; when its owners had been warned of it, that is news: webhook.recovered.

    One statement, the one this batch's view of the endpoint expects; the other only when another
    worker warned of the streak, or ended it, since. Of two workers ending one warned streak at
    once, the second finds it ended: one webhook.recovered.
    """
    streak = Endpoint.objects.filter(pk=endpoint.pk)
    warned = streak.filter(failing_warned_at__isnull=False)
    unwarned = streak.filter(failing_warned_at__isnull=True).filter(
        Q(consecutive_failures__gt=0) | Q(failing_since__isnull=False)
    )
    turns = [(warned, True), (unwarned, False)]
    for query, was_warned in turns if endpoint.failing_warned_at else reversed(turns):
        if query.update(consecutive_failures=0, failing_since=None, failing_warned_at=None):
            if was_warned:
                webhook_event_record(type_name="webhook.recovered", endpoint=endpoint.pk)
            return


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
            webhook_event_record(type_name="webhook.failing", endpoint=endpoint_id)
    if marked:
        logger.warning("webhooks.endpoint.failing", extra={"endpoint_pk": endpoint_id})
