"""The streams' shared buffer (sdk/_buffer.py): bounded by count and by payload bytes, never blocking its producer."""

from __future__ import annotations

import pytest

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
