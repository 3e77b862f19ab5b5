"""The sign-rate limiter: token buckets, window budgets, pauses, cancellation, and reading a sign server's
``/webcast/rate_limits``. Time is a :class:`~tests.support.FakeClock`: no test waits for it or measures it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tests.pool.conftest import bounded
from tests.support import FakeClock, wait_for_condition
from tiktok_live.pool import RATE_LIMITS_PATH, RoomPool, SignLimiter, TokenBucket, WindowBudget


def test_bucket_refills_at_its_rate_up_to_its_capacity() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=10.0, capacity=2.0, clock=clock)
    now = clock()
    assert bucket.delay(now) == 0
    bucket.take(now)
    bucket.take(now)
    assert bucket.delay(now) == pytest.approx(0.1)
    assert bucket.delay(now + 0.05) == pytest.approx(0.05)
    clock.advance(10)
    assert bucket.delay(clock()) == 0 and bucket.tokens == pytest.approx(2.0)  # full, never beyond
    half = TokenBucket(1.0, 5.0, tokens=0.5, clock=clock)
    assert half.delay(clock()) == pytest.approx(0.5)
    assert half.delay(clock() - 1) == pytest.approx(0.5)  # an earlier reading never refills backwards
    with pytest.raises(ValueError):
        TokenBucket(0.0, 1.0)


def test_limits_are_read_from_the_published_windows() -> None:
    clock = FakeClock()
    limiter = SignLimiter.from_rate_limits(
        {"day": {"max": 100}, "hour": {"max": 30, "remaining": 2}, "minute": {"max": 5}, "other": {"max": 1}},
        clock=clock,
    )
    assert limiter is not None
    rates = sorted((bucket.capacity, round(bucket.rate * 3600, 3)) for bucket in limiter.buckets)
    assert rates == [(5.0, 300.0), (30.0, 30.0), (100.0, round(100 / 24, 3))]
    hour = next(bucket for bucket in limiter.buckets if bucket.capacity == 30)
    assert hour.tokens == 2.0
    wrapped = SignLimiter.from_rate_limits({"data": {"minute": {"limit": "10"}}})
    assert wrapped is not None and [bucket.capacity for bucket in wrapped.buckets] == [10.0]
    assert SignLimiter.from_rate_limits({"minute": 3}) is not None
    for nothing in ({}, [], "x", {"minute": {"max": 0}}, {"minute": {"max": True}}):
        assert SignLimiter.from_rate_limits(nothing) is None


@bounded(5)
async def test_acquire_paces_requests_in_arrival_order() -> None:
    clock = FakeClock()
    limiter = SignLimiter.fixed(rate=16.0, burst=2, clock=clock, sleep=clock.sleep)
    order: list[tuple[int, float]] = []

    async def sign(number: int) -> None:
        await limiter.acquire()
        order.append((number, clock()))

    await asyncio.gather(*(sign(number) for number in range(5)))
    # Two from the burst at once, then one every 1/16 s, in arrival order.
    assert order == [(0, 0.0), (1, 0.0), (2, 1 / 16), (3, 2 / 16), (4, 3 / 16)]
    assert clock.sleeps == [1 / 16] * 3
    assert limiter.acquired == 5 and limiter.waited == 3 / 16


@bounded(5)
async def test_a_pause_holds_everyone_and_cancelled_waiters_take_nothing() -> None:
    clock = FakeClock()
    release = asyncio.Event()
    asked: list[float] = []

    async def sleep(seconds: float) -> None:  # records the wait, then holds the waiter until the test lets go
        asked.append(seconds)
        await release.wait()
        clock.advance(seconds)

    limiter = SignLimiter(clock=clock, sleep=sleep)  # unthrottled apart from pauses
    limiter.pause(0.25)
    limiter.pause(0.0625)  # never shortens
    waiter = asyncio.create_task(limiter.acquire())
    await wait_for_condition(lambda: asked == [0.25])
    waiter.cancel()
    await asyncio.wait({waiter})
    assert waiter.cancelled() and limiter.acquired == 0  # the cancelled waiter took nothing
    clock.advance(0.125)
    release.set()
    await limiter.acquire()  # the next waiter gets the lock and waits out what is left of the pause
    assert asked == [0.25, 0.125]
    assert limiter.acquired == 1 and limiter.pauses == 2


@bounded(5)
async def test_a_pause_is_finite_and_bounded() -> None:
    clock = FakeClock()
    limiter = SignLimiter(clock=clock, sleep=clock.sleep)
    limiter.pause(float("nan"))  # a value that is no number: the default pause
    await limiter.acquire()
    limiter.pause(10**9)  # never beyond an hour
    await limiter.acquire()
    limiter.pause(-3)  # nothing to wait
    await limiter.acquire()
    assert clock.sleeps == [5.0, 3600.0]
    assert limiter.acquired == 3 and limiter.pauses == 3


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
        first = await pool._limiters.get(url, "key-1234")
        assert await pool._limiters.get(url, "key-1234") is first
        other = await pool._limiters.get(url, None)
        assert other is not first
        assert len(first.buckets) == 3
        assert keys == ["key-1234", None]
        assert set(pool.limiters) == {f"{url} (key …1234)", url}
        missing = await pool._limiters.get("http://127.0.0.1:9", None)  # nothing listens there: unthrottled
        assert missing.buckets == ()
        fixed = RoomPool(sign_rate=2.0)
        assert [bucket.capacity for bucket in (await fixed._limiters.get(url, None)).buckets] == [2.0]
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
    clock = FakeClock()
    budget = WindowBudget(5, 60.0, tokens=5, clock=clock)
    now = clock()
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
    clock = FakeClock()
    budget = WindowBudget(10, 3600.0, tokens=0, reset_in=2.0, clock=clock)
    assert budget.delay(clock()) == pytest.approx(2.0)
    clock.advance(2.0)
    assert budget.delay(clock()) == 0 and budget.tokens == 10  # the next window started, full
    wall = FakeClock(1_700_000_000.0)
    published = {"minute": {"max": 3, "remaining": 0, "reset_at": wall() + 1.5}}
    limiter = SignLimiter.from_rate_limits(published, clock=clock, wall_clock=wall)
    assert limiter is not None
    (minute,) = limiter.buckets
    assert minute.delay(clock()) == pytest.approx(1.5)
    in_ms = SignLimiter.from_rate_limits(
        {"minute": {"max": 3, "remaining": 0, "reset_at": (wall() + 4) * 1000}}, clock=clock, wall_clock=wall
    )
    assert in_ms is not None and in_ms.buckets[0].delay(clock()) == pytest.approx(4.0)  # reset_at in milliseconds


@bounded(5)
async def test_a_window_budget_limiter_waits_for_the_next_window() -> None:
    clock = FakeClock()
    limiter = SignLimiter([WindowBudget(2, 60.0, tokens=1, reset_in=10.0, clock=clock)], clock=clock, sleep=clock.sleep)
    for _ in range(4):
        await limiter.acquire()
    # One left in this window; the next window (10 s on) gives two; the fourth waits a whole window more.
    assert clock.sleeps == pytest.approx([10.0, 60.0])
    assert limiter.acquired == 4
