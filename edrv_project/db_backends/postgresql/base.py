"""Django's PostgreSQL backend; a deferred statement goes out with the COMMIT, in one round trip."""

import psycopg
from django.db.backends.postgresql import base

from edrv_project.db_backends.deferred import DeferredStatements, rows_of


class DatabaseWrapper(DeferredStatements, base.DatabaseWrapper):
    def _deferred_commit(self) -> None:
        *before, last = self.deferred
        # Those before the last go one by one: psycopg parses a statement once and keeps it for the
        # next time, which it cannot do for a message of many (a large import would parse anew).
        self.deferred = before
        self.deferred_flush()
        with self.cursor() as cursor:
            if isinstance(cursor.cursor, psycopg.ClientCursor):
                # One simple-query message: the statement, then COMMIT. psycopg sees the transaction
                # ended, and the COMMIT that Django asks for next has nothing left to do.
                cursor.execute(f"{last.sql}; COMMIT", last.params)
            else:  # server-side binding takes one statement per message: it goes on its own
                cursor.execute(last.sql, last.params)
            last.done(rows_of(cursor))
