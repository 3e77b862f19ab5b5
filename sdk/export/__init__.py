"""Export events to other processes and machines: one small :class:`Sink` interface, chosen by URL.

Every record is one line of the JSON Lines event schema v1 (:mod:`tiktok_live.jsonl`, ``docs/cli.md``)::

    async with RoomPool() as pool, open_sink("redis://localhost:6379/0?stream=tiktok-live") as sink:
        for user in ("@alice", "@bob"):
            pool.add(user)
        await export(pool.stream(GiftEvent, CommentEvent), sink)   # until the pool closes

Sinks (:func:`open_sink`): ``-`` or a file path (:class:`JsonLinesSink`), ``redis://`` (:class:`RedisStreamSink`,
extra ``redis``), ``nats://`` (:class:`NatsStreamSink`, extra ``nats``). Delivery is at least once: a sink that is
down buffers up to a bound, retries with backoff, logs, counts (:class:`SinkStats`), and says how many records it
dropped when the bound is hit or when it closes undelivered; consumers deduplicate on ``(room_id, msg_id, type)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import TYPE_CHECKING

from tiktok_live._base import BaseEvent
from tiktok_live.export._jsonl import JsonLinesSink
from tiktok_live.export._nats import NatsStreamSink
from tiktok_live.export._redis import RedisStreamSink
from tiktok_live.export._sink import PermanentSinkError, Record, Sink, SinkOptions, SinkStats
from tiktok_live.export._url import SINK_SCHEMES, open_sink

if TYPE_CHECKING:
    from tiktok_live.pool import RoomEvent

__all__ = [
    "SINK_SCHEMES",
    "JsonLinesSink",
    "NatsStreamSink",
    "PermanentSinkError",
    "Record",
    "RedisStreamSink",
    "Sink",
    "SinkOptions",
    "SinkStats",
    "export",
    "open_sink",
]


async def export(stream: AsyncIterable[RoomEvent[BaseEvent]], sink: Sink) -> int:
    """Send every item of ``stream`` (a :meth:`RoomPool.stream <tiktok_live.pool.RoomPool.stream>`) to ``sink``
    until the stream ends; returns how many. The sink is neither started nor closed here."""
    count = 0
    async for item in stream:
        sink.send(Record.from_room_event(item))
        count += 1
    return count
