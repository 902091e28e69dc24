"""Writing models the way every service does: only what changed, and each change seen once.

Each child is saved on its own (never with a bulk update), so that the webhooks pipeline sees
every change through its `post_save` / `post_delete` receivers.
"""

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction

Child = TypeVar("Child", bound=models.Model)
Key = TypeVar("Key", bound=Hashable)


def model_assign(*, instance: models.Model, data: Mapping[str, Any], fields: Sequence[str]) -> bool:
    """Set the given fields that differ; True when anything changed (an unchanged PATCH saves nothing)."""
    changed = False
    for name in fields:
        if name in data and getattr(instance, name) != data[name]:
            setattr(instance, name, data[name])
            changed = True
    return changed


def model_save_unique(*, instance: models.Model, field: str, message: str) -> None:
    # A savepoint, so that a lost race leaves the caller's transaction usable.
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError as exc:
        raise ValidationError({field: message}) from exc


def children_replace(
    *,
    existing: Mapping[Key, Child],
    wanted: Mapping[Key, Mapping[str, Any]],
    new: Callable[[Key], Child],
    fields: Sequence[str],
    save: Callable[[Child], None] = lambda child: child.save(),
) -> None:
    """Make a parent's children exactly `wanted` (by natural key), touching only what differs.

    Children whose key is not wanted are deleted; wanted ones are created (`new(key)`) or updated,
    and saved only when something changed.
    """
    for key, child in existing.items():
        if key not in wanted:
            child.delete()
    for key, values in wanted.items():
        child = existing.get(key) or new(key)
        if model_assign(instance=child, data=values, fields=fields) or child.pk is None:
            save(child)
