"""The hot path's statements, written out rather than built by the ORM.

An event costs its worker a handful of statements (take the events, write their deliveries, mark
them fanned out; record the outcome). Built by the ORM, each costs a few hundred microseconds of
CPU in its query compiler, several times what the database spends on it: written out once, the
same statements cost tens. The SQL is plain enough for PostgreSQL and SQLite alike; values go
through each field's own preparation, so UUIDs, datetimes and JSON are stored as the ORM would.
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache, partial
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections
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


# psycopg parses a statement's placeholders on the client and caches the parse only for statements
# of at most 50 parameters: a batch of 100 rows in one statement was parsed anew each time (several
# milliseconds of CPU). INSERTs go in statements of at most this many parameters, and IN lists of
# ids are one array parameter on PostgreSQL (`in_ids`).
CACHED_PARAMS = 50


def in_ids(column: str, ids: Sequence[int]) -> tuple[str, list[Any]]:
    """`column IN (...)` for these ids, and its parameters: one array on PostgreSQL."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(ids)]
    return f"{column} IN ({marks(len(ids))})", list(ids)


def insert(model: type[Model], names: Sequence[str], objects: Iterable[Model]) -> list[int]:
    """INSERT the objects' `names` fields; their new ids, in order."""
    fields = _insert_into(model, tuple(names), connection.vendor).fields
    return insert_values(model, names, [[getattr(o, f.attname) for f in fields] for o in objects])


def insert_values(model: type[Model], names: Sequence[str], values: Sequence[Sequence[Any]]) -> list[int]:
    """INSERT rows of values, one per field of `names` each; the new ids, in order."""
    database = connections[DEFAULT_DB_ALIAS]  # not the proxy: it looks itself up on every use
    into = _insert_into(model, tuple(names), database.vendor)
    ids: list[int] = []
    with database.cursor() as cursor:
        for _, sql, params in into.statements(values, database):
            cursor.execute(sql, params)
            ids += [returned[0] for returned in cursor.fetchall()]
    return ids


def insert_deferred(model: type[Model], names: Sequence[str], objects: Sequence[Model]) -> None:
    """INSERT the objects' `names` fields with the transaction's COMMIT, or before its next statement.

    The objects get their ids once the row is written (edrv_project/db_backends/deferred.py); a
    connection without deferred statements (or no transaction) writes them at once.
    """
    database = connections[DEFAULT_DB_ALIAS]
    defer = getattr(database, "statement_defer", None)
    if defer is None:
        for o, pk in zip(objects, insert(model, names, objects), strict=True):
            o.pk = pk
        return
    into = _insert_into(model, tuple(names), database.vendor)
    values = [[getattr(o, f.attname) for f in into.fields] for o in objects]
    for rows, sql, params in into.statements(values, database):
        defer(sql, params, partial(_ids_set, objects[rows]))


def _ids_set(objects: Sequence[Model], returned: list[tuple[Any, ...]]) -> None:
    for o, (pk,) in zip(objects, returned, strict=True):
        o.pk = pk


def written(objects: Sequence[Model]) -> None:
    """Make sure deferred rows of these objects are written (their ids known) in this transaction."""
    if any(o.pk is None for o in objects):
        connections[DEFAULT_DB_ALIAS].deferred_flush()  # type: ignore[attr-defined]


@dataclass(frozen=True)
class _InsertInto:
    fields: "list[Field[Any, Any]]"
    head: str  # INSERT INTO table (columns) VALUES
    row: str  # (%s, %s, ...)
    tail: str  # RETURNING id
    per_statement: int  # rows

    def statement(self, rows: int) -> str:
        return f"{self.head} {', '.join([self.row] * rows)} {self.tail}"

    def statements(
        self, values: Sequence[Sequence[Any]], database: Any
    ) -> Iterator[tuple[slice, str, list[Any]]]:
        """The INSERTs of these rows (a value per field each), per_statement rows at most: for each,
        the rows it covers, its SQL and its parameters (as each field stores its value)."""
        for start in range(0, len(values), self.per_statement):
            chunk = values[start : start + self.per_statement]
            params = [
                f.get_db_prep_save(value, database)
                for row in chunk
                for f, value in zip(self.fields, row, strict=True)
            ]
            yield slice(start, start + len(chunk)), self.statement(len(chunk)), params


@cache
def _insert_into(model: type[Model], names: tuple[str, ...], vendor: str) -> _InsertInto:
    # Built once per model, columns and database: quoting a name goes through the connection proxy,
    # which costs more than the rest of a one-row INSERT's preparation.
    fields = [_field(model, name) for name in names]
    return _InsertInto(
        fields=fields,
        head=f"INSERT INTO {table(model)} ({', '.join(_quoted(f) for f in fields)}) VALUES",
        row=f"({marks(len(fields))})",
        tail=f"RETURNING {connection.ops.quote_name('id')}",
        per_statement=max(CACHED_PARAMS // len(fields), 1),
    )
