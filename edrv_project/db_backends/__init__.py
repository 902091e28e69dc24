"""Django's PostgreSQL and SQLite backends, with statements that can wait (`deferred`)."""
