"""How far the feed may read: the highest event id below which nothing can still commit.

Event ids come from a sequence, handed out when a row is inserted; rows become visible when their
transaction commits, which is not in id order. A reader that answered event 10 while event 9's
transaction was still open would tell its client `next=10`, and event 9, committed a moment later,
would never be read. So the feed answers only events at or below the *settled* id: one below which
every id handed out belongs to a transaction that has ended (committed, so visible, or rolled back,
so gone for good).

PostgreSQL, exactly, without a clock: a writer takes its `RowExclusiveLock` on the event table
before its INSERT draws an id, and keeps it until its transaction ends. So, reading the sequence's
last value S and then the transactions that hold that lock (`pg_locks`), every id up to S is
settled once those transactions have all ended: at once when there are none, or at a later check
that no longer finds them. A long transaction that writes events (an import) holds the feed back
for its duration; it never makes it skip. The reader's own transaction does not count: what it
wrote, it sees. It assumes what Django creates: ids drawn one at a time
(the sequence's CACHE 1); a sequence that caches ranges per connection would break it.

SQLite has one writer at a time, which holds its lock from its first write to its commit: ids
commit in order, and every visible event is settled.

Each process keeps one `Horizon`, shared by the threads that read for the feed. A settled id stays
settled, so an older answer is always safe to use, only less fresh: readers take one up to
`max_age` old, and ask for a fresh one when it holds back what they found.
"""

import threading
import time
from dataclasses import dataclass, field

from django.db import connection

from webhooks.models import Event

# Epochs waiting for their writers to end; more (a very long writer under a stream of checks) drop
# the oldest, which only makes the horizon wait for a later one.
_MAX_PENDING = 64


@dataclass
class Horizon:
    settled: int = 0
    # (the sequence's last value, the transactions that held the table's write lock just after reading it)
    pending: list[tuple[int, frozenset[str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    checked_at: float = float("-inf")  # time.monotonic() of the last observation

    def advance(self, allocated: int, writers: frozenset[str], at: float) -> int:
        """Take one observation (the sequence's last value, then the writers then) into account."""
        with self.lock:
            self.checked_at = max(self.checked_at, at)
            ended = [last for last, held_by in self.pending if not held_by & writers]
            self.settled = max([self.settled, *ended])
            self.pending = [(last, held) for last, held in self.pending if held & writers]
            if not writers:
                self.settled = max(self.settled, allocated)
            elif allocated > self.settled:
                self.pending = [*self.pending, (allocated, writers)][-_MAX_PENDING:]
            return self.settled


_horizon = Horizon()


def settled_event_id(*, max_age: float = 0.0) -> int | None:
    """The settled event id (see the module's docstring); None when every visible event is.

    One known for at most `max_age` seconds, or else fresh (two short statements on PostgreSQL).
    Establish it before the read it bounds, never after.
    """
    if connection.vendor != "postgresql":
        return None
    started = time.monotonic()
    if started - _horizon.checked_at <= max_age:
        return _horizon.settled
    table = Event._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sequence_last_value(pg_get_serial_sequence(%s, 'id')::regclass)", [table])
        allocated = cursor.fetchone()[0] or 0
        cursor.execute(
            "SELECT DISTINCT virtualtransaction FROM pg_locks WHERE locktype = 'relation'"
            " AND relation = %s::regclass AND mode = 'RowExclusiveLock' AND pid <> pg_backend_pid()",
            [table],
        )
        writers = frozenset(row[0] for row in cursor.fetchall())
    return _horizon.advance(allocated, writers, started)
