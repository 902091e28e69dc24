"""Celery tasks: ids in, one service call, nothing returned. Names are stable across releases."""

from celery import shared_task

from webhooks.delivery import queue, sending, sweeper


@shared_task(name=queue.FAN_OUT, ignore_result=True)
def events_fan_out(event_ids: list[int] | None = None) -> None:
    if event_ids is None:
        sending.events_drain()
    else:
        sending.events_deliver(event_ids=event_ids)


@shared_task(name=queue.SEND, ignore_result=True)
def deliveries_send(delivery_ids: list[int] | None = None) -> None:
    if delivery_ids is None:
        sending.deliveries_drain()
    else:
        sending.deliveries_send(delivery_ids=delivery_ids)


@shared_task(name="webhooks.outbox_sweep", ignore_result=True)
def outbox_sweep() -> None:
    sweeper.outbox_sweep()


@shared_task(name="webhooks.outbox_purge", ignore_result=True)
def outbox_purge() -> None:
    sweeper.outbox_purge()
