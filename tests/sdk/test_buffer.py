"""The streams' shared buffer (sdk/_buffer.py): bounded by count and by payload bytes, never blocking its producer;
drop counting, close semantics, the end of iteration, and ``async with``."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.support import wait_for_condition
from tiktok_live import TikTokLiveClient
from tiktok_live._buffer import DEFAULT_MAX_BYTES, DropOldestBuffer
from tiktok_live.events import UnknownEvent
from tiktok_live.pool import RoomEvent, RoomPool

MB = 1024 * 1024
BIG = b"x" * MB  # shared by every event below: the test itself stays small


def _big(index: int) -> UnknownEvent:
    return UnknownEvent(f"Big{index}", BIG)


async def _drain(buffer: DropOldestBuffer[object]) -> list[object]:
    buffer.close()
    return [item async for item in buffer]


async def _read_all(buffer: DropOldestBuffer[int]) -> list[int]:
    return [item async for item in buffer]


async def test_a_client_stream_of_large_events_is_bounded_by_bytes(caplog: pytest.LogCaptureFixture) -> None:
    """1,000 events is the default count bound; 1,000 events of 1 MB would be 1 GB behind a stuck consumer."""
    client = TikTokLiveClient("someone")
    stream = client.stream(UnknownEvent)
    for index in range(200):
        stream.put(_big(index))
    kept = DEFAULT_MAX_BYTES // MB
    assert len(stream) == kept and stream.buffered_bytes == kept * MB
    assert stream.dropped == 200 - kept
    assert "dropped 1 oldest" in caplog.text
    items = await _drain(stream)
    assert [item.method for item in items if isinstance(item, UnknownEvent)] == [
        f"Big{i}" for i in range(200 - kept, 200)
    ]
    assert stream.buffered_bytes == 0


async def test_a_pool_stream_counts_the_bytes_of_the_events_it_carries() -> None:
    async with RoomPool() as pool:
        stream = pool.stream(UnknownEvent)
        for index in range(100):
            stream.put(RoomEvent("someone", 1, _big(index), 0))
        assert len(stream) == DEFAULT_MAX_BYTES // MB and stream.dropped == 100 - len(stream)


async def test_the_newest_item_is_kept_however_large_and_counts_still_bound() -> None:
    buffer: DropOldestBuffer[object] = DropOldestBuffer(5, max_bytes=MB // 2)
    buffer.put(UnknownEvent("small", b"x" * 100))
    buffer.put(_big(1))  # alone larger than the bound: the older item goes, this one stays
    assert len(buffer) == 1 and buffer.buffered_bytes == MB and buffer.dropped == 1
    for index in range(10):
        buffer.put(index)  # items that are not events count no bytes, only their number
    assert len(buffer) == 5 and buffer.buffered_bytes == 0
    assert await _drain(buffer) == [5, 6, 7, 8, 9]
    with pytest.raises(ValueError, match="max_bytes"):
        DropOldestBuffer(5, max_bytes=0)


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
    assert await asyncio.wait_for(_read_all(buffer), 5) == [0, 1, 2, 3, 4]  # ...until it is read
    assert await asyncio.wait_for(_read_all(buffer), 5) == []  # and stays ended
    assert buffer.__aiter__() is buffer


async def test_a_full_buffer_drops_the_oldest_and_counts_them(caplog: pytest.LogCaptureFixture) -> None:
    buffer = DropOldestBuffer[int](3)
    with caplog.at_level(logging.WARNING, logger="tiktok_live"):
        for item in range(2_003):
            buffer.put(item)  # never blocks, never raises
    assert len(buffer) == 3 and buffer.dropped == 2_000
    buffer.close()
    assert await asyncio.wait_for(_read_all(buffer), 5) == [2_000, 2_001, 2_002]
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
    assert await asyncio.wait_for(_read_all(buffer), 5) == [1]


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
