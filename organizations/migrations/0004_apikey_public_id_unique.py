import organizations.models
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("organizations", "0003_apikey_existing_keys_keep_everything"),
    ]

    operations = [
        migrations.AlterField(
            model_name="apikey",
            name="public_id",
            field=models.CharField(
                default=organizations.models.new_api_key_id, editable=False, max_length=40, unique=True
            ),
        ),
    ]
