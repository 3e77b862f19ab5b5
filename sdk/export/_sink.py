"""The sink interface: records, counters, and the buffered, retrying writer every sink shares."""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import logging
import random
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Self, TypedDict

from tiktok_live._base import BaseEvent
from tiktok_live.errors import PermanentSinkError
from tiktok_live.jsonl import event_to_dict

if TYPE_CHECKING:
    from tiktok_live.pool import RoomEvent

__all__ = ["PermanentSinkError", "Record", "Sink", "SinkOptions", "SinkStats"]

logger = logging.getLogger("tiktok_live.export")

DEFAULT_MAX_BUFFER: Final = 100_000
DEFAULT_BATCH_SIZE: Final = 500
_REPORT_EVERY: Final = 10.0  # seconds between "still down" and "dropped" warnings


@dataclass(frozen=True, slots=True)
class Record:
    """One exported event: its JSON line (schema v1, :mod:`tiktok_live.jsonl`) and the keys sinks route by.

    ``dedupe_id`` identifies the record for consumer-side (and NATS server-side) deduplication:
    ``"<room_id>:<msg_id>:<type>"`` for a TikTok message (a derived event shares its source's ``msg_id``, hence the
    type), else a random id made once, so a retried record keeps it.
    """

    line: str
    type: str
    room_id: str | None
    msg_id: str | None
    dedupe_id: str

    @classmethod
    def from_event(cls, event: BaseEvent, *, room_id: int | None = None, received_at: int | None = None) -> Record:
        """The record of ``event``; the line is exactly :func:`tiktok_live.jsonl.event_to_json`'s."""
        data = event_to_dict(event, room_id=room_id, received_at=received_at)
        line = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        room = data["room_id"] if isinstance(data["room_id"], str) else None
        msg_id = data["msg_id"] if isinstance(data["msg_id"], str) else None
        dedupe_id = f"{room}:{msg_id}:{event.type}" if msg_id is not None else uuid.uuid4().hex
        return cls(line, event.type, room, msg_id, dedupe_id)

    @classmethod
    def from_room_event(cls, item: RoomEvent[BaseEvent]) -> Record:
        """The record of a pool's :class:`~tiktok_live.pool.RoomEvent` (its room id and receive time)."""
        return cls.from_event(item.event, room_id=item.room_id, received_at=item.received_at)


@dataclass(slots=True)
class SinkStats:
    """What a sink did. Every accepted record is delivered, dropped (and counted here), or still pending."""

    accepted: int = 0
    """Records given to :meth:`Sink.send`."""
    delivered: int = 0
    """Records the server acknowledged (a retried batch counts once)."""
    dropped: int = 0
    """Records given up: the buffer bound was hit, the sink closed before delivering them, or it failed for good."""
    failures: int = 0
    """Failed delivery attempts (each is retried after a backoff)."""
    last_error: str | None = None
    """The last delivery failure, as ``Type: message``."""
    down_since: float | None = None
    """``time.monotonic()`` of the first failure of the current outage; None while deliveries succeed."""

    @property
    def pending(self) -> int:
        """Records buffered or in flight."""
        return self.accepted - self.delivered - self.dropped


class SinkOptions(TypedDict, total=False):
    """Buffering and retry options every sink takes (see :class:`Sink`)."""

    max_buffer: int
    batch_size: int
    retry_base: float
    retry_max: float
    close_timeout: float
    connect_timeout: float


