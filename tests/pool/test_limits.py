"""The sign-rate limiter: token buckets, pauses, cancellation, and reading a sign server's ``/webcast/rate_limits``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tests.pool.conftest import bounded
from tiktok_live.pool import RATE_LIMITS_PATH, RoomPool, SignLimiter, TokenBucket


def test_bucket_refills_at_its_rate_up_to_its_capacity() -> None:
    bucket = TokenBucket(rate=10.0, capacity=2.0)
    now = time.monotonic()
    assert bucket.delay(now) == 0
    bucket.take(now)
    bucket.take(now)
    assert bucket.delay(now) == pytest.approx(0.1)
    assert bucket.delay(now + 0.05) == pytest.approx(0.05)
    assert bucket.delay(now + 10) == 0 and bucket.tokens == pytest.approx(2.0)
    assert TokenBucket(1.0, 5.0, tokens=0.5).delay(time.monotonic()) == pytest.approx(0.5, abs=0.01)
    with pytest.raises(ValueError):
        TokenBucket(0.0, 1.0)


def test_limits_are_read_from_the_published_windows() -> None:
    limiter = SignLimiter.from_rate_limits(
        {"day": {"max": 100}, "hour": {"max": 30, "remaining": 2}, "minute": {"max": 5}, "other": {"max": 1}}
    )
    assert limiter is not None
    rates = sorted((bucket.capacity, round(bucket.rate * 3600, 3)) for bucket in limiter.buckets)
    assert rates == [(5.0, 300.0), (30.0, 30.0), (100.0, round(100 / 24, 3))]
    hour = next(bucket for bucket in limiter.buckets if bucket.capacity == 30)
    assert hour.tokens == pytest.approx(2.0, abs=0.01)
    wrapped = SignLimiter.from_rate_limits({"data": {"minute": {"limit": "10"}}})
    assert wrapped is not None and [bucket.capacity for bucket in wrapped.buckets] == [10.0]
    assert SignLimiter.from_rate_limits({"minute": 3}) is not None
    for nothing in ({}, [], "x", {"minute": {"max": 0}}, {"minute": {"max": True}}):
        assert SignLimiter.from_rate_limits(nothing) is None


@bounded(5)
async def test_acquire_paces_requests_in_arrival_order() -> None:
    limiter = SignLimiter.fixed(rate=20.0, burst=2)
    order: list[int] = []

    async def sign(number: int) -> None:
        await limiter.acquire()
        order.append(number)

    started = time.monotonic()
    await asyncio.gather(*(sign(number) for number in range(5)))
    assert order == [0, 1, 2, 3, 4]
    assert time.monotonic() - started >= 3 / 20 - 0.01  # two from the burst, three at 20/s
    assert limiter.acquired == 5


@bounded(5)
async def test_a_pause_holds_everyone_and_cancelled_waiters_take_nothing() -> None:
    limiter = SignLimiter()  # unthrottled apart from pauses
    limiter.pause(0.2)
    limiter.pause(0.05)  # never shortens
    waiter = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0.05)
    waiter.cancel()
    await asyncio.wait({waiter})
    started = time.monotonic()
    await limiter.acquire()
    assert time.monotonic() - started >= 0.1
    assert limiter.acquired == 1 and limiter.pauses == 2


@pytest.fixture
async def sign_server() -> AsyncIterator[tuple[str, list[str | None]]]:
    """A sign server that publishes ``/webcast/rate_limits`` (and records the API keys it was sent)."""
    keys: list[str | None] = []

    async def limits(request: web.Request) -> web.Response:
        keys.append(request.headers.get("X-Api-Key"))
        return web.json_response({"day": {"max": 100}, "hour": {"max": 30}, "minute": {"max": 5, "remaining": 4}})

    app = web.Application()
    app.router.add_get(RATE_LIMITS_PATH, limits)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}", keys
    await runner.cleanup()


@bounded(10)
async def test_the_pool_reads_limits_once_per_server_and_key(sign_server: tuple[str, list[str | None]]) -> None:
    url, keys = sign_server
    pool = RoomPool()
    try:
        first = await pool._limiter(url, "key-1234")
        assert await pool._limiter(url, "key-1234") is first
        other = await pool._limiter(url, None)
        assert other is not first
        assert len(first.buckets) == 3
        assert keys == ["key-1234", None]
        assert set(pool.limiters) == {f"{url} (key …1234)", url}
        missing = await pool._limiter("http://127.0.0.1:9", None)  # nothing listens there: unthrottled
        assert missing.buckets == ()
        fixed = RoomPool(sign_rate=2.0)
        assert [bucket.capacity for bucket in (await fixed._limiter(url, None)).buckets] == [2.0]
        await fixed.close()
    finally:
        await pool.close()


@bounded(10)
async def test_every_pooled_client_signs_through_the_pools_gate() -> None:
    pool = RoomPool(sign_rate=50.0, sign_burst=1, sign_url="http://127.0.0.1:9", sign_api_key="k-5678")
    room = pool.add("@gated")
    gate = room.client._signer.gate
    assert gate is not None
    await gate.acquire()  # resolves the pool's limiter for the client's sign server and key
    gate.pause(0.2)
    (name, limiter), *_ = pool.limiters.items()
    assert "127.0.0.1:9" in name and "k-5678" not in name
    assert limiter.acquired == 1 and limiter.pauses == 1
    await pool.close()


def test_a_published_window_is_never_exceeded_within_one_window() -> None:
    from tiktok_live.pool import WindowBudget

    budget = WindowBudget(5, 60.0, tokens=5)
    now = time.monotonic()
    taken = 0
    for step in range(600):  # ten seconds in 1/60 s steps, all within the first window
        moment = now + step / 60
        if budget.delay(moment) == 0:
            budget.take(moment)
            taken += 1
    assert taken == 5  # a token bucket refilling at 5/min would have let ~6 through, and 9 within a minute
    assert budget.delay(now + 10) == pytest.approx(50.0, abs=0.1)
    assert budget.delay(now + 60.01) == 0.0  # the next window starts full


def test_reset_at_starts_the_next_window_early() -> None:
    from tiktok_live.pool import WindowBudget

    budget = WindowBudget(10, 3600.0, tokens=0, reset_in=2.0)
    assert budget.delay(time.monotonic()) == pytest.approx(2.0, abs=0.05)
    limiter = SignLimiter.from_rate_limits({"minute": {"max": 3, "remaining": 0, "reset_at": time.time() + 1.5}})
    assert limiter is not None
    (minute,) = limiter.buckets
    assert minute.delay(time.monotonic()) == pytest.approx(1.5, abs=0.1)
