"""Endpoints: registering, changing and deleting them, and their secrets.

Their health (failure streaks, disabling) is the delivery side's: webhooks.delivery.health.
"""

import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from organizations.audit import Actor, audit_record
from organizations.models import Organization
from webhooks import signing
from webhooks.delivery import brokers
from webhooks.delivery.health import DISABLED_BY_USER, endpoint_disable
from webhooks.delivery.operational import webhook_event_record
from webhooks.endpoints import validation
from webhooks.models import Endpoint, SignatureScheme

logger = logging.getLogger(__name__)


class NoSharedSecret(Exception):
    """A v1a endpoint signs with an ed25519 private key, which is never shown: receivers verify with
    its public key."""


def endpoint_create(
    *,
    organization: Organization,
    url: str,
    events: Sequence[str],
    secret: str | None = None,
    signature_scheme: str = SignatureScheme.V1,
    description: str = "",
    alert_emails: Sequence[str] = (),
    rate_limit: int | None = None,
    filter: dict[str, Any] | None = None,
    locations: Sequence[str] = (),
    chargestations: Sequence[str] = (),
    headers: Mapping[str, str] | None = None,
    actor: Actor | None = None,
) -> Endpoint:
    """Register an endpoint. Input is assumed valid (the API and forms validate it first).

    `filter`, `locations` and `chargestations` narrow the events it receives (webhooks.routing.matching);
    `headers` are sent with every delivery to it. EndpointLimitReached (a Django ValidationError) when the
    organization's plan allows no more endpoints. Under the v1a `signature_scheme` a key pair is
    generated: a `secret` cannot be given.
    """
    _secret_allowed(signature_scheme, secret)
    with transaction.atomic():
        # One registration at a time per organization, so that two at once cannot both pass the limit.
        Organization.objects.select_for_update().only("pk").get(pk=organization.pk)
        validation.endpoint_limit_check(organization=organization)
        given = {
            **_url_stored(url, stored_password=""),
            "events": sorted(set(events)),
            "signature_scheme": signature_scheme,
            "description": description,
            "alert_emails": list(alert_emails),
            "rate_limit": rate_limit,
            **_narrowing(filter=filter, locations=locations, chargestations=chargestations, headers=headers),
        }
        endpoint = Endpoint.objects.create(
            organization=organization, secret=secret or signing.key_generate(signature_scheme), **given
        )
        _audit(endpoint, "webhook.created", actor, given)
        webhook_event_record(type_name="webhook.created", endpoint=endpoint)
        return endpoint


def _secret_allowed(scheme: str, secret: str | None) -> None:
    # The front doors refuse it first, in their words; this keeps a private key from being chosen.
    if secret and scheme == SignatureScheme.V1A:
        raise ValueError("a v1a endpoint's key pair is generated, never given")


def _audit(
    endpoint: Endpoint, action: str, actor: Actor | None, changes: Mapping[str, Any] | None = None
) -> None:
    """Record a change to an endpoint: custom headers by name only (their values may be credentials)."""
    shown = dict(changes or {})
    if shown.pop("url_password", None) is not None:  # a broker's password: the URL shows it as ****
        shown["url"] = endpoint.url
    if "headers" in shown:
        shown["headers"] = sorted(shown["headers"] or ())
    audit_record(
        organization=endpoint.organization,
        action=action,
        actor=actor,
        target_id=endpoint.public_id,
        changes=shown,
    )


def _url_stored(url: str, *, stored_password: str) -> dict[str, str]:
    """An amqp(s):// URL's password is kept apart, encrypted, and shown as **** in the URL; a URL given
    with **** keeps `stored_password` (webhooks.endpoints.validation allowed it)."""
    shown, password = brokers.password_split(url)
    return {"url": shown, "url_password": stored_password if password is None else password}


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


