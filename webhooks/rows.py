"""The hot path's statements, written out rather than built by the ORM.

An event costs its worker a handful of statements (take the events, write their deliveries, mark
them fanned out; record the outcome). Built by the ORM, each costs a few hundred microseconds of
CPU in its query compiler, several times what the database spends on it: written out once, the
same statements cost tens. The SQL is plain enough for PostgreSQL and SQLite alike, and values are
stored as the ORM would store them (UUIDs, datetimes, JSON): an INSERT's rows go to PostgreSQL as
one JSON parameter (`_InsertInto`), other values through each field's own preparation.
"""

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import cache, partial
from operator import attrgetter
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
# of at most 50 parameters: IN lists of ids are one array parameter on PostgreSQL (`in_ids`), and
# SQLite's INSERTs go in statements of at most this many parameters.
CACHED_PARAMS = 50


def in_ids(column: str, ids: Sequence[int]) -> tuple[str, list[Any]]:
    """`column IN (...)` for these ids, and its parameters: one array on PostgreSQL, written as its
    text (psycopg's list dumper looks at every element to choose a type: a batch's ids cost more
    to dump that way than the statement's own work)."""
    if connection.vendor == "postgresql":
        return any_id(column), [id_array(ids)]
    return f"{column} IN ({marks(len(ids))})", list(ids)


def any_id(column: str) -> str:
    """PostgreSQL: `column` is one of the ids of one parameter, an `id_array`."""
    return f"{column} = ANY(%s::bigint[])"


def id_array(ids: Iterable[int]) -> str:
    """These ids as the text of a PostgreSQL array (`{1,2,3}`), for `any_id`'s parameter."""
    return "{" + ",".join(str(int(pk)) for pk in ids) + "}"


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


# How a column's value is written in the JSON of the rows, by its field's type, for PostgreSQL to
# read back with the column's own input; every other value is written as JSON as it is (a value
# JSON cannot write fails the INSERT before it is sent). The types' own methods: no Python frame
# per value.
_JSON_WRITERS: dict[str, Callable[[Any], Any]] = {
    "DateTimeField": datetime.isoformat,
    "DateField": date.isoformat,
    "TimeField": time.isoformat,
    "UUIDField": attrgetter("hex"),
    "DecimalField": str,
}


@dataclass(frozen=True)
class _InsertInto:
    """The INSERT of a model's `names` fields, for one database.

    On PostgreSQL every row goes in one statement and one parameter: a JSON array of the rows, read
    by `json_populate_recordset` into the table's own row type (each column's own input; a value
    too long for its column fails as in a VALUES list). Quoting one string costs the client a
    fraction of quoting every value, and a batch is one statement whatever its size. Elsewhere
    (SQLite), VALUES lists of at most CACHED_PARAMS parameters, each value as its field stores it.
    """

    fields: "list[Field[Any, Any]]"
    names: list[str]  # the columns'
    writers: list[tuple[str, Callable[[Any], Any]]]  # columns whose values JSON cannot write as they are
    recordset: str | None  # PostgreSQL: the whole statement, its rows one JSON parameter
    head: str  # INSERT INTO table (columns), before a VALUES list
    row: str  # (%s, %s, ...)
    tail: str  # RETURNING id
    per_statement: int  # rows, in a VALUES list

    def statements(
        self, values: Sequence[Sequence[Any]], database: Any
    ) -> Iterator[tuple[slice, str, list[Any]]]:
        """The INSERTs of these rows (a value per field each): for each, the rows it covers, its SQL
        and its parameters."""
        if self.recordset:
            records = [dict(zip(self.names, row, strict=True)) for row in values]
            for column, write in self.writers:
                for record in records:
                    if (value := record[column]) is not None:
                        record[column] = write(value)
            rows = json.dumps(records, ensure_ascii=False)
            yield slice(0, len(values)), self.recordset, [rows]
            return
        for start in range(0, len(values), self.per_statement):
            chunk = values[start : start + self.per_statement]
            params = [
                f.get_db_prep_save(value, database)
                for row in chunk
                for f, value in zip(self.fields, row, strict=True)
            ]
            statement = f"{self.head} VALUES {', '.join([self.row] * len(chunk))} {self.tail}"
            yield slice(start, start + len(chunk)), statement, params


def _stored_as(field: "Field[Any, Any]") -> str:
    """The field's type as its column stores it: a foreign key's is the key it refers to."""
    return str(getattr(field, "target_field", field).get_internal_type())


@cache
def _insert_into(model: type[Model], names: tuple[str, ...], vendor: str) -> _InsertInto:
    # Built once per model, columns and database: quoting a name goes through the connection proxy,
    # which costs more than the rest of a one-row INSERT's preparation.
    fields = [_field(model, name) for name in names]
    quoted = ", ".join(_quoted(f) for f in fields)
    head = f"INSERT INTO {table(model)} ({quoted})"
    tail = f"RETURNING {connection.ops.quote_name('id')}"
    recordset = (
        f"{head} SELECT {quoted} FROM json_populate_recordset(NULL::{table(model)}, %s::json) {tail}"
        if vendor == "postgresql"
        else None
    )
    return _InsertInto(
        fields=fields,
        names=[str(f.column) for f in fields],
        writers=[
            (str(f.column), _JSON_WRITERS[kind]) for f in fields if (kind := _stored_as(f)) in _JSON_WRITERS
        ],
        head=head,
        row=f"({marks(len(fields))})",
        tail=tail,
        recordset=recordset,
        per_statement=max(CACHED_PARAMS // len(fields), 1),
    )
