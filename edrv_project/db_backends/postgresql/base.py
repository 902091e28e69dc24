"""Django's PostgreSQL backend; a deferred statement goes out with the COMMIT, in one round trip."""

from typing import Any

import psycopg
from django.db.backends.postgresql import base
from django.db.backends.utils import debug_transaction

from edrv_project.db_backends.deferred import DeferredStatements, rows_of


class DatabaseWrapper(DeferredStatements, base.DatabaseWrapper):
    _commit_cursor: Any = None  # psycopg.ClientCursor of the current connection, kept between commits

    def _deferred_commit(self) -> None:
        *before, last = self.deferred
        # Those before the last go one by one: psycopg parses a statement once and keeps it for the
        # next time, which it cannot do for a message of many (a large import would parse anew).
        self.deferred = before
        self.deferred_flush()
        # One simple-query message: the statement, then COMMIT (client-side binding, whatever the
        # connection's: server-side binding takes one statement per message). psycopg sees the
        # transaction ended, and the COMMIT that Django asks for next has nothing left to do. Logged
        # as Django logs its own COMMIT, which goes through no cursor either.
        sql = f"{last.sql}; COMMIT"
        with debug_transaction(self, sql), self.wrap_database_errors:
            cursor = self._commit_cursor
            if cursor is None or cursor.connection is not self.connection:
                cursor = self._commit_cursor = psycopg.ClientCursor(self.connection)
            cursor.execute(sql, last.params)
            rows = rows_of(cursor)
        last.done(rows)

    def _close(self) -> None:
        self._commit_cursor = None
        super()._close()
