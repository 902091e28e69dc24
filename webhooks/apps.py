from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from webhooks.delivery import tasks  # noqa: F401 - registers the tasks the outbox publishes by name
        from webhooks.outbox import signals

        signals.connect()
