"""The drop-oldest buffer (sdk/_buffer.py) under the client's and the pool's streams: the bound, drop counting,
close semantics, the end of iteration, and ``async with``."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.support import wait_for_condition
from tiktok_live._buffer import DropOldestBuffer


async def _drain(buffer: DropOldestBuffer[int]) -> list[int]:
    return [item async for item in buffer]


def test_the_bound_must_be_positive() -> None:
    for bad in (0, -1):
        with pytest.raises(ValueError, match="maxsize"):
            DropOldestBuffer[int](bad)


async def test_items_come_out_in_order_and_iteration_ends_after_close() -> None:
    buffer = DropOldestBuffer[int](10)
    for item in range(5):
        buffer.put(item)
    assert len(buffer) == 5
    buffer.close()
    assert buffer.closed and len(buffer) == 5  # closing keeps what is buffered...
    assert await asyncio.wait_for(_drain(buffer), 5) == [0, 1, 2, 3, 4]  # ...until it is read
    assert await asyncio.wait_for(_drain(buffer), 5) == []  # and stays ended
    assert buffer.__aiter__() is buffer


async def test_a_full_buffer_drops_the_oldest_and_counts_them(caplog: pytest.LogCaptureFixture) -> None:
    buffer = DropOldestBuffer[int](3)
    with caplog.at_level(logging.WARNING, logger="tiktok_live"):
        for item in range(2_003):
            buffer.put(item)  # never blocks, never raises
    assert len(buffer) == 3 and buffer.dropped == 2_000
    buffer.close()
    assert await asyncio.wait_for(_drain(buffer), 5) == [2_000, 2_001, 2_002]
    # A warning on the first drop and on every 1,000th, not on each.
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 3 and "dropped 1 " in warnings[0] and "dropped 2000 " in warnings[2]


async def test_put_after_close_is_ignored_and_close_runs_on_close_once() -> None:
    closed: list[DropOldestBuffer[int]] = []
    buffer = DropOldestBuffer[int](2, on_close=closed.append)
    buffer.put(1)
    buffer.close()
    buffer.close()
    buffer.put(2)
    assert closed == [buffer] and len(buffer) == 1 and buffer.dropped == 0
    assert await asyncio.wait_for(_drain(buffer), 5) == [1]


async def test_a_waiting_consumer_wakes_for_an_item_and_for_close() -> None:
    buffer = DropOldestBuffer[int](2)
    got: list[int] = []

    async def consume() -> None:
        async for item in buffer:
            got.append(item)

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0)  # one step: the consumer finds the buffer empty and waits
    assert not consumer.done()
    buffer.put(7)
    await wait_for_condition(lambda: got == [7])
    buffer.close()
    await asyncio.wait_for(consumer, 5)  # close wakes it and ends the iteration
    assert got == [7]


async def test_a_cancelled_consumer_leaves_the_buffer_usable() -> None:
    buffer = DropOldestBuffer[int](2)
    waiting = asyncio.create_task(anext(buffer))
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.wait({waiting})
    assert waiting.cancelled()
    buffer.put(1)
    assert await asyncio.wait_for(anext(buffer), 5) == 1


async def test_async_with_closes_on_exit_even_after_an_error() -> None:
    closed: list[DropOldestBuffer[int]] = []
    async with DropOldestBuffer[int](2, on_close=closed.append) as buffer:
        buffer.put(1)
        assert await anext(buffer) == 1
    assert buffer.closed and closed == [buffer]
    other = DropOldestBuffer[int](2, on_close=closed.append)
    with pytest.raises(RuntimeError):
        async with other:
            raise RuntimeError("the consumer stopped early")
    assert other.closed and closed == [buffer, other]
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(other), 5)
