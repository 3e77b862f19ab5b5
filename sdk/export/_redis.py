"""Redis Streams sink: one stream entry per event, with a single field ``event`` holding the JSON line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, Unpack

from tiktok_live.export._sink import Record, Sink, SinkOptions

if TYPE_CHECKING:
    import redis.asyncio

__all__ = ["DEFAULT_STREAM", "RedisStreamSink"]

DEFAULT_STREAM: Final = "tiktok-live"
"""The stream key when the URL names none (``?stream=``)."""
FIELD: Final = "event"
"""The one field of every entry: the event's JSON line (schema v1)."""


class RedisStreamSink(Sink):
    """Appends every record to one Redis stream (``XADD <stream> * event <json line>``), all rooms in one stream
    (the room is inside the record), with the ``redis`` package's asyncio client (``pip install
    'tiktok-live[redis]'``).

    ``url`` is a redis-py URL (``redis://[user:password@]host:port/db``, ``rediss://`` for TLS) without this sink's
    query keys. ``maxlen`` trims the stream approximately (``MAXLEN ~``) on every append; None keeps everything.
    Batches go out as one pipeline; a batch that failed is sent again whole, so an entry may appear twice (at least
    once): consumers deduplicate on ``(room_id, msg_id, type)``. Consumers scale out with consumer groups
    (``XREADGROUP``); see ``examples/redis_gift_counter.py``.
    """

    def __init__(
        self,
        url: str,
        *,
        stream: str = DEFAULT_STREAM,
        maxlen: int | None = None,
        name: str | None = None,
        **options: Unpack[SinkOptions],
    ) -> None:
        if not stream:
            raise ValueError("the Redis stream key cannot be empty")
        if maxlen is not None and maxlen < 1:
            raise ValueError("maxlen must be at least 1 (or None)")
        super().__init__(name or url, **options)
        self.url = url
        self.stream = stream
        self.maxlen = maxlen
        self._client: redis.asyncio.Redis | None = None

    async def connect(self) -> None:
        """Create the client on first use, then PING (redis-py reconnects a dropped connection by itself)."""
        if self._client is None:
            import redis.asyncio
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            # The sink retries with its own backoff and buffer: redis-py's retries would only stall the writer.
            self._client = redis.asyncio.Redis.from_url(
                self.url,
                socket_connect_timeout=self.connect_timeout,
                socket_timeout=max(self.connect_timeout, 5.0),
                retry=Retry(NoBackoff(), 0),
            )
        await self._client.ping()

    async def write(self, batch: Sequence[Record]) -> None:
        """``XADD`` every record in one non-transactional pipeline; raises on the first error."""
        client = self._client
        if client is None:
            raise ConnectionError("not connected")
        pipe = client.pipeline(transaction=False)
        for record in batch:
            _ = pipe.xadd(self.stream, {FIELD: record.line}, maxlen=self.maxlen, approximate=True)  # queued, not sent
        await pipe.execute()

    async def disconnect(self) -> None:
        """Close the client and its connection pool."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
