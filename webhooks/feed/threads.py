"""The feed's database threads: a few per process, whatever the number of waiting clients.

A waiting client holds no thread and no database connection: it is a coroutine on the event loop.
Its database work runs here, on one of two small pools, each thread with its own connection kept
across calls:

- REQUESTS (DB_THREADS): each request's checks (API key, throttle) and first read;
- WAKES (WAKE_THREADS): the reads of waiters that were woken (shared between them: one per
  organization and position, webhooks.feed.hub). A pool of their own, so that a wake is never
  queued behind the checks of every request that came in meanwhile: under thousands of clients
  asking again at the end of their waits, that queue is seconds long.

Django checks a request's connection before and after it (CONN_MAX_AGE, a health check's
`SELECT 1`); here a thread checks its own at most every CHECK_EVERY seconds, and after any call
that failed: a read is a query or two, and a round trip to check each one would double it. At most
DB_THREADS + WAKE_THREADS connections per web process, then, for every feed client together; and as
many Redis connections for the API throttle.
"""

import asyncio
import functools
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from django.db import close_old_connections, connections

DB_THREADS = 4
WAKE_THREADS = 2
CHECK_EVERY = 1.0  # seconds

P = ParamSpec("P")
T = TypeVar("T")

_checked = threading.local()


class Pool:
    def __init__(self, size: int, name: str) -> None:
        self.size, self.name = size, name
        self.executor: ThreadPoolExecutor | None = None

    async def run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`function(*args, **kwargs)` on one of the pool's threads, in that thread's own context.

        Not asgiref's sync_to_async, which runs it in the request's context: Django keeps the caches
        (the API throttle's Redis client) per context, so each waiting request would hold a Redis
        connection of its own until it ends. In the thread's context they are the thread's, as the
        database connection is.
        """
        if self.executor is None:
            self.executor = ThreadPoolExecutor(max_workers=self.size, thread_name_prefix=self.name)
        call = functools.partial(_run, function, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self.executor, call)

    def stop(self) -> None:
        """Close each thread's database connections and end the threads (they start again on use)."""
        executor, self.executor = self.executor, None
        if executor is None:
            return
        # One task per thread: each waits for the others, so that no thread takes two.
        everyone = threading.Barrier(self.size)

        def close() -> None:
            connections.close_all()
            everyone.wait(timeout=10)

        for _ in range(self.size):
            executor.submit(close)
        executor.shutdown(wait=True)

    def forget(self) -> None:
        # In a forked child: none of the parent's threads are there, a pool starts on first use.
        self.executor = None


REQUESTS = Pool(DB_THREADS, "webhooks-feed-db")
WAKES = Pool(WAKE_THREADS, "webhooks-feed-wake")


def _forget() -> None:
    REQUESTS.forget()
    WAKES.forget()


os.register_at_fork(after_in_child=_forget)


def feed_threads_stop() -> None:
    """Close every feed thread's database connections and end the threads (they start again on
    use): for whoever must see every connection closed, as a test database about to be dropped."""
    REQUESTS.stop()
    WAKES.stop()


def _run(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    now = time.monotonic()
    if now - getattr(_checked, "at", -CHECK_EVERY) >= CHECK_EVERY:
        close_old_connections()
        _checked.at = now
    try:
        return function(*args, **kwargs)
    except BaseException:
        close_old_connections()  # a connection that broke is closed now, not reused by the next call
        _checked.at = time.monotonic()
        raise
