"""Secrets at rest: model fields whose column holds a Fernet token (encrypted and authenticated).

Keys are `settings.ENCRYPTION_KEYS` (from the environment), newest first: the first encrypts, every
one decrypts; with `DEBUG` off the settings refuse to load without one. A key is rotated by putting a
new one first, re-encrypting (`secrets_reencrypt`, `manage.py encryption_rotate`), then dropping the
old one. With `DEBUG` on and no key set, a development key is derived from `SECRET_KEY`: secrets are
still encrypted, and a restart reads them. Settings are read at each use, so that tests can override
them.
"""

import base64
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django import forms
from django.apps import apps
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction

GENERATE_KEY = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'


def fernet() -> MultiFernet:
    """The configured keys; ImproperlyConfigured when there are none (and `DEBUG` is off) or one is bad."""
    return _fernet(_keys(), settings.DEBUG, settings.SECRET_KEY)


def _keys() -> tuple[str, ...]:
    return tuple(key.strip() for key in settings.ENCRYPTION_KEYS if key.strip())


@lru_cache(maxsize=8)
def _fernet(keys: tuple[str, ...], debug: bool, secret_key: str) -> MultiFernet:
    if not keys and not debug:
        raise ImproperlyConfigured(
            "ENCRYPTION_KEYS is not set: stored secrets are encrypted with it. Generate a key with "
            f"`{GENERATE_KEY}` and set ENCRYPTION_KEYS to it."
        )
    try:
        return MultiFernet([Fernet(key) for key in keys or [_development_key(secret_key)]])
    except ValueError:  # the message says nothing of the key itself, nor do we
        raise ImproperlyConfigured(
            f"ENCRYPTION_KEYS holds a value that is not a Fernet key. Generate one with `{GENERATE_KEY}`."
        ) from None


def _development_key(secret_key: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"edrv development encryption key")
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))


def encrypt(text: str) -> str:
    return fernet().encrypt(text.encode()).decode("ascii")


def decrypt(token: str) -> str:
    return _decrypted(token, _keys(), settings.DEBUG, settings.SECRET_KEY)


# A worker loads the same endpoints' secrets at every claim, and a token decrypts (an HMAC check
# and AES) to the same text every time: once per process, under the keys of the moment. The text
# is in this process's memory while it is in use anyway; a token that no key decrypts raises, and
# is not kept.
@lru_cache(maxsize=4096)
def _decrypted(token: str, keys: tuple[str, ...], debug: bool, secret_key: str) -> str:
    try:
        return _fernet(keys, debug, secret_key).decrypt(token.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "A stored secret decrypts with none of ENCRYPTION_KEYS: was its key dropped before "
            "`manage.py encryption_rotate` had run?"
        ) from None


@checks.register(checks.Tags.security)
def _keys_check(**_: Any) -> list[checks.CheckMessage]:
    # A value that is no Fernet key (the settings refuse a missing one) stops management commands
    # (migrate, runserver, check...) at start rather than at their first secret.
    fernet()
    return []


class EncryptedTextField(models.TextField):
    """Text whose column holds a Fernet token of it; read back as the text.

    A token is random, so nothing can be looked up by the column: a filter on it is an error
    rather than a query that never matches.
    """

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return None if value is None else encrypt(self.dumps(value))

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        return None if value is None else self.loads(decrypt(value))

    def dumps(self, value: Any) -> str:
        return str(value)

    def loads(self, text: str) -> Any:
        return text

    def get_lookup(self, lookup_name: str) -> Any:
        return super().get_lookup(lookup_name) if lookup_name == "isnull" else None

    def get_transform(self, lookup_name: str) -> Any:
        return None


class EncryptedJSONField(EncryptedTextField):
    """A JSON value (a dict of header values...) encrypted whole, as one token."""

    _pyi_private_set_type: Any
    _pyi_private_get_type: Any

    def to_python(self, value: Any) -> Any:
        return value

    def dumps(self, value: Any) -> str:
        return json.dumps(value)

    def loads(self, text: str) -> Any:
        return json.loads(text)

    def value_to_string(self, obj: models.Model) -> Any:
        return self.value_from_object(obj)  # the value itself, as models.JSONField: serializers dump it

    def formfield(self, **kwargs: Any) -> Any:
        return super().formfield(**{"form_class": forms.JSONField, **kwargs})


def secrets_reencrypt(*, batch_size: int = 500) -> dict[str, int]:
    """Re-encrypt every encrypted column of every model under the newest key; rows done per model.

    Each batch is locked while it is rewritten, so that a change made meanwhile is not overwritten.
    Running it again only encrypts again: it is safe to repeat.
    """
    done: dict[str, int] = {}
    for model in apps.get_models():
        names = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if not names:
            continue
        rows, last_pk = 0, None
        while True:
            with transaction.atomic():
                batch = model._base_manager.select_for_update().order_by("pk").only("pk", *names)
                if last_pk is not None:
                    batch = batch.filter(pk__gt=last_pk)
                objects = list(batch[:batch_size])
                # Loading decrypted them with whichever key fits; saving encrypts with the first.
                model._base_manager.bulk_update(objects, names)
            if not objects:
                break
            rows, last_pk = rows + len(objects), objects[-1].pk
        done[model._meta.label] = rows
    return done
