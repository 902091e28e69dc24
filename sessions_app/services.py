"""Writes to drivers ("users") and charging sessions.

Like the network's services: `save()` / `delete()` on instances inside `transaction.atomic`, so
that the webhooks pipeline sees every change in the same transaction.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from chargestations.models import Chargestation, Connector, Rate
from chargestations.services import organization_match_check
from edrv_project.writes import children_replace, model_assign, model_save_unique
from organizations.models import Organization
from sessions_app import chargers
from sessions_app.ceilings import ceilings_stored
from sessions_app.models import Driver, IdTag, Session, SessionStatus

DRIVER_FIELDS = ("first_name", "last_name", "email", "phone", "active", "meta_data")
ID_TAG_FIELDS = ("type", "active")
SESSION_FIELDS = (
    "driver",
    "chargestation",
    "connector",
    "rate",
    "id_tag",
    "failure_reason",
    "stop_failure_reason",
    "ev_charged_at",
    "ceilings",
    "meta_data",
)
# A session over (ended, cancelled, failed to start) keeps the ceilings it ran with.
CEILINGS_OPEN = (SessionStatus.CREATED, SessionStatus.STARTED)


@transaction.atomic
def driver_create(
    *,
    organization: Organization,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    phone: str = "",
    active: bool = True,
    meta_data: dict[str, Any] | None = None,
    id_tags: Sequence[Mapping[str, Any]] = (),
) -> Driver:
    driver = Driver(
        organization=organization,
        first_name=first_name,
        last_name=last_name,
        email=email,
        phone=phone,
        active=active,
        meta_data=meta_data or {},
    )
    driver.save()
    _id_tags_replace(driver=driver, tags=id_tags)
    return driver


@transaction.atomic
def driver_update(*, driver: Driver, data: Mapping[str, Any]) -> Driver:
    if model_assign(instance=driver, data=data, fields=DRIVER_FIELDS):
        driver.save()
    if "id_tags" in data:
        _id_tags_replace(driver=driver, tags=data["id_tags"])
    return driver


@transaction.atomic
def driver_delete(*, driver: Driver) -> None:
    """Its tokens go with it; its sessions stay, without a user."""
    driver.delete()


def _token_taken(token: str) -> str:
    return f'Token "{token}" is already in use in this organization.'


def _id_tags_replace(*, driver: Driver, tags: Sequence[Mapping[str, Any]]) -> None:
    """Make the driver's tokens exactly `tags`, touching only what differs.

    Tokens are unique in the organization: one held by another driver is a 400 that names it.
    Tags refer to the driver by id, so that each tag's event reads the driver afresh.
    """
    wanted = {tag["token"]: tag for tag in tags}
    taken = (
        IdTag.objects.filter(organization_id=driver.organization_id, token__in=wanted)
        .exclude(driver_id=driver.pk)
        .values_list("token", flat=True)
    )
    if taken:
        raise ValidationError({"id_tags": [_token_taken(token) for token in sorted(taken)]})
    children_replace(
        existing={tag.token: tag for tag in IdTag.objects.filter(driver_id=driver.pk)},
        wanted=wanted,
        new=lambda token: IdTag(organization_id=driver.organization_id, driver_id=driver.pk, token=token),
        fields=ID_TAG_FIELDS,
        save=lambda tag: model_save_unique(instance=tag, field="id_tags", message=_token_taken(tag.token)),
    )
    # The instance may carry the tokens a selector prefetched: they are stale now.
    driver._prefetched_objects_cache = {}  # type: ignore[attr-defined]


def _session_check(session: Session) -> None:
    for field, related in (
        ("chargestation", session.chargestation),
        ("user", session.driver),
        ("rate", session.rate),
    ):
        organization_match_check(organization_id=session.organization_id, related=related, field=field)
    if session.connector is not None and session.connector.chargestation_id != session.chargestation_id:
        raise ValidationError(
            {
                "connector": f"Connector {session.connector.public_id} does not belong to "
                f"chargestation {session.chargestation.public_id}."
            }
        )


@transaction.atomic
def session_create(
    *,
    organization: Organization,
    chargestation: Chargestation,
    driver: Driver | None = None,
    connector: Connector | None = None,
    rate: Rate | None = None,
    id_tag: str = "",
    failure_reason: str = "",
    stop_failure_reason: str = "",
    ev_charged_at: datetime | None = None,
    ceilings: Mapping[str, Any] | None = None,
    meta_data: dict[str, Any] | None = None,
) -> Session:
    """A session is billed in its rate's currency, or the organization's when it has no rate.

    Its cost ceiling, if any, is in that currency.
    """
    session = Session(
        organization=organization,
        chargestation=chargestation,
        driver=driver,
        connector=connector,
        rate=rate,
        currency=rate.currency if rate is not None else organization.currency,
        id_tag=id_tag,
        failure_reason=failure_reason,
        stop_failure_reason=stop_failure_reason,
        ev_charged_at=ev_charged_at,
        ceilings=ceilings_stored(ceilings),
        meta_data=meta_data or {},
    )
    _session_check(session)
    session.save()
    return session


@transaction.atomic
def session_update(*, session: Session, data: Mapping[str, Any]) -> Session:
    """The session as changed: its row read again, locked, since the charger gateway writes it too
    (metering, ceilings reached) and saving the caller's older copy would undo that.

    `ceilings`, when given, replace the session's whole set; a lower one than what is metered
    already is reached at the charger's next meter value (or, for time, the next ceiling check).
    """
    session = (
        Session.objects.select_for_update(of=("self",))
        .select_related("driver", "chargestation", "connector", "rate")
        .get(pk=session.pk)
    )
    rate_before = session.rate_id
    if "ceilings" in data:
        data = {**data, "ceilings": ceilings_stored(data["ceilings"])}
        if data["ceilings"] != session.ceilings and session.status not in CEILINGS_OPEN:
            raise ValidationError(
                {"ceilings": f"The session is {session.status}: its ceilings can no longer change."}
            )
    if not model_assign(instance=session, data=data, fields=SESSION_FIELDS):
        return session
    if session.rate is not None and session.rate_id != rate_before:
        session.currency = session.rate.currency
    _session_check(session)
    session.save()
    return session


@transaction.atomic
def session_delete(*, session: Session) -> None:
    session.delete()


@transaction.atomic
def session_remote_start(
    *,
    organization: Organization,
    chargestation: Chargestation,
    driver: Driver | None = None,
    connector: Connector | None = None,
    rate: Rate | None = None,
    id_tag: str = "",
    **fields: Any,
) -> Session:
    """`POST /sessions`: a session (`session.created`) whose charger is asked to start it once committed.

    What the charger does comes later: `session.started`; or `session.start_failure` when it is
    offline, refuses or does not answer; or `session.cancelled` when it accepts but no charging
    starts within `OCPP_CANCEL_AFTER` seconds. The command carries `id_tag`, else the user's first
    active token, else a virtual tag made for this session.
    """
    tokens = list(driver.id_tags.filter(active=True).values_list("token", flat=True)) if driver else []
    session = session_create(
        organization=organization,
        chargestation=chargestation,
        driver=driver,
        connector=connector,
        rate=rate or (connector.rate if connector is not None else None),
        id_tag=chargers.remote_id_tag(id_tag=id_tag, driver_tokens=tokens),
        **fields,
    )
    transaction.on_commit(partial(chargers.start_request, session.pk))
    return session


def session_remote_stop(*, session: Session) -> Session:
    """`POST /sessions/:id/stop`: ask the charger to stop (`session.ended` follows), or record why not.

    Raises `chargers.SessionNotRunning` unless the session is started.
    """
    return chargers.stop_request(session)
