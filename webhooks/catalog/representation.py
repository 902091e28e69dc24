"""A serializer's `to_representation`, the same dict, at the cost of reading the model's fields.

An event's `data` is its object's API representation, taken in the change's transaction: DRF's
generic path finds each field's value by its source (a Mapping check, a getattr, a callable check,
a related-object check) before the field represents it, and that search costs more than the rest
of a snapshot. Here a field whose source is one of the model's own columns is read from the
instance directly, and a nested serializer over the whole instance (`source="*"`) gets the same
treatment; every other field (related objects, methods, computed sources) goes through DRF's own
lookup. Each field still represents its value itself, so the output is the serializer's.
"""

from collections.abc import Callable
from typing import Any

from django.db.models import Model
from rest_framework.fields import Field, SkipField
from rest_framework.relations import PKOnlyObject
from rest_framework.serializers import Serializer

Read = Callable[[Model], Any]  # a field's value, from the instance
Represent = Callable[[Any], Any]  # that value, represented


class Representer:
    """`serializer.to_representation(instance)`, read field by field; the serializer's own for an
    instance of another model than the one it first represented."""

    def __init__(self, serializer: Serializer) -> None:
        self.serializer = serializer
        self.model: type[Model] | None = None
        self.fields: list[tuple[str, Field, Read | None, Represent]] = []  # planned on first use

    def __call__(self, instance: Model) -> dict[str, Any]:
        if self.model is None:
            self.fields = [
                (str(field.field_name), field, *_plan(field, instance)) for field in self._readable()
            ]
            self.model = type(instance)
        elif type(instance) is not self.model:
            return dict(self.serializer.to_representation(instance))
        representation: dict[str, Any] = {}
        for name, field, read, represent in self.fields:
            if read is None:  # DRF's own lookup, as Serializer.to_representation does it
                try:
                    value = field.get_attribute(instance)
                except SkipField:
                    continue
                present = value.pk if isinstance(value, PKOnlyObject) else value
            else:
                value = present = read(instance)
            representation[name] = None if present is None else represent(value)
        return representation

    def _readable(self) -> list[Field]:
        return [field for field in self.serializer.fields.values() if not field.write_only]


def _plan(field: Field, instance: Model) -> tuple[Read | None, Represent]:
    """How to read `field`'s value from an instance like this one (None: DRF's lookup), and how to
    represent it."""
    if type(field).get_attribute is not Field.get_attribute:  # related fields, methods, hidden ones
        return None, field.to_representation
    if not field.source_attrs and _plain(field):  # a nested serializer of the whole instance
        return _itself, Representer(field)  # type: ignore[arg-type]  # _plain: a Serializer
    if len(field.source_attrs) != 1 or field.source_attrs[0] not in _columns(instance):
        return None, field.to_representation
    column = field.source_attrs[0]

    def read(instance: Model) -> Any:
        loaded = instance.__dict__
        return loaded[column] if column in loaded else getattr(instance, column)  # deferred: load it

    return read, field.to_representation


def _itself(instance: Model) -> Model:
    return instance


def _columns(instance: Model) -> set[str]:
    return {field.attname for field in instance._meta.concrete_fields}


def _plain(field: Field) -> bool:
    return isinstance(field, Serializer) and type(field).to_representation is Serializer.to_representation
