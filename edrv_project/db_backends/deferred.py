"""Statements that wait for the connection's next one: an outbox INSERT rides with the COMMIT.

A change and its outbox row are written in one transaction. Sent on its own, the outbox INSERT
costs the change a round trip to the database (and the client work around it) that the change
itself does not need: nothing in the transaction reads the row before it commits, as a rule. A
deferred statement waits in the connection and goes out

- with the COMMIT, in the same round trip (PostgreSQL: one simple-query message of both), or
- just before the connection's next statement, whatever it is (a query that reads the row, a
  SAVEPOINT, a RELEASE or ROLLBACK TO one), so the transaction never sees a difference: every
  statement runs after the deferred ones, in order, as if they had been sent at once.

A rollback drops what still waits. A statement that fails when it goes out fails the statement
or the commit it rode with, as it would have failed alone. Outside a transaction (autocommit)
nothing waits: `statement_defer` sends at once.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Rows = list[tuple[Any, ...]]


@dataclass(frozen=True)
class Deferred:
    sql: str
    params: Sequence[Any]
    done: Callable[[Rows], None]  # given the statement's rows (its RETURNING), once it ran


def rows_of(cursor: Any) -> Rows:
    """The current result's rows; none for a statement that returns no rows."""
    return cursor.fetchall() if cursor.description is not None else []


class DeferredStatements:
    """A mixin for a DatabaseWrapper (Django's `BaseDatabaseWrapper` API)."""

    deferred: list[Deferred]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deferred = []
        self.execute_wrappers.append(self._deferred_first)  # type: ignore[attr-defined]

    def statement_defer(self, sql: str, params: Sequence[Any], done: Callable[[Rows], None]) -> None:
        """Send `sql` with the next statement or the COMMIT; `done(rows)` once it ran."""
        self.deferred.append(Deferred(sql, params, done))
        if not self.in_atomic_block:  # type: ignore[attr-defined]
            self.deferred_flush()

    def deferred_flush(self) -> None:
        """Send what waits now, on its own."""
        waiting, self.deferred = self.deferred, []
        if not waiting:
            return
        with self.cursor() as cursor:  # type: ignore[attr-defined]
            for statement in waiting:
                cursor.execute(statement.sql, statement.params)
                statement.done(rows_of(cursor))

    def _deferred_first(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        # A transaction marked for rollback refuses every statement: let the statement say so.
        if self.deferred and not self.needs_rollback:  # type: ignore[attr-defined]
            self.deferred_flush()
        return execute(sql, params, many, context)

    def _commit(self) -> None:
        if self.deferred and self.connection is not None:  # type: ignore[attr-defined]
            self._deferred_commit()
        super()._commit()  # type: ignore[misc]

    def _deferred_commit(self) -> None:
        """Send what waits, then COMMIT (the backend may send both at once)."""
        self.deferred_flush()

    def _rollback(self) -> None:
        self.deferred = []
        super()._rollback()  # type: ignore[misc]

    def _close(self) -> None:
        self.deferred = []
        super()._close()  # type: ignore[misc]
