"""What every public object of the product shares: a public id and its timestamps."""

import secrets

from django.db import models


def new_object_id() -> str:
    """An eDRV-style id: 24 hex characters, like the MongoDB ObjectIds eDRV's API returns."""
    return secrets.token_hex(12)


class PublicModel(models.Model):
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
