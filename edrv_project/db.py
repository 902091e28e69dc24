"""What every public object of the product shares: a public id, its timestamps, atomic saves, and
the field tracker its changes are told by."""

import secrets
from typing import Any

import model_utils
from django.db import models, router, transaction
from model_utils.tracker import DescriptorWrapper, FullDescriptorWrapper


def new_object_id() -> str:
    """An eDRV-style id: 24 hex characters, like the MongoDB ObjectIds eDRV's API returns."""
    return secrets.token_hex(12)


class SavedWithItsEvents(models.Model):
    """A model whose save() and what its `post_save` receivers write commit together, or not at all.

    Django sends `post_save` after the row is written; in autocommit (a bare `save()` in a script or
    a shell) the change would be committed before the webhooks outbox records its event, and a
    crash in between would lose the event. Saving inside a transaction closes that gap; inside an
    existing one this adds nothing (no savepoint).
    """

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        with transaction.atomic(using=using, savepoint=False):
            super().save(*args, **kwargs)


class PublicModel(SavedWithItsEvents):
    public_id = models.CharField(
        max_length=40,
        unique=True,
        default=new_object_id,
        editable=False,
        help_text="The id the API and webhooks show as `_id`.",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class _LoadedFieldsFirst:
    """A tracked field's wrapper that reads and writes a loaded field as Django does.

    model_utils' wrapper asks the instance for the set of its deferred fields (built anew from every
    concrete field) at every read and write of a tracked field, to catch a deferred one being loaded:
    a model's save, its serialization and its construction from a row read each field, so that set
    was built some fifteen times per field. A field whose value is in the instance's `__dict__` is
    loaded, and one being set while the instance is built has nothing to load: both go straight to
    Django's descriptor, and the rest (a deferred field) to model_utils as before.
    """

    field_name: str
    descriptor: Any

    def __get__(self, instance: models.Model | None, owner: type[models.Model]) -> Any:
        if instance is not None and self.field_name in instance.__dict__:
            return self.descriptor.__get__(instance, owner)
        return super().__get__(instance, owner)  # type: ignore[misc]

    def __set__(self, instance: models.Model, value: Any) -> None:
        if self.field_name in instance.__dict__ or not hasattr(instance, "_instance_initialized"):
            if hasattr(self.descriptor, "__set__"):
                self.descriptor.__set__(instance, value)
            else:
                instance.__dict__[self.field_name] = value
            return
        super().__set__(instance, value)  # type: ignore[misc]


class _Wrapper(_LoadedFieldsFirst, DescriptorWrapper[Any]):
    pass


class _FullWrapper(_LoadedFieldsFirst, FullDescriptorWrapper[Any]):
    pass


class FieldTracker(model_utils.FieldTracker):
    """django-model-utils' FieldTracker (what changed since the instance was loaded or saved), with
    field reads and writes that cost what Django's own do (`_LoadedFieldsFirst`)."""

    def finalize_class(self, sender: type[models.Model], **kwargs: Any) -> None:
        super().finalize_class(sender, **kwargs)
        for field_name in self.fields:
            wrapper = sender.__dict__[field_name]
            faster = _FullWrapper if isinstance(wrapper, FullDescriptorWrapper) else _Wrapper
            setattr(sender, field_name, faster(field_name, wrapper.descriptor, wrapper.tracker_attname))
