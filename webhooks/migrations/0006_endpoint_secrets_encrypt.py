# Encrypts the endpoint secrets and headers stored in plain text (0005 made their columns text), and
# takes the secrets out of the answers kept for idempotent replays: a replay now reads the
# webhook's own secret (webhooks/api/idempotency.py). Written as plain SQL: the model's fields would
# try to decrypt the plain text. A value that already decrypts is left as it is, so a rerun does no
# harm; backwards, the values are decrypted again (the answers keep no secret).

from cryptography.fernet import InvalidToken
from django.db import migrations

from edrv_project import encryption

COLUMNS = ("secret", "previous_secret", "headers")
BATCH = 500


def _decrypted(value):
    try:
        return encryption.fernet().decrypt(value.encode()).decode()
    except InvalidToken:
        return None


def _encrypted(value):
    return value if _decrypted(value) is not None else encryption.encrypt(value)


def _plain(value):
    plain = _decrypted(value)
    return value if plain is None else plain


def _endpoints_rewrite(apps, schema_editor, change):
    connection = schema_editor.connection
    table = connection.ops.quote_name(apps.get_model("webhooks", "Endpoint")._meta.db_table)
    columns = [connection.ops.quote_name(column) for column in COLUMNS]
    select = f"SELECT id, {', '.join(columns)} FROM {table} WHERE id > %s ORDER BY id LIMIT %s"
    update = f"UPDATE {table} SET {', '.join(f'{column} = %s' for column in columns)} WHERE id = %s"
    last = 0
    with connection.cursor() as cursor:
        while True:
            cursor.execute(select, [last, BATCH])
            rows = cursor.fetchall()
            if not rows:
                break
            changed = [[*(None if v is None else change(v) for v in values), pk] for pk, *values in rows]
            cursor.executemany(update, changed)
            last = rows[-1][0]


def secrets_encrypt(apps, schema_editor):
    _endpoints_rewrite(apps, schema_editor, _encrypted)
    IdempotencyRecord = apps.get_model("webhooks", "IdempotencyRecord")
    for record in IdempotencyRecord.objects.filter(response__has_key="secret").iterator():
        if record.response["secret"] is not None:
            record.response = {**record.response, "secret": None}
            record.save(update_fields=["response"])


def secrets_decrypt(apps, schema_editor):
    _endpoints_rewrite(apps, schema_editor, _plain)


class Migration(migrations.Migration):

    dependencies = [
        ('webhooks', '0005_endpoint_secrets_text'),
    ]

    operations = [
        migrations.RunPython(secrets_encrypt, secrets_decrypt),
    ]
