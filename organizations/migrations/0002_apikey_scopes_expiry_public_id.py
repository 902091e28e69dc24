from django.db import migrations, models


class Migration(migrations.Migration):
    """API keys get scopes, an expiry and a public id (filled in by 0003, made unique by 0004)."""

    dependencies = [
        ("organizations", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="apikey",
            name="scopes",
            field=models.JSONField(blank=True, default=list, help_text="Scope names; * is everything."),
        ),
        migrations.AddField(
            model_name="apikey",
            name="expires_at",
            field=models.DateTimeField(blank=True, help_text="Empty: never expires.", null=True),
        ),
        migrations.AddField(
            model_name="apikey",
            name="public_id",
            field=models.CharField(editable=False, max_length=40, null=True),
        ),
    ]
