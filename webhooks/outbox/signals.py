"""Thin receivers: every save or delete of a catalog model goes to the events service.

A child deleted along with its parent (a rate's price components, a station's connectors, a
driver's tokens) raises nothing of its own: the parent's `deleted` event says it all.
"""

import threading
from typing import Any

from django.apps import apps
from django.db.models import Model
from django.db.models.signals import post_delete, post_save, pre_delete

from webhooks.catalog.triggers import source_for, subject_of
from webhooks.catalog.types import SOURCES
from webhooks.outbox import recording as events

_deleting = threading.local()


def _being_deleted() -> set[tuple[str, Any]]:
    if not hasattr(_deleting, "keys"):
        _deleting.keys = set()
    return _deleting.keys


def on_save(sender: type[Model], instance: Model, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if not raw:  # fixtures being loaded are not changes
        events.change_record(instance=instance, created=created)


def on_pre_delete(sender: type[Model], instance: Model, **kwargs: Any) -> None:
    _being_deleted().add((sender._meta.label, instance.pk))


def on_delete(sender: type[Model], instance: Model, **kwargs: Any) -> None:
    _being_deleted().discard((sender._meta.label, instance.pk))
    source = source_for(sender)
    if source is not None and source.subject:
        parent = subject_of(source, instance)
        if (parent._meta.label, parent.pk) in _being_deleted():
            return
    events.change_record(instance=instance, deleted=True)


def connect() -> None:
    for source in SOURCES:
        model = apps.get_model(source.model)
        uid = f"webhooks.{source.model}"
        post_save.connect(on_save, sender=model, dispatch_uid=f"{uid}.save")
        pre_delete.connect(on_pre_delete, sender=model, dispatch_uid=f"{uid}.pre_delete")
        post_delete.connect(on_delete, sender=model, dispatch_uid=f"{uid}.delete")


def disconnect() -> None:
    """Stop listening (benchmarks measure a save without webhooks; `connect()` listens again)."""
    for source in SOURCES:
        model = apps.get_model(source.model)
        uid = f"webhooks.{source.model}"
        post_save.disconnect(sender=model, dispatch_uid=f"{uid}.save")
        pre_delete.disconnect(sender=model, dispatch_uid=f"{uid}.pre_delete")
        post_delete.disconnect(sender=model, dispatch_uid=f"{uid}.delete")
