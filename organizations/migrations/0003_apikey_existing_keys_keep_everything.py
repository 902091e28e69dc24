import secrets

from django.db import migrations


def existing_keys_keep_everything(apps, schema_editor):
    # Keys made before scopes existed could do everything: they keep doing it ("*"), each with
    # its own public id.
    ApiKey = apps.get_model("organizations", "ApiKey")
    for api_key in ApiKey.objects.filter(public_id__isnull=True).only("pk"):
        ApiKey.objects.filter(pk=api_key.pk).update(scopes=["*"], public_id="key_" + secrets.token_hex(12))


class Migration(migrations.Migration):
    dependencies = [
        ("organizations", "0002_apikey_scopes_expiry_public_id"),
    ]

    operations = [
        migrations.RunPython(existing_keys_keep_everything, migrations.RunPython.noop),
    ]
