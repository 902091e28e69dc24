"""Celery tasks: ids in, one service call, nothing returned."""

from celery import shared_task

from webhooks.delivery import sending as delivery
from webhooks.delivery import sweeper


@shared_task(ignore_result=True)
def deliveries_send(delivery_ids: list[int]) -> None:
    delivery.deliveries_send(delivery_ids=delivery_ids)


@shared_task(ignore_result=True)
def deliveries_sweep() -> None:
    sweeper.deliveries_sweep()


@shared_task(ignore_result=True)
def outbox_purge() -> None:
    sweeper.outbox_purge()
