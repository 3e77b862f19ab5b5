"""A bounded async buffer that never makes its producer wait: the base of the client's and the pool's streams."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Final, Generic, Self, TypeVar

from tiktok_live._base import BaseEvent

__all__ = ["DEFAULT_MAX_BYTES", "DropOldestBuffer"]

logger = logging.getLogger("tiktok_live")

T = TypeVar("T")

DEFAULT_MAX_BYTES: Final = 64 * 1024 * 1024
"""Payload bytes a stream buffers at most, whatever its ``maxsize``: events range from a few bytes to megabytes."""


class DropOldestBuffer(Generic[T]):
    """Items put by a producer, iterated with ``async for`` by a consumer.

    ``put`` never blocks: when ``maxsize`` items are waiting, or their payloads would exceed ``max_bytes``, the
    oldest are dropped and counted in ``dropped`` (with a warning on the first drop and every 1,000th); the newest
    item is always kept, however large. Iteration ends after :meth:`close`, once the buffered items are consumed. A
    consumer that stops early should close it (or use ``async with``), so the producer stops feeding it.
    ``on_close`` (the producer unsubscribing) is called once, on close.
    """

    _label = "stream"

    def __init__(
        self, maxsize: int, on_close: Callable[[Self], None] | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        if max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        self.maxsize = maxsize
        self.max_bytes = max_bytes
        self.buffered_bytes = 0
        """Payload bytes of the items waiting (see :meth:`_item_size`)."""
        self._on_close = on_close
        self.dropped = 0
        self._buffer: deque[T] = deque()
        self._ready = asyncio.Event()
        self._closed = False

    def _item_size(self, item: T) -> int:
        """The bytes ``item`` counts against ``max_bytes``: an event's payload size (0 for anything else)."""
        return item.size if isinstance(item, BaseEvent) else 0

    def put(self, item: T) -> None:
        """Buffer ``item``, dropping the oldest ones when full (ignored once closed)."""
        if self._closed:
            return
        size = self._item_size(item)
        buffer = self._buffer
        while buffer and (len(buffer) >= self.maxsize or self.buffered_bytes + size > self.max_bytes):
            self.buffered_bytes -= self._item_size(buffer.popleft())
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.warning(
                    "%s is full (%d events, %d bytes): dropped %d oldest events so far",
                    self._label,
                    self.maxsize,
                    self.max_bytes,
                    self.dropped,
                )
        buffer.append(item)
        self.buffered_bytes += size
        self._ready.set()

    def close(self: Self) -> None:
        """End iteration once the buffer is drained, and unsubscribe. Safe to call twice."""
        if not self._closed:
            self._closed = True
            self._ready.set()
            if self._on_close is not None:
                self._on_close(self)

    @property
    def closed(self) -> bool:
        """Whether the stream was closed (it may still hold buffered items)."""
        return self._closed

    def __len__(self) -> int:
        return len(self._buffer)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Leaving ``async with`` closes the stream: a consumer that stops early unsubscribes."""
        self.close()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        while not self._buffer:
            if self._closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        item = self._buffer.popleft()
        self.buffered_bytes -= self._item_size(item)
        return item
