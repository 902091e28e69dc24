"""Django's SQLite backend; deferred statements go out just before the COMMIT."""

from django.db.backends.sqlite3 import base

from edrv_project.db_backends.deferred import DeferredStatements


class DatabaseWrapper(DeferredStatements, base.DatabaseWrapper):
    pass