def endpoint_update(*, endpoint: Endpoint, actor: Actor | None = None, **changes: Any) -> Endpoint:
    """Change any of url, events, active, description, alert_emails, rate_limit, filter, locations,
    chargestations, headers, signature_scheme (input already valid).

    Switching `active` off is "disabled by you"; switching it on re-enables with a clean slate.
    Switching `signature_scheme` generates a key of the new kind, which alone signs from then on.
    """
    if "events" in changes:
        changes["events"] = sorted(set(changes["events"]))
    if "url" in changes:
        changes.update(_url_stored(changes["url"], stored_password=endpoint.url_password))
    narrowing = ("filter", "locations", "chargestations", "headers")
    changes.update(_narrowing(**{name: changes[name] for name in narrowing if name in changes}))
    active = changes.pop("active", None)
    with transaction.atomic():
        differing = {name: value for name, value in changes.items() if getattr(endpoint, name) != value}
        if "signature_scheme" in differing:
            changes.update(_scheme_switched(endpoint, changes["signature_scheme"]))
        for name, value in changes.items():
            setattr(endpoint, name, value)
        if changes:
            endpoint.save(update_fields=[*changes, "updated_at"])
        if differing:
            _audit(endpoint, "webhook.updated", actor, differing)
        enabling = active is True and not endpoint.active
        if differing and not enabling:  # enabling says so itself, with these changes
            webhook_event_record(type_name="webhook.updated", endpoint=endpoint)
        if enabling:
            endpoint_enable(endpoint=endpoint, actor=actor)
        elif active is False and endpoint.active:
            endpoint_disable(endpoint_id=endpoint.pk, reason=DISABLED_BY_USER, actor=actor)
            endpoint.refresh_from_db()
    return endpoint


def _scheme_switched(endpoint: Endpoint, scheme: str) -> dict[str, Any]:
    """The key fields of an endpoint switching to `scheme`: a new key of that kind. The old key stops
    signing at once (a receiver of the new scheme could not check it anyway) and is kept as the
    previous one, expired, so that the delivery page still checks what it signed."""
    return {
        "secret": signing.key_generate(scheme),
        "previous_secret": endpoint.secret,
        "previous_secret_expires_at": timezone.now(),
    }


@transaction.atomic
def endpoint_delete(*, endpoint: Endpoint, actor: Actor | None = None) -> None:
    """Delete an endpoint with its delivery history; the events themselves stay."""
    _audit(endpoint, "webhook.deleted", actor, {"url": endpoint.url})
    webhook_event_record(type_name="webhook.deleted", endpoint=endpoint)
    endpoint.delete()


@transaction.atomic
def endpoint_rotate_secret(
    *, endpoint: Endpoint, secret: str | None = None, actor: Actor | None = None
) -> Endpoint:
    """A new secret signs from now on; the old one keeps signing beside it for the grace period.

    Under v1a the new key pair is generated: a `secret` cannot be given."""
    _secret_allowed(endpoint.signature_scheme, secret)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = timezone.now() + timedelta(
        seconds=settings.WEBHOOKS_SECRET_ROTATION_GRACE
    )
    endpoint.secret = secret or signing.key_generate(endpoint.signature_scheme)
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    _audit(endpoint, "webhook.secret_rotated", actor)
    return endpoint


@transaction.atomic
def endpoint_secret_reveal(*, endpoint: Endpoint, actor: Actor | None = None) -> str:
    """The signing secret, for whoever asked: who saw it is recorded (never the secret itself).

    NoSharedSecret under v1a: its private key is never shown."""
    if endpoint.signature_scheme == SignatureScheme.V1A:
        raise NoSharedSecret(endpoint.public_id)
    _audit(endpoint, "webhook.secret_revealed", actor)
    logger.info(
        "webhooks.secret.revealed",
        extra={
            "endpoint_id": endpoint.public_id,
            "actor_type": actor and actor.type,
            "actor_id": actor and actor.id,
        },
    )
    return endpoint.secret


@transaction.atomic
def endpoint_enable(*, endpoint: Endpoint, actor: Actor | None = None) -> Endpoint:
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
    _audit(endpoint, "webhook.enabled", actor)
    webhook_event_record(type_name="webhook.updated", endpoint=endpoint)
    return endpoint


__all__ = [
    "DISABLED_BY_USER",
    "NoSharedSecret",
    "endpoint_create",
    "endpoint_delete",
    "endpoint_disable",
    "endpoint_enable",
    "endpoint_rotate_secret",
    "endpoint_secret_reveal",
    "endpoint_update",
]
