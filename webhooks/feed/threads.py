"""The feed's database threads: a few per process, whatever the number of waiting clients.

A waiting client holds no thread and no database connection: it is a coroutine on the event loop.
Its reads (when it starts, and each time it is woken) run here, on one of DB_THREADS threads, each
of which keeps its own connection across reads. Django checks a request's connection before and
after it (CONN_MAX_AGE, a health check's `SELECT 1`); here a thread checks its own at most every
CHECK_EVERY seconds, and after any call that failed: a read is a query or two, and a round trip to
check each one would double it. At most DB_THREADS connections per web process, then, for every
feed client together; and as many Redis connections for the API throttle.
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

DB_THREADS = 8
CHECK_EVERY = 1.0  # seconds

P = ParamSpec("P")
T = TypeVar("T")

_executor: ThreadPoolExecutor | None = None
_checked = threading.local()


def _pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=DB_THREADS, thread_name_prefix="webhooks-feed-db")
    return _executor


def _reset() -> None:
    # A forked child has none of the parent's threads: it starts a pool of its own.
    global _executor
    _executor = None


os.register_at_fork(after_in_child=_reset)


async def in_database(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`function(*args, **kwargs)` on one of the feed's database threads, in that thread's own context.

    Not asgiref's sync_to_async, which runs it in the request's context: Django keeps the caches (the
    API throttle's Redis client) per context, so each waiting request would hold a Redis connection of
    its own until it ends. In the thread's context they are the thread's, as the database connection is.
    """
    return await asyncio.get_running_loop().run_in_executor(
        _pool(), functools.partial(_run, function, *args, **kwargs)
    )


def feed_threads_stop() -> None:
    """Close each thread's database connections and end the threads (a new pool starts on next use).

    For whoever must see every connection closed, as a test database that is about to be dropped.
    """
    global _executor
    executor, _executor = _executor, None
    if executor is None:
        return
    # One task per thread: each waits for the others, so that no thread takes two.
    everyone = threading.Barrier(DB_THREADS)

    def close() -> None:
        connections.close_all()
        everyone.wait(timeout=10)

    for _ in range(DB_THREADS):
        executor.submit(close)
    executor.shutdown(wait=True)


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
