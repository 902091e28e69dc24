"""Which events one save or delete raises, by the catalog's rules. Pure: reads the field tracker."""

from functools import cache
from typing import Any

from django.apps import apps
from django.db.models import Model

from webhooks.catalog.types import ANY, SOURCES, Rule, Source


@cache
def source_for(model: type[Model]) -> Source | None:
    for source in SOURCES:
        if apps.get_model(source.model) is model:
            return source
    return None


def _matches(rule: Rule, changed: dict[str, Any], instance: Model) -> bool:
    if rule.on == "transition":
        (name,) = rule.fields
        if name not in changed:
            return False
        old, new = changed[name], getattr(instance, name)
        return (rule.old is ANY or old == rule.old) and (rule.new is ANY or new == rule.new)
    if rule.fields:
        return not rule.fields.isdisjoint(changed)
    return any(name not in rule.ignore for name in changed)


def _changed(instance: Model) -> dict[str, Any]:
    """The tracked fields whose value differs from the one saved last, with the old value.

    What the field tracker's `changed()` answers, read from the instance's loaded values: through
    its descriptors every field read looks up the instance's deferred fields, which makes
    `changed()` cost O(fields²) on every save. A field that was never loaded has not changed.
    """
    tracker: Any = instance.tracker  # type: ignore[attr-defined]
    loaded = instance.__dict__
    return {
        name: old
        for name, old in tracker.saved_data.items()
        if (attname := tracker.field_map[name]) in loaded and loaded[attname] != old
    }


def events_raised(
    source: Source, instance: Model, *, created: bool = False, deleted: bool = False
) -> list[str]:
    """The event types a change raises, in catalog order, each at most once."""
    kind = "create" if created else "delete" if deleted else None
    changed: dict[str, Any] = {} if kind else _changed(instance)
    raised: list[str] = []
    for rule in source.rules:
        if rule.unless_raised and raised:
            continue
        hit = (
            rule.on == kind
            if rule.on in ("create", "delete")
            else not kind and _matches(rule, changed, instance)
        )
        if hit:
            raised.extend(name for name in rule.events if name not in raised)
    return raised


def subject_of(source: Source, instance: Model) -> Model:
    """The object an event is about (a connector's events carry its chargestation)."""
    subject: Any = instance
    for attribute in filter(None, source.subject.split(".")):
        subject = getattr(subject, attribute)
    return subject
