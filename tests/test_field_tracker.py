"""The field tracker every catalog model carries (edrv_project.db.FieldTracker): django-model-utils'
answers, without rebuilding the instance's set of deferred fields at every field read and write."""

from collections.abc import Iterator
from typing import Any

import pytest

from chargestations.models import Location
from chargestations.serializers import LocationSerializer
from tests.factories import LocationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def deferred_sets_built(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[None]]:
    """One entry per time an instance's set of deferred fields is built."""
    built: list[None] = []
    original = Location.get_deferred_fields

    def counted(self: Location) -> Any:
        built.append(None)
        return original(self)

    monkeypatch.setattr(Location, "get_deferred_fields", counted)
    yield built


def test_reading_and_writing_loaded_fields_builds_no_deferred_set(deferred_sets_built: list[None]) -> None:
    location = Location.objects.get(pk=LocationFactory.create().pk)
    deferred_sets_built.clear()  # loading the row is not the point here

    representation = LocationSerializer(location).data  # every field read, as a snapshot reads them
    location.name = "Renamed"
    location.timezone = "Europe/Paris"

    assert deferred_sets_built == []  # model_utils' own wrapper built it at every read and write
    assert representation["name"] == location.tracker.previous("name") != location.name


def test_a_row_loads_without_building_a_deferred_set_per_field(deferred_sets_built: list[None]) -> None:
    pk = LocationFactory.create().pk

    Location.objects.get(pk=pk)

    # Django's constructor sets every field; model_utils asked for the deferred set at each. The
    # tracker itself takes one snapshot of the saved values.
    assert len(deferred_sets_built) <= 1


def test_a_deferred_field_read_later_is_tracked_from_its_loaded_value() -> None:
    created = LocationFactory.create(timezone="Europe/Berlin")
    location = Location.objects.only("name").get(pk=created.pk)
    assert "timezone" in location.get_deferred_fields()

    assert location.timezone == "Europe/Berlin"
    assert not location.tracker.has_changed("timezone")
    location.timezone = "Europe/Paris"
    assert location.tracker.has_changed("timezone")
    assert location.tracker.previous("timezone") == "Europe/Berlin"


def test_a_deferred_field_set_before_it_was_read_keeps_its_previous_value() -> None:
    created = LocationFactory.create(timezone="Europe/Berlin")
    location = Location.objects.only("name").get(pk=created.pk)

    location.timezone = "Europe/Paris"

    assert location.tracker.previous("timezone") == "Europe/Berlin"
    assert location.tracker.changed() == {"timezone": "Europe/Berlin"}


def test_a_save_resets_what_changed() -> None:
    location = Location.objects.get(pk=LocationFactory.create(name="Before").pk)
    location.name = "After"
    assert location.tracker.changed() == {"name": "Before"}

    location.save()

    assert location.tracker.changed() == {}
    assert location.tracker.previous("name") == "After"
