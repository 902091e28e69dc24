"""Secrets at rest (edrv_project/encryption.py): signing secrets and custom headers are stored as
Fernet tokens, the encryption keys rotate, idempotency records keep no secret, and no key is an error."""

import json
import logging
import os
import shutil
import subprocess
from io import StringIO
from typing import Any

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from chargestations.models import Chargestation
from edrv_project import encryption
from organizations.models import Organization
from tests.e2e.receiver import Receiver, sequence, status
from tests.pipeline import deliver_waiting
from webhooks.models import Endpoint, IdempotencyRecord

pytestmark = pytest.mark.django_db

URL = "https://93.184.215.14/edrv"  # public: accepted by the SSRF guard without DNS
GIVEN_SECRET = "given-at-creation-0123456789"
HEADER_VALUE = "sk_live_customers-own-api-key-4711"
OLD_KEY, NEW_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def webhook_post(api: APIClient, *, idempotency_key: str | None = None, **fields: Any) -> Any:
    body = {"url": URL, "events": ["chargestation.updated"], "headers": {"x-api-key": HEADER_VALUE}, **fields}
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    return api.post("/api/v1/webhooks", body, format="json", headers=headers)


def webhook_create(api: APIClient, *, idempotency_key: str | None = None, **fields: Any) -> dict[str, Any]:
    response = webhook_post(api, idempotency_key=idempotency_key, **fields)
    assert response.status_code == 201, response.content
    return response.json()


def secret_rotate(api: APIClient, webhook_id: str, *, idempotency_key: str | None = None) -> Any:
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    return api.post(f"/api/v1/webhooks/{webhook_id}/rotate-secret", {}, format="json", headers=headers)


def stored(webhook_id: str) -> str:
    """The endpoint's secret, previous secret and headers columns as stored, read past the ORM."""
    table = Endpoint._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT secret, previous_secret, headers FROM {table} WHERE public_id = %s", [webhook_id]
        )
        return " ".join(cursor.fetchone())


def test_the_columns_hold_no_plain_text_and_the_model_reads_the_values(api: APIClient) -> None:
    created = webhook_create(api, secret=GIVEN_SECRET)
    rotated = secret_rotate(api, created["id"]).json()

    raw = stored(created["id"])

    assert GIVEN_SECRET not in raw and rotated["secret"] not in raw and HEADER_VALUE not in raw
    endpoint = Endpoint.objects.get()
    assert (endpoint.secret, endpoint.previous_secret) == (rotated["secret"], GIVEN_SECRET)
    assert endpoint.headers == {"x-api-key": HEADER_VALUE}


def test_nothing_can_be_looked_up_by_an_encrypted_column(api: APIClient) -> None:
    created = webhook_create(api)

    with pytest.raises(FieldError, match="Unsupported lookup"):
        Endpoint.objects.filter(secret=created["secret"]).exists()


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="pg_dump: PostgreSQL only; this run is on SQLite"
)
@pytest.mark.django_db(transaction=True)  # committed: pg_dump reads through its own connection
def test_a_pg_dump_holds_no_signing_secret_nor_header_value(api: APIClient) -> None:
    created = webhook_create(api, secret=GIVEN_SECRET, idempotency_key="create-1")
    rotated = secret_rotate(api, created["id"], idempotency_key="rotate-1").json()
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump is not installed (Debian: postgresql-client)"
    database = connection.settings_dict

    dump = subprocess.run(
        [
            pg_dump,
            f"--host={database['HOST'] or '127.0.0.1'}",
            f"--port={database['PORT'] or 5432}",
            f"--username={database['USER'] or 'postgres'}",
            "--no-password",
            database["NAME"],
        ],
        env={**os.environ, "PGPASSWORD": database["PASSWORD"] or ""},
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    assert created["id"] in dump and "create-1" in dump  # the endpoint and the record are there...
    for secret in (GIVEN_SECRET, rotated["secret"], HEADER_VALUE):
        assert secret not in dump  # ...their secrets are not


def test_rotating_the_encryption_key_keeps_deliveries_verifying(
    api: APIClient, settings: Settings, receiver: Receiver, station: Chargestation
) -> None:
    settings.ENCRYPTION_KEYS = [OLD_KEY]
    created = webhook_create(api, url=receiver.url("/rotated"), secret=GIVEN_SECRET)
    receiver.expect_secrets("/rotated", [GIVEN_SECRET])
    settings.ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]

    out = StringIO()
    call_command("encryption_rotate", stdout=out)
    call_command("encryption_rotate", stdout=out)  # a repeat does no harm
    settings.ENCRYPTION_KEYS = [NEW_KEY]

    assert out.getvalue().count("webhooks.Endpoint: 1 rows re-encrypted.") == 2
    secret_token = stored(created["id"]).split()[0]
    Fernet(NEW_KEY.encode()).decrypt(secret_token.encode())
    with pytest.raises(InvalidToken):
        Fernet(OLD_KEY.encode()).decrypt(secret_token.encode())
    assert Endpoint.objects.get().secret == GIVEN_SECRET
    station.active = not station.active
    station.save()
    deliver_waiting()
    [request] = receiver.wait_for(1, path="/rotated")
    assert request.verified
    assert request.headers["x-api-key"] == HEADER_VALUE


