"""What every public object of the product shares: a public id, its timestamps, atomic saves."""

import secrets
from typing import Any

from django.db import models, router, transaction


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
