"""Every event type, and which model change raises it: the one place to read or extend.

Adding an event type is one `EventType` entry and, when a model change raises it, one `Rule`.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Envelope(StrEnum):
    EDRV = "edrv"  # {"_id", "data", "object", "type", "createdAt"}
    CHARGER = "charger"  # {"event", "timestamp", "data"}


class Category(StrEnum):
    CHARGESTATION = "Chargestation events"
    SYNCHRONOUS = "Synchronous events"
    INTELLIGENCE = "Charging intelligence"
    CHARGER = "Charger protocol"
    OPERATIONS = "Webhook operations"


@dataclass(frozen=True)
class EventType:
    name: str
    object: str
    category: Category
    description: str
    envelope: Envelope = Envelope.EDRV
    subscribable: bool = True


def _types(category: Category, obj: str, *entries: tuple[str, str], **options: Any) -> list[EventType]:
    return [EventType(name, obj, category, description, **options) for name, description in entries]


_CS, _SYNC, _AI, _CP, _OPS = (
    Category.CHARGESTATION,
    Category.SYNCHRONOUS,
    Category.INTELLIGENCE,
    Category.CHARGER,
    Category.OPERATIONS,
)

EVENT_TYPES: dict[str, EventType] = {
    t.name: t
    for t in [
        *_types(
            _CS,
            "chargestation",
            ("chargestation.online", "A chargestation connected to the network."),
            ("chargestation.offline", "A chargestation disconnected or stopped answering."),
            ("chargestation.connector_status.updated", "A connector's status changed."),
            ("chargestation.created", "A chargestation was added."),
            ("chargestation.updated", "A chargestation's endpoint, state, visibility or meta data changed."),
            ("chargestation.deleted", "A chargestation was removed."),
            ("chargestation.connector.created", "A connector was added to a chargestation."),
            ("chargestation.connector.updated", "A connector's details (other than status) changed."),
            ("chargestation.connector.deleted", "A connector was removed from a chargestation."),
        ),
        *_types(
            _SYNC,
            "session",
            ("session.created", "A charging session was requested."),
            ("session.started", "A charging session started."),
            ("session.updated", "A charging session's metrics or details changed."),
            ("session.ended", "A charging session ended."),
            ("session.cancelled", "A requested session never started and was cancelled."),
            ("session.start_failure", "A chargestation refused or did not answer a remote start."),
            ("session.stop_failure", "A chargestation refused or did not answer a remote stop."),
        ),
        # Conclusions the platform draws from metering, not states the charger reports.
        *_types(
            _AI,
            "session",
            ("session.ev_charged", "The car stopped drawing power while still plugged in."),
            (
                "session.stop_energy_ceiling_exceeded",
                "A session reached its energy ceiling; its chargestation was asked to stop it.",
            ),
            (
                "session.stop_time_ceiling_exceeded",
                "A session reached its time ceiling; its chargestation was asked to stop it.",
            ),
            (
                "session.stop_cost_ceiling_exceeded",
                "A session reached its cost ceiling; its chargestation was asked to stop it.",
            ),
        ),
        *_types(_SYNC, "organization", ("organization.updated", "The organization's details changed.")),
        *_types(
            _SYNC,
            "location",
            ("location.created", "A location was added."),
            ("location.updated", "A location changed."),
            ("location.deleted", "A location was removed."),
        ),
        *_types(
            _SYNC,
            "user",
            ("user.created", "A driver was added."),
            ("user.updated", "A driver or their tokens changed."),
            ("user.deleted", "A driver was removed."),
        ),
        *_types(
            _SYNC,
            "rate",
            ("rate.created", "A rate was added."),
            ("rate.updated", "A rate or its price components changed."),
            ("rate.deleted", "A rate was removed."),
        ),
        *_types(
            _CP,
            "chargestation",
            ("charger.connected", "A charger opened its OCPP connection."),
            ("charger.disconnected", "A charger's OCPP connection closed or went silent."),
            ("charger.boot", "A charger sent its boot information."),
            envelope=Envelope.CHARGER,
        ),
        *_types(
            _CP,
            "connector",
            ("connector.status_changed", "A connector reported a new status."),
            envelope=Envelope.CHARGER,
        ),
        *_types(
            _CP,
            "session",
            ("transaction.started", "A charger started a transaction."),
            ("transaction.updated", "A running transaction reported meter values."),
            ("transaction.stopped", "A charger stopped a transaction."),
            envelope=Envelope.CHARGER,
        ),
        # The platform's news about the webhooks themselves (webhooks.delivery.operational): raised by
        # the endpoint services and by delivery outcomes, not by a model's save.
        *_types(
            _OPS,
            "webhook",
            ("webhook.created", "A webhook was registered."),
            ("webhook.updated", "A webhook's settings changed, or it was enabled again."),
            ("webhook.deleted", "A webhook was deleted."),
            (
                "webhook.disabled",
                "A webhook was disabled: by a user, for answering 410 Gone, or for failing continuously.",
            ),
            (
                "webhook.failing",
                "A webhook has failed for a while (its owners were emailed): it will be disabled "
                "unless a delivery succeeds.",
            ),
            ("webhook.recovered", "A delivery to a webhook that was failing succeeded."),
        ),
        *_types(
            _OPS,
            "delivery",
            ("delivery.exhausted", "A delivery failed its last attempt: it is not retried any more."),
        ),
    ]
}

SUBSCRIBABLE = frozenset(name for name, t in EVENT_TYPES.items() if t.subscribable)

# Operational events: news about webhooks and deliveries rather than the network.
OPERATIONAL = frozenset(name for name, t in EVENT_TYPES.items() if t.category is Category.OPERATIONS)
# Never delivered to the webhook they are about (webhooks.routing.matching): news of its failing, of its
# disabling, of its deliveries given up on would only queue behind its own failures (and a disabled
# webhook receives nothing), and news of its recovery belongs with them. It hears of itself only as
# `webhook.created` and `webhook.updated`.
NOT_TO_ITS_SUBJECT = frozenset(
    {"webhook.disabled", "webhook.failing", "webhook.recovered", "delivery.exhausted"}
)


# Which change raises which event.

ANY = object()  # a transition's `old` that matches every previous value


@dataclass(frozen=True)
class Rule:
    """Raise `events` when a save matches.

    `on` is one of:
    - "create" / "delete": the object was created / deleted;
    - "fields": any of `fields` changed (an empty set means any field but `ignore`);
    - "transition": `fields` (one field) went from `old` (default: anything) to `new`.
    `unless_raised`: skip this rule if an earlier rule of the same save already raised an event.
    """

    on: str
    events: tuple[str, ...]
    fields: frozenset[str] = frozenset()
    old: Any = ANY
    new: Any = ANY
    ignore: frozenset[str] = frozenset()
    unless_raised: bool = False


def on_create(*events: str) -> Rule:
    return Rule("create", events)


def on_delete(*events: str) -> Rule:
    return Rule("delete", events)


def on_fields(*fields: str, events: tuple[str, ...]) -> Rule:
    return Rule("fields", events, fields=frozenset(fields))


def on_any_field_but(*ignore: str, events: tuple[str, ...], unless_raised: bool = False) -> Rule:
    return Rule("fields", events, ignore=frozenset({"updated_at", *ignore}), unless_raised=unless_raised)


def on_transition(field_name: str, *, old: Any = ANY, new: Any = ANY, events: tuple[str, ...]) -> Rule:
    return Rule("transition", events, fields=frozenset({field_name}), old=old, new=new)


@dataclass(frozen=True)
class Source:
    """A model whose changes raise events.

    `subject` names the attribute path from the changed instance to the object carried as `data`
    ("" for the instance itself, "chargestation" for a connector's station).
    """

    model: str
    subject: str
    rules: tuple[Rule, ...]
    ignore: frozenset[str] = field(default=frozenset())


_BOOT_FIELDS = (
    "vendor",
    "model",
    "charge_point_serial_number",
    "charge_box_serial_number",
    "firmware_version",
    "last_boot_at",
)

SOURCES: tuple[Source, ...] = (
    Source(
        "organizations.Organization",
        "",
        (on_any_field_but(events=("organization.updated",)),),
    ),
    Source(
        "chargestations.Location",
        "",
        (
            on_create("location.created"),
            on_any_field_but(events=("location.updated",)),
            on_delete("location.deleted"),
        ),
    ),
    Source(
        "chargestations.Chargestation",
        "",
        (
            on_create("chargestation.created"),
            on_fields(
                "endpoint",
                "active",
                "public",
                "open_for_business",
                "meta_data",
                events=("chargestation.updated",),
            ),
            on_transition(
                "online", old=False, new=True, events=("chargestation.online", "charger.connected")
            ),
            on_transition(
                "online", old=True, new=False, events=("chargestation.offline", "charger.disconnected")
            ),
            on_fields("last_boot_at", events=("charger.boot",)),
            on_delete("chargestation.deleted"),
        ),
    ),
    Source(
        "chargestations.Connector",
        "chargestation",
        (
            on_create("chargestation.connector.created"),
            on_any_field_but("status", events=("chargestation.connector.updated",)),
            on_fields(
                "status", events=("chargestation.connector_status.updated", "connector.status_changed")
            ),
            on_delete("chargestation.connector.deleted"),
        ),
    ),
    Source(
        "chargestations.Rate",
        "",
        (
            on_create("rate.created"),
            on_any_field_but(events=("rate.updated",)),
            on_delete("rate.deleted"),
        ),
    ),
    # A price component is part of its rate: any change to one is a change to the rate.
    Source(
        "chargestations.PriceComponent",
        "rate",
        (on_create("rate.updated"), on_any_field_but(events=("rate.updated",)), on_delete("rate.updated")),
    ),
    Source(
        "sessions_app.Driver",
        "",
        (
            on_create("user.created"),
            on_any_field_but(events=("user.updated",)),
            on_delete("user.deleted"),
        ),
    ),
    Source(
        "sessions_app.IdTag",
        "driver",
        (on_create("user.updated"), on_any_field_but(events=("user.updated",)), on_delete("user.updated")),
    ),
    Source(
        "sessions_app.Session",
        "",
        (
            on_create("session.created"),
            on_transition("status", new="started", events=("session.started", "transaction.started")),
            on_transition("status", new="ended", events=("session.ended", "transaction.stopped")),
            on_transition("status", new="cancelled", events=("session.cancelled",)),
            on_transition("status", new="start_failed", events=("session.start_failure",)),
            on_fields("stop_failed_at", events=("session.stop_failure",)),
            on_transition("ev_charged_at", old=None, events=("session.ev_charged",)),
            on_transition(
                "energy_ceiling_exceeded_at", old=None, events=("session.stop_energy_ceiling_exceeded",)
            ),
            on_transition(
                "time_ceiling_exceeded_at", old=None, events=("session.stop_time_ceiling_exceeded",)
            ),
            on_transition(
                "cost_ceiling_exceeded_at", old=None, events=("session.stop_cost_ceiling_exceeded",)
            ),
            # A change of `ceilings` itself (the API's) is a session.updated.
            on_any_field_but(
                "status",
                "stop_failed_at",
                "stop_failure_reason",
                "failure_reason",
                "ev_charged_at",
                "energy_ceiling_exceeded_at",
                "time_ceiling_exceeded_at",
                "cost_ceiling_exceeded_at",
                events=("session.updated",),
                unless_raised=True,
            ),
            on_fields("energy_report", events=("transaction.updated",)),
        ),
    ),
)
