"""A long poll: while there is nothing to answer, wait to be woken, then read again.

No query while waiting: a request reads once when it starts (with its checks, before it waits),
then once each time it is woken: by its organization's announcement, by a poll when no subscription
can wake it, or to take events that were visible but not yet settled once they are. A wait that
ends with no announcement, the subscription live throughout, ends without a read: what the last
one found is still the answer.
"""

import asyncio
from collections.abc import Sequence

from webhooks.feed.hub import POLL_INTERVAL, Hub
from webhooks.feed.selectors import Page, Position

# Events visible but not settled wait for a writer still in flight: usually milliseconds.
SETTLE_FIRST, SETTLE_MAX = 0.02, 1.0


async def feed_wait(
    *,
    hub: Hub,
    first: Page,
    read_after: int,
    organization_id: int,
    position: Position,
    types: Sequence[str],
    limit: int,
    wait: float,
) -> Page:
    """The organization's events after `position` as soon as there are any; at most `wait` seconds on.

    `first` is what a read found, begun once `hub` had counted `read_after` wakes. An empty page at
    the end of the wait (its `next_id` is the position's).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    settle = SETTLE_FIRST
    page = first
    with hub.waiting(organization_id, types) as waiter:
        if hub.woken_since(organization_id, read_after):
            waiter.woken.set()  # announced while that read was made: it may have missed it
        while True:
            remaining = deadline - loop.time()
            if page.bodies or remaining <= 0:
                return page
            pause = remaining if hub.live else min(remaining, POLL_INTERVAL)
            if page.pending:
                pause, settle = min(pause, settle), min(settle * 2, SETTLE_MAX)
            else:
                settle = SETTLE_FIRST
            woken = await waiter.sleep(pause)
            if not woken and pause >= remaining and hub.live and not page.pending:
                return page  # subscribed throughout and not woken: nothing was announced since
            page = await hub.read(
                organization_id=organization_id, position=position, types=types, limit=limit
            )