class Sink(abc.ABC):
    """Where exported records go. One small interface, chosen by URL with :func:`~tiktok_live.export.open_sink`.

    Users: :meth:`send` (or :meth:`send_event`) never blocks and never raises for a server that is down: records wait
    in a buffer of at most ``max_buffer`` records while one writer task delivers them in order, in batches of up to
    ``batch_size``, retrying failures with exponential backoff from ``retry_base`` to ``retry_max`` seconds (logged
    when the outage starts, every 10 s while it lasts, and when it ends). Beyond the bound the oldest records are
    dropped, counted in ``stats.dropped`` and logged with the running total (at the first drop, every 10 s, at the
    end of the outage and at close). Delivery is at least once: a batch whose acknowledgement was lost is sent
    again, so consumers deduplicate on ``(room_id, msg_id, type)`` (see :class:`Record`). :meth:`close` waits up to
    ``close_timeout`` seconds for the buffer to drain and counts what is left as dropped. An async context manager.

    Implementers (a Kafka sink would be one more subclass) override :meth:`connect`, :meth:`write` and
    :meth:`disconnect`; the base class owns buffering, ordering, retries and the counters.
    """

    def __init__(
        self,
        name: str,
        *,
        max_buffer: int = DEFAULT_MAX_BUFFER,
        batch_size: int = DEFAULT_BATCH_SIZE,
        retry_base: float = 0.1,
        retry_max: float = 5.0,
        close_timeout: float = 5.0,
        connect_timeout: float = 2.0,
    ) -> None:
        if max_buffer < 1 or batch_size < 1:
            raise ValueError("max_buffer and batch_size must be at least 1")
        if retry_base <= 0 or retry_max < retry_base:
            raise ValueError("need 0 < retry_base <= retry_max")
        self.name = name
        """The sink's URL without credentials, for logs and messages."""
        self.max_buffer = max_buffer
        self.batch_size = min(batch_size, max_buffer)
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.close_timeout = close_timeout
        self.connect_timeout = connect_timeout
        self.stats = SinkStats()
        """The counters; ``stats.pending`` is what is still to deliver."""
        self._queue: deque[Record] = deque()
        self._inflight: list[Record] = []
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._writer: asyncio.Task[None] | None = None
        self._connected = False
        self._closed = False
        self._failed: PermanentSinkError | None = None
        self._last_down_report = 0.0
        self._last_drop_report = 0.0
        self._dropped_reported = 0
        self._rng = random.Random()

    # ── for implementers ───────────────────────────────────────────────────────────────────────────────────────

    @abc.abstractmethod
    async def connect(self) -> None:
        """Make sure the connection works (called before the first write and after every failure); raise if not.
        The base class bounds it with ``connect_timeout``."""

    @abc.abstractmethod
    async def write(self, batch: Sequence[Record]) -> None:
        """Deliver ``batch`` in order and return once the server acknowledged all of it; raise on any failure (the
        whole batch is retried). Raise :class:`PermanentSinkError` when retrying cannot help."""

    @abc.abstractmethod
    async def disconnect(self) -> None:
        """Release the connection; called once by :meth:`close`. Must not raise for a connection that is down."""

    # ── for users ────────────────────────────────────────────────────────────────────────────────────────────

    def send(self, record: Record) -> None:
        """Queue ``record`` for delivery; never blocks. Raises RuntimeError once the sink is closed."""
        if self._closed:
            raise RuntimeError(f"{self.name}: the sink is closed")
        self.stats.accepted += 1
        if self._failed is not None:
            self._drop(1)
            return
        if len(self._queue) + len(self._inflight) >= self.max_buffer and self._queue:
            self._queue.popleft()
            self._drop(1, full=True)
        self._queue.append(record)
        self._drained.clear()
        self._wake.set()

    def send_event(self, event: BaseEvent, *, room_id: int | None = None, received_at: int | None = None) -> None:
        """:meth:`send` the :class:`Record` of ``event``."""
        self.send(Record.from_event(event, room_id=room_id, received_at=received_at))

    async def start(self) -> None:
        """Start the writer; tries to connect once (a server that is down only logs a warning: records buffer and
        are retried). Safe to call twice."""
        if self._closed:
            raise RuntimeError(f"{self.name}: the sink is closed")
        if self._writer is not None:
            return
        try:
            await self._connect()
        except PermanentSinkError as error:
            self._fail(error)
        except Exception as error:  # noqa: BLE001 - a sink down at start buffers like one that goes down later
            self._on_failure(error)
        self._writer = asyncio.create_task(self._run(), name=f"tiktok-live sink {self.name}")

    async def flush(self) -> None:
        """Wait until everything accepted so far is delivered (or dropped). Bound it with ``asyncio.timeout``."""
        if self._writer is None and self._queue:
            await self.start()
        await self._drained.wait()

    async def close(self, *, grace: float | None = None) -> None:
        """Deliver what is pending within ``grace`` (default ``close_timeout``) seconds, then stop the writer, count
        what is left as dropped (logged as an error), and disconnect. Safe to call twice."""
        if self._closed:
            return
        if self._writer is None and self._queue:
            await self.start()
        self._closed = True
        self._wake.set()
        writer = self._writer
        if writer is not None and not writer.done():
            await asyncio.wait({writer}, timeout=self.close_timeout if grace is None else grace)
            while not writer.done():  # a backend library may swallow one cancellation: insist
                writer.cancel()
                await asyncio.wait({writer}, timeout=1.0)
        left = len(self._queue) + len(self._inflight)
        if left:
            self._queue.clear()
            self._inflight = []
            self._drop(left)
            logger.error(
                "%s: closed with %d undelivered records: dropped %d in all, delivered %d of %d (last error: %s)",
                self.name,
                left,
                self.stats.dropped,
                self.stats.delivered,
                self.stats.accepted,
                self.stats.last_error,
            )
        self._drained.set()
        with contextlib.suppress(Exception):  # already down: nothing left to release cleanly
            await asyncio.wait_for(self.disconnect(), self.connect_timeout)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def failure(self) -> PermanentSinkError | None:
        """Why the sink stopped delivering for good (None while it delivers or retries)."""
        return self._failed

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        s = self.stats
        return f"<{type(self).__name__} {self.name} delivered={s.delivered} pending={s.pending} dropped={s.dropped}>"

    # ── the writer ───────────────────────────────────────────────────────────────────────────────────────────

    async def _connect(self) -> None:
        async with asyncio.timeout(self.connect_timeout):  # not wait_for: on 3.11 it can swallow a cancellation
            await self.connect()
        self._connected = True

    async def _run(self) -> None:
        attempt = 0
        while True:
            if not self._inflight:
                if not self._queue:
                    if self.stats.dropped > self._dropped_reported:
                        self._report_drops("the buffer is empty again")
                    self._drained.set()
                    if self._closed or self._failed is not None:
                        return
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                count = min(self.batch_size, len(self._queue))
                self._inflight = [self._queue.popleft() for _ in range(count)]
            try:
                if not self._connected:
                    await self._connect()
                await self.write(self._inflight)
            except PermanentSinkError as error:
                self._fail(error)
                return
            except Exception as error:  # noqa: BLE001 - any backend failure is a delivery failure: back off, retry
                _propagate_cancellation(error)
                self._connected = False
                self._on_failure(error)
                attempt += 1
                delay = min(self.retry_max, self.retry_base * 2.0 ** (attempt - 1))
                await asyncio.sleep(delay * self._rng.uniform(0.5, 1.0))
                continue
            self.stats.delivered += len(self._inflight)
            self._inflight = []
            if attempt:
                self._on_recovery()
            attempt = 0

    def _on_failure(self, error: Exception) -> None:
        stats = self.stats
        stats.failures += 1
        stats.last_error = f"{type(error).__name__}: {error}"
        now = time.monotonic()
        logger.debug("%s: delivery failed", self.name, exc_info=True)
        if stats.down_since is None:
            stats.down_since = self._last_down_report = now
            logger.warning(
                "%s: cannot deliver (%s); buffering up to %d records and retrying",
                self.name,
                stats.last_error,
                self.max_buffer,
            )
        elif now - self._last_down_report >= _REPORT_EVERY:
            self._last_down_report = now
            logger.warning(
                "%s: still down after %.0f s (%s): %d pending, %d dropped",
                self.name,
                now - stats.down_since,
                stats.last_error,
                stats.pending,
                stats.dropped,
            )

    def _on_recovery(self) -> None:
        stats = self.stats
        if stats.down_since is not None:
            # WARNING, not INFO: it closes the outage the user was warned about.
            logger.warning(
                "%s: delivering again after %.1f s (%d records dropped so far)",
                self.name,
                time.monotonic() - stats.down_since,
                stats.dropped,
            )
        stats.down_since = None

    def _drop(self, count: int, *, full: bool = False) -> None:
        first = self.stats.dropped == 0
        self.stats.dropped += count
        if full and (first or time.monotonic() - self._last_drop_report >= _REPORT_EVERY):
            self._report_drops(f"buffer full ({self.max_buffer} records)")

    def _report_drops(self, why: str) -> None:
        self._last_drop_report = time.monotonic()
        self._dropped_reported = self.stats.dropped
        logger.warning("%s: %s: dropped %d records so far", self.name, why, self.stats.dropped)

    def _fail(self, error: PermanentSinkError) -> None:
        self._failed = error
        self.stats.last_error = f"{type(error).__name__}: {error}"
        left = len(self._queue) + len(self._inflight)
        self._queue.clear()
        self._inflight = []
        self._drop(left)
        self._drained.set()
        logger.error("%s: %s; dropping %d pending and all later records", self.name, error, left)


def _propagate_cancellation(error: Exception) -> None:
    """Re-raise a cancellation that a library turned into another error (asyncio.wait_for on 3.11 can)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError from error
