"""NATS JetStream sink: one message per event on ``<subject>.<room_id>``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, Unpack

from tiktok_live.export._sink import Record, Sink, SinkOptions

if TYPE_CHECKING:
    import nats.aio.client
    import nats.js

__all__ = ["DEFAULT_NATS_STREAM", "DEFAULT_SUBJECT", "NatsStreamSink"]

logger = logging.getLogger("tiktok_live.export")

DEFAULT_SUBJECT: Final = "tiktok-live.events"
"""The subject prefix when the URL names none (``?subject=``); each room publishes on ``<subject>.<room_id>``."""
DEFAULT_NATS_STREAM: Final = "tiktok-live"
"""The JetStream stream the sink creates when no stream captures the subjects yet (``?stream=``)."""
MSG_ID_HEADER: Final = "Nats-Msg-Id"
NO_ROOM: Final = "unknown"
"""The last subject token of a record without a room id (not expected from a pool)."""


class NatsStreamSink(Sink):
    """Publishes every record to NATS JetStream on ``<subject>.<room_id>`` and waits for the stream's
    acknowledgement, with the ``nats-py`` client (``pip install 'tiktok-live[nats]'``).

    ``url`` is the server (``nats://[user:password@]host:port``, ``tls://`` for TLS). If no stream captures
    ``<subject>.>`` yet, the sink creates ``stream`` (file storage, ``duplicate_window`` seconds of deduplication);
    with ``create_stream=False`` it expects one. Every message carries ``Nats-Msg-Id`` = the record's ``dedupe_id``,
    so JetStream drops the copies a retry sends within the duplicate window; consumers still deduplicate on
    ``(room_id, msg_id, type)`` beyond it. Consumers scale out with durable pull consumers (one durable, many
    subscribers) or queue groups.
    """

    def __init__(
        self,
        url: str,
        *,
        subject: str = DEFAULT_SUBJECT,
        stream: str = DEFAULT_NATS_STREAM,
        create_stream: bool = True,
        duplicate_window: float = 120.0,
        ack_timeout: float = 5.0,
        reconnect_wait: float = 0.5,
        name: str | None = None,
        **options: Unpack[SinkOptions],
    ) -> None:
        if not subject or any(char in subject for char in " *>") or subject.startswith(".") or subject.endswith("."):
            raise ValueError(f"not a NATS subject prefix: {subject!r} (no spaces, wildcards or empty tokens)")
        if not stream or any(char in stream for char in " .*>/\\"):
            raise ValueError(f"not a JetStream stream name: {stream!r}")
        super().__init__(name or url, **options)
        self.url = url
        self.subject = subject
        self.stream = stream
        self.create_stream = create_stream
        self.duplicate_window = duplicate_window
        self.ack_timeout = ack_timeout
        self.reconnect_wait = reconnect_wait
        self._nc: nats.aio.client.Client | None = None
        self._js: nats.js.JetStreamContext | None = None
        self._stream_ready = False
        self._closing = False

    def subject_for(self, record: Record) -> str:
        """``<subject>.<room_id>``: where ``record`` is published."""
        return f"{self.subject}.{record.room_id or NO_ROOM}"

    async def connect(self) -> None:
        """Connect on first use (nats-py then reconnects by itself, forever); fail while it is reconnecting, so a
        retry does not pile copies into its outgoing buffer; make sure a stream captures the subjects."""
        nc = self._nc
        if nc is None or nc.is_closed:
            import nats

            self._stream_ready = False
            nc = await nats.connect(
                servers=[self.url],
                connect_timeout=max(1, round(self.connect_timeout)),
                reconnect_time_wait=self.reconnect_wait,
                max_reconnect_attempts=-1,
                error_cb=self._on_error,
                disconnected_cb=self._on_disconnected,
                reconnected_cb=self._on_reconnected,
                name="tiktok-live export",
            )
            self._nc = nc
            self._js = nc.jetstream(timeout=self.ack_timeout)
        if not nc.is_connected:
            raise ConnectionError("NATS is reconnecting")
        if not self._stream_ready:
            await self._ensure_stream()
            self._stream_ready = True

    async def _ensure_stream(self) -> None:
        import nats.js.api
        import nats.js.errors

        js = self._jetstream()
        try:
            existing = await js.find_stream_name_by_subject(f"{self.subject}.{NO_ROOM}")
        except nats.js.errors.NotFoundError:
            existing = None
        if existing is not None:
            logger.debug("%s: stream %s captures %s.>", self.name, existing, self.subject)
            return
        if not self.create_stream:
            raise ConnectionError(f"no JetStream stream captures {self.subject}.> (create one, or allow create)")
        await js.add_stream(
            name=self.stream,
            subjects=[f"{self.subject}.>"],
            storage=nats.js.api.StorageType.FILE,
            duplicate_window=self.duplicate_window,
        )
        logger.info("%s: created JetStream stream %s for %s.>", self.name, self.stream, self.subject)

    async def write(self, batch: Sequence[Record]) -> None:
        """Publish the batch (pipelined) and wait for every acknowledgement; raises if any failed."""
        js = self._jetstream()
        results = await asyncio.gather(
            *(
                js.publish(self.subject_for(record), record.line.encode(), headers={MSG_ID_HEADER: record.dedupe_id})
                for record in batch
            ),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, Exception):
                raise result
            if isinstance(result, BaseException):  # a publish cancelled inside nats-py, not this task
                raise ConnectionError("a publish was cancelled") from result

    async def disconnect(self) -> None:
        """Flush and close the connection."""
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None and not nc.is_closed:
            self._closing = True
            await nc.close()

    def _jetstream(self) -> nats.js.JetStreamContext:
        if self._js is None:
            raise ConnectionError("not connected")
        return self._js

    async def _on_error(self, error: Exception) -> None:
        logger.debug("%s: %s: %s", self.name, type(error).__name__, error)

    async def _on_disconnected(self) -> None:
        if not self._closing:
            logger.info("%s: disconnected; nats-py reconnects", self.name)

    async def _on_reconnected(self) -> None:
        logger.info("%s: reconnected", self.name)
