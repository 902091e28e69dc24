# Encrypted secrets are Fernet tokens, longer than the values: text columns (headers too, a token
# of their JSON). 0006 encrypts the values already stored.

import edrv_project.encryption
import webhooks.signing
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('webhooks', '0004_event_indexes'),
    ]

    operations = [
        migrations.AlterField(
            model_name='endpoint',
            name='secret',
            field=edrv_project.encryption.EncryptedTextField(default=webhooks.signing.secret_generate, help_text='Signs every delivery.'),
        ),
        migrations.AlterField(
            model_name='endpoint',
            name='previous_secret',
            field=edrv_project.encryption.EncryptedTextField(blank=True),
        ),
        migrations.AlterField(
            model_name='endpoint',
            name='headers',
            field=edrv_project.encryption.EncryptedJSONField(blank=True, default=dict, help_text='Extra HTTP headers sent with every delivery.'),
        ),
    ]