def test_a_replayed_create_shows_the_same_secret_and_the_record_keeps_none(api: APIClient) -> None:
    first = webhook_post(api, idempotency_key="create-1")

    again = webhook_post(api, idempotency_key="create-1")

    assert again.headers["Idempotent-Replayed"] == "true"
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    kept = json.dumps(IdempotencyRecord.objects.get().response)
    assert first.json()["secret"] not in kept and HEADER_VALUE not in kept
    assert Endpoint.objects.count() == 1


def test_a_replayed_rotation_shows_the_same_secret_and_the_record_keeps_none(api: APIClient) -> None:
    created = webhook_create(api)
    first = secret_rotate(api, created["id"], idempotency_key="rotate-1")

    again = secret_rotate(api, created["id"], idempotency_key="rotate-1")

    assert again.headers["Idempotent-Replayed"] == "true"
    assert (again.status_code, again.json()) == (200, first.json())
    assert first.json()["secret"] not in json.dumps(IdempotencyRecord.objects.get().response)


def test_a_replay_for_a_webhook_deleted_since_is_a_404(api: APIClient) -> None:
    created = webhook_create(api, idempotency_key="create-1")
    api.delete(f"/api/v1/webhooks/{created['id']}")

    again = webhook_post(api, idempotency_key="create-1")

    assert (again.status_code, again.json()) == (
        404,
        {"detail": "The webhook of this request has since been deleted."},
    )


def test_no_log_line_holds_a_secret_or_a_header_value(
    api: APIClient, receiver: Receiver, station: Chargestation, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    receiver.behave("/logged", sequence([status(500)]))
    created = webhook_create(api, url=receiver.url("/logged"), secret=GIVEN_SECRET, idempotency_key="c")
    webhook_create(api, url=receiver.url("/logged"), secret=GIVEN_SECRET, idempotency_key="c")
    rotated = secret_rotate(api, created["id"]).json()
    api.get(f"/api/v1/webhooks/{created['id']}/secret")
    station.active = not station.active
    station.save()

    deliver_waiting()

    receiver.wait_for(1, path="/logged")
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "webhooks.delivery.failed" in logged and "webhooks.idempotency.replayed" in logged
    for secret in (GIVEN_SECRET, rotated["secret"], HEADER_VALUE):
        assert secret not in logged


@pytest.mark.django_db(transaction=True)  # migrates back and forth: outside a test's transaction
def test_the_migration_encrypts_what_was_stored_in_plain_text(organization: Organization) -> None:
    before, after = ("webhooks", "0004_event_indexes"), ("webhooks", "0006_endpoint_secrets_encrypt")
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate([before])
        plain = executor.loader.project_state(before).apps
        plain.get_model("webhooks", "Endpoint").objects.create(
            organization_id=organization.pk,
            url=URL,
            secret=GIVEN_SECRET,
            previous_secret="previous-secret-0123456789",
            headers={"x-api-key": HEADER_VALUE},
        )
        plain.get_model("webhooks", "IdempotencyRecord").objects.create(
            organization_id=organization.pk, key="k", request_fingerprint="f", status_code=201,
            response={"id": "wh_1", "secret": GIVEN_SECRET},
        )  # fmt: skip

        executor = MigrationExecutor(connection)
        executor.migrate([after])

        migrated = executor.loader.project_state(after).apps
        endpoint = migrated.get_model("webhooks", "Endpoint").objects.get()
        raw = stored(endpoint.public_id)
        for value in (GIVEN_SECRET, "previous-secret-0123456789", HEADER_VALUE):
            assert value not in raw
        assert (endpoint.secret, endpoint.previous_secret) == (GIVEN_SECRET, "previous-secret-0123456789")
        assert endpoint.headers == {"x-api-key": HEADER_VALUE}
        record = migrated.get_model("webhooks", "IdempotencyRecord").objects.get()
        assert record.response == {"id": "wh_1", "secret": None}
    finally:
        MigrationExecutor(connection).migrate(latest)


def test_with_debug_off_and_no_key_the_module_refuses(settings: Settings) -> None:
    settings.DEBUG, settings.ENCRYPTION_KEYS = False, []

    with pytest.raises(ImproperlyConfigured, match=r"ENCRYPTION_KEYS is not set.*Fernet\.generate_key\(\)"):
        encryption.fernet()


def test_a_value_that_is_no_fernet_key_is_refused_without_being_shown(settings: Settings) -> None:
    settings.ENCRYPTION_KEYS = ["not-a-key-but-maybe-a-password"]

    with pytest.raises(ImproperlyConfigured) as refused:
        encryption.fernet()

    assert "not-a-key" not in str(refused.value)


def test_with_debug_on_and_no_key_a_key_derived_from_secret_key_still_encrypts(settings: Settings) -> None:
    settings.DEBUG, settings.ENCRYPTION_KEYS = True, []

    token = encryption.encrypt(GIVEN_SECRET)

    assert GIVEN_SECRET not in token
    encryption._fernet.cache_clear()  # as after a restart: the same key again
    assert encryption.decrypt(token) == GIVEN_SECRET
    settings.SECRET_KEY = "another-secret-key"
    with pytest.raises(ImproperlyConfigured, match="decrypts with none of ENCRYPTION_KEYS"):
        encryption.decrypt(token)
