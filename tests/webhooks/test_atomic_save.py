"""A bare save() in autocommit commits the change and its event together, or neither.

Django sends `post_save` after the row is written; without a transaction around the save, the
change would be committed before the outbox writes its event. Here a later `post_save` receiver
fails after the outbox wrote: nothing of the change may remain, and no event.
"""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django.db.models import Model
from django.db.models.signals import post_save

from chargestations.models import Location, PriceComponent
from organizations.models import Organization
from sessions_app.models import IdTag
from tests.factories import DriverFactory, EndpointFactory, LocationFactory, RateFactory
from webhooks.models import Delivery, Event

pytestmark = pytest.mark.django_db(transaction=True)


class Crash(Exception):
    pass


def crash(sender: Any, **kwargs: Any) -> None:
    raise Crash


@pytest.fixture
def crash_after_outbox() -> Iterator[Callable[..., None]]:
    """Arm a `post_save` receiver that fails after the outbox's own (connected first) has written."""
    armed: list[type[Model]] = []

    def arm(*models: type[Model]) -> None:
        for model in models:
            post_save.connect(crash, sender=model, weak=False, dispatch_uid="test-crash")
            armed.append(model)

    yield arm
    for model in armed:
        post_save.disconnect(sender=model, dispatch_uid="test-crash")


def test_a_bare_save_whose_transaction_fails_after_the_outbox_leaves_nothing(
    organization: Organization, crash_after_outbox: Callable[..., None]
) -> None:
    EndpointFactory.create(organization=organization, events=["location.updated"])
    location = LocationFactory.create(organization=organization, name="Before")
    events_before = Event.objects.count()
    crash_after_outbox(Location)
    assert connection.get_autocommit()

    location.name = "After"
    with pytest.raises(Crash):
        location.save()

    assert Location.objects.get(pk=location.pk).name == "Before"
    assert Event.objects.count() == events_before
    assert not Delivery.objects.filter(event__type="location.updated").exists()


def test_parts_saved_bare_are_atomic_with_their_events_too(
    organization: Organization, crash_after_outbox: Callable[..., None]
) -> None:
    rate = RateFactory.create(organization=organization)
    driver = DriverFactory.create(organization=organization)
    events_before = Event.objects.count()
    crash_after_outbox(PriceComponent, IdTag)

    with pytest.raises(Crash):
        PriceComponent(rate=rate, type="energy", price="0.30").save()
    with pytest.raises(Crash):
        IdTag(organization=organization, driver=driver, token="TAG-1").save()

    assert not PriceComponent.objects.filter(rate=rate).exists()
    assert not IdTag.objects.filter(token="TAG-1").exists()
    assert Event.objects.count() == events_before
