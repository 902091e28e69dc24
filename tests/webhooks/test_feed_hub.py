"""The feed's hub ends its Redis subscription when its event loop asks it to, whenever it asks."""

import asyncio
import shutil
from collections.abc import Iterator

import pytest

from tests.e2e.broker import PrivateRedis
from webhooks.feed.hub import Hub


@pytest.fixture
def redis_url() -> Iterator[str]:
    if not shutil.which("redis-server"):
        pytest.skip("needs a redis-server to run privately")
    with PrivateRedis(shutil.which("redis-server") or "") as redis:
        yield redis.url


def test_the_listener_ends_when_cancelled_at_any_moment_of_its_subscription(redis_url: str) -> None:
    # Given hubs whose listeners are cancelled at every moment of their first 30 ms: connecting,
    # subscribing (where redis-py swallows a cancellation), listening
    async def cancelled_after(delay: float) -> bool:
        hub = Hub(redis_url)
        assert hub.listener is not None
        await asyncio.sleep(delay)
        hub.listener.cancel()
        # When the loop waits for it to end, as asyncio.run and servers do on their way out
        done, _ = await asyncio.wait({hub.listener}, timeout=3)
        return hub.listener in done

    async def every_moment() -> list[float]:
        delays = [n / 1000 for n in range(30)]
        ended = [await cancelled_after(delay) for delay in delays]
        return [delay for delay, end in zip(delays, ended, strict=True) if not end]

    # Then every one of them ended at once
    assert asyncio.run(every_moment()) == []
