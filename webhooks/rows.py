"""The hot path's statements, written out rather than built by the ORM.

An event costs its worker a handful of statements (take the events, write their deliveries, mark
them fanned out; record the outcome). Built by the ORM, each costs a few hundred microseconds of
CPU in its query compiler, several times what the database spends on it: written out once, the
same statements cost tens. The SQL is plain enough for PostgreSQL and SQLite alike; values go
through each field's own preparation, so UUIDs, datetimes and JSON are stored as the ORM would.
"""

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection
from django.db.models import Field, Model


def marks(count: int) -> str:
    """`%s, %s, ...`: the placeholders of an IN list."""
    return ", ".join(["%s"] * count)


def table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _field(model: type[Model], name: str) -> "Field[Any, Any]":
    field = model._meta.get_field(name)
    assert isinstance(field, Field)
    return field


def _quoted(field: "Field[Any, Any]") -> str:
    assert field.column is not None  # every concrete field has one
    return connection.ops.quote_name(field.column)


def column(model: type[Model], name: str) -> str:
    return _quoted(_field(model, name))


def prepared(model: type[Model], name: str, value: Any) -> Any:
    """`value` as the field stores it (a UUID as PostgreSQL's uuid or SQLite's hex, and so on)."""
    return _field(model, name).get_db_prep_save(value, connection)


def insert(model: type[Model], names: Sequence[str], objects: Iterable[Model]) -> list[int]:
    """INSERT the objects' `names` fields in one statement; their new ids, in order."""
    fields = [_field(model, name) for name in names]
    rows = [[f.get_db_prep_save(getattr(o, f.attname), connection) for f in fields] for o in objects]
    if not rows:
        return []
    columns = ", ".join(_quoted(f) for f in fields)
    tuples = ", ".join([f"({marks(len(fields))})"] * len(rows))
    sql = (
        f"INSERT INTO {table(model)} ({columns}) VALUES {tuples} RETURNING {connection.ops.quote_name('id')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for row in rows for value in row])
        return [row[0] for row in cursor.fetchall()]
