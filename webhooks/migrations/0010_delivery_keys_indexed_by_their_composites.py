# A delivery's event and endpoint lose their own indexes: the unique (event, endpoint) and
# delivery_endpoint_recent (endpoint, created_at) lead with them and serve their lookups, and every
# index is written for every delivery twice (its row, then its outcome). Only the indexes go: the
# foreign keys stay as they are (Django's AlterField would drop and re-add them, validating every
# row of the table again), and on PostgreSQL they go CONCURRENTLY, without blocking writes.

from django.db import migrations, models

# Each key (it refers to the model of its name) and the index 0001 gave it.
INDEXES = {
    "endpoint": "webhooks_delivery_endpoint_id_6cbee67d",
    "event": "webhooks_delivery_event_id_b6f5af91",
}


def indexes_drop(apps, schema_editor):
    concurrently = " CONCURRENTLY" if schema_editor.connection.vendor == "postgresql" else ""
    for name in INDEXES.values():
        schema_editor.execute(f"DROP INDEX{concurrently} IF EXISTS {schema_editor.quote_name(name)}")


def indexes_create(apps, schema_editor):
    Delivery = apps.get_model("webhooks", "Delivery")
    for field, name in INDEXES.items():
        schema_editor.add_index(Delivery, models.Index(fields=[field], name=name))


class Migration(migrations.Migration):
    atomic = False  # DROP INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("webhooks", "0009_endpoint_url_password"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="delivery",
                    name=field,
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=models.deletion.CASCADE,
                        related_name="deliveries",
                        to=f"webhooks.{field}",
                    ),
                )
                for field in INDEXES
            ],
            database_operations=[migrations.RunPython(indexes_drop, indexes_create)],
        ),
    ]
