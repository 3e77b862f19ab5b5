"""The event hub: one room's events, fanned out to every browser over Server-Sent Events, with nothing unbounded.

The client's handlers call :meth:`EventHub.publish` with each event already serialized (JSON Lines schema v1,
:mod:`tiktok_live.jsonl`); the hub numbers it, keeps the newest ``backlog`` events (at most ``backlog_bytes`` of
them) for browsers that join late or reconnect, and offers it to every :class:`Subscription`. A subscription
buffers at most ``queue_limit`` chunks and ``queue_bytes`` bytes: a browser that cannot keep up is disconnected
(its EventSource reconnects and resumes from the backlog), never waited for. What a new browser gets from the
backlog is read from the shared backlog as it is written, in batches (:meth:`Subscription.take`), never copied
per browser. Everything here is synchronous and runs on the event loop's thread, so publishing never blocks the
client's reader.

The wire format of one stream (``text/event-stream``)::

    retry: 2000
    event: hello
    data: {"server": "k3x…", "seq": 41, "reset": true, "now": 1732630000150, "config": {...}, "state": {...}}

    id: k3x….42
    data: {"v": 1, "type": "CommentEvent", ...}          ← one JSON Lines (schema v1) object per event

    event: state
    data: {"status": "connected", "viewers": 120, ...}  ← the room's totals (RoomState.snapshot), coalesced

    event: ping
    data: {}                                            ← when nothing else was sent for a while

An event's id is ``<server>.<seq>``: a browser that reconnects sends it back (``Last-Event-ID``) and gets only the
events it missed, if the same server still holds them; otherwise ``reset`` is true and it starts afresh.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import secrets
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Final

__all__ = [
    "DEFAULT_BACKLOG",
    "DEFAULT_BACKLOG_BYTES",
    "DEFAULT_MAX_SUBSCRIBERS",
    "DEFAULT_QUEUE_BYTES",
    "DEFAULT_QUEUE_LIMIT",
    "KEEPALIVE",
    "MAX_BACKLOG",
    "RETRY_MS",
    "EventHub",
    "Subscription",
    "compact_json",
    "state_chunk",
]

DEFAULT_BACKLOG: Final = 500
"""Events kept for late-joining and reconnecting browsers (``--backlog``)."""
MAX_BACKLOG: Final = 100_000
"""The largest backlog accepted."""
DEFAULT_BACKLOG_BYTES: Final = 32 * 1024 * 1024
"""Bytes of events kept at most, whatever ``backlog`` says: events vary from a few hundred bytes to megabytes."""
DEFAULT_QUEUE_LIMIT: Final = 2_000
"""Chunks one browser may have waiting before it is disconnected as too slow."""
DEFAULT_QUEUE_BYTES: Final = 4 * 1024 * 1024
"""Bytes one browser may have waiting (besides its share of the backlog) before it is disconnected as too slow."""
DEFAULT_MAX_SUBSCRIBERS: Final = 256
"""Event streams served at once; more are refused with 503 (the page retries)."""
_LINE_BREAK: Final = re.compile(r"\r\n|\r|\n")
RETRY_MS: Final = 2_000
"""The reconnect delay the stream asks EventSource to use."""


@dataclass(frozen=True, slots=True)
class _Item:
    seq: int
    type: str
    chunk: bytes


class _Batch:
    """Chunks taken for one write: at most ``limit`` bytes (None: no limit), but always at least one chunk."""

    __slots__ = ("chunks", "full", "limit", "size")

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.chunks: list[bytes] = []
        self.size = 0
        self.full = False

    def fits(self, size: int) -> bool:
        if self.limit is not None and self.chunks and self.size + size > self.limit:
            self.full = True
        return not self.full

    def add(self, chunk: bytes) -> None:
        self.chunks.append(chunk)
        self.size += len(chunk)


def _encode(text: str) -> bytes:
    # TikTok strings are valid UTF-8, but a lone surrogate must not kill the stream: replace it.
    return text.encode("utf-8", "replace")


def _data_lines(payload: str) -> str:
    # Compact JSON has no raw CR or LF (json escapes them), so this is one data line; split anyway to keep the
    # framing right whatever the caller passes. Only CR, LF and CRLF end an SSE line: str.splitlines() would also
    # split at U+2028, U+0085, ... inside comments and corrupt them.
    return "".join(f"data: {line}\n" for line in _LINE_BREAK.split(payload))


class Subscription:
    """One browser's event stream: the hello, its share of the backlog, then a bounded queue of new events.

    Created by :meth:`EventHub.subscribe`; the web handler writes out :meth:`take` until :attr:`closed`, then calls
    :meth:`close` (idempotent) in a ``finally`` so the hub forgets it.
    """

    def __init__(
        self,
        hub: EventHub,
        types: frozenset[str] | None,
        wants_state: bool,
        queue_limit: int,
        queue_bytes: int = DEFAULT_QUEUE_BYTES,
    ) -> None:
        self._hub = hub
        self.types = types
        """Event type names this browser wants (None: all)."""
        self.wants_state = wants_state
        """Whether this browser gets ``state`` messages."""
        self.queue_limit = queue_limit
        self.queue_bytes = queue_bytes
        self._queue: deque[bytes] = deque()
        self.queued_bytes = 0
        """Bytes of the chunks waiting in the queue (the backlog still to replay is not copied, so not counted)."""
        self._wake = asyncio.Event()
        self.state_dirty = False
        """The room state changed since it was last sent."""
        self.closed = False
        """No more chunks will come: the hub closed it, or it overflowed."""
        self.close_reason = ""
        """Why it closed (``"overflow"``, ``"shutdown"``, ``"gone"``)."""
        self.last_seq = 0
        """The sequence number of the last event queued for this browser."""
        # The backlog replay: events with seq in [_replay_next, _replay_last] that this browser wants, read from the
        # hub's backlog when taken; it goes after the first _before_replay chunks of the queue (the hello).
        self._replay_next: int | None = None
        self._replay_last = 0
        self._before_replay = 0

    def wants(self, event_type: str) -> bool:
        """Whether this subscription receives events of type ``event_type``."""
        return self.types is None or event_type in self.types

    @property
    def pending(self) -> int:
        """Chunks waiting in the queue (not counting a backlog replay still to be read: see :attr:`replaying`)."""
        return len(self._queue)

    @property
    def replaying(self) -> bool:
        """Whether backlog events are still to be sent before the queued ones."""
        return self._replay_next is not None

    def offer(self, item: _Item) -> None:
        """Queue an event; an overflowing subscription is closed (the browser reconnects and resumes)."""
        if self.closed or not self.wants(item.type):
            return
        size = len(item.chunk)
        # One event always fits an empty queue, however large: a page that keeps up gets every event.
        if len(self._queue) >= self.queue_limit or (self._queue and self.queued_bytes + size > self.queue_bytes):
            self._close("overflow")
            return
        self._queue.append(item.chunk)
        self.queued_bytes += size
        self.last_seq = item.seq
        self._wake.set()

    def push(self, chunk: bytes) -> None:
        """Queue a chunk that is not an event (the hello); never counted against the limits."""
        if not self.closed:
            self._queue.append(chunk)
            self.queued_bytes += len(chunk)
            self._wake.set()

    def _replay(self, first: int, last: int) -> None:
        """Send the backlog events numbered ``first`` to ``last`` that this browser wants after what is queued."""
        if first <= last:
            self._replay_next, self._replay_last, self._before_replay = first, last, len(self._queue)
            self.last_seq = max(self.last_seq, last)

    def mark_state(self) -> None:
        """The room state changed: send it at the next opportunity (coalesced)."""
        if self.wants_state and not self.closed:
            self.state_dirty = True
            self._wake.set()

    async def wait(self, seconds: float) -> None:
        """Return when there is something to send, the subscription closed, or after ``seconds``."""
        if self._queue or self._replay_next is not None or self.closed:
            return
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except TimeoutError:
            pass

    def take(self, max_bytes: int | None = None) -> list[bytes]:
        """The chunks to write next, in order: all of them, or as many as fit in ``max_bytes`` (at least one).

        Backlog events are read from the hub's backlog here, not copied at subscribe time. If the backlog dropped
        events this browser had not been sent yet, the subscription closes as ``"overflow"`` and nothing after the
        gap is sent: the browser reconnects with the last id it got, and starts afresh."""
        batch = _Batch(max_bytes)
        self._take_queued(batch)  # the hello, queued before the replay
        if self._replay_next is not None and not self._before_replay and not batch.full:
            self._take_replay(batch, self._replay_next)
        if self._replay_next is None and not batch.full:
            self._take_queued(batch)
        return batch.chunks

    def _take_queued(self, batch: _Batch) -> None:
        while self._queue and (self._replay_next is None or self._before_replay):
            size = len(self._queue[0])
            if not batch.fits(size):
                return
            self.queued_bytes -= size
            self._before_replay = max(0, self._before_replay - 1)
            batch.add(self._queue.popleft())

    def _take_replay(self, batch: _Batch, next_seq: int) -> None:
        for item in self._hub._held_from(next_seq):
            if item is None:  # the backlog dropped events this browser still had to get: it must start afresh
                self._queue.clear()
                self.queued_bytes = 0
                self._replay_next = None
                self._hub.overflows += 1
                self._close("overflow")
                batch.full = True
                return
            if item.seq > self._replay_last:
                break
            if self.wants(item.type):
                if not batch.fits(len(item.chunk)):
                    return
                batch.add(item.chunk)
            self._replay_next = item.seq + 1
        self._replay_next = None

    def _close(self, reason: str) -> None:
        if not self.closed:
            self.closed = True
            self.close_reason = reason
            self._wake.set()
        self._hub._forget(self)

    def close(self) -> None:
        """Stop receiving and let the hub forget this browser. Safe to call twice."""
        self._close(self.close_reason or "gone")


class EventHub:
    """Numbered events, a bounded backlog and the set of browsers subscribed to one room.

    ``backlog`` events are kept, at most ``backlog_bytes`` of them (oldest dropped first); each browser may have
    ``queue_limit`` chunks and ``queue_bytes`` bytes waiting; at most ``max_subscribers`` streams are open at once.
    ``server_id`` tells one run of the server from another, so a page can tell a resumable reconnect from a
    restart.
    """

    def __init__(
        self,
        *,
        backlog: int = DEFAULT_BACKLOG,
        backlog_bytes: int = DEFAULT_BACKLOG_BYTES,
        queue_limit: int = DEFAULT_QUEUE_LIMIT,
        queue_bytes: int = DEFAULT_QUEUE_BYTES,
        max_subscribers: int = DEFAULT_MAX_SUBSCRIBERS,
    ) -> None:
        if not 0 <= backlog <= MAX_BACKLOG:
            raise ValueError(f"backlog must be between 0 and {MAX_BACKLOG}")
        if backlog_bytes < 1 or queue_bytes < 1:
            raise ValueError("backlog_bytes and queue_bytes must be positive")
        if queue_limit < 1 or max_subscribers < 1:
            raise ValueError("queue_limit and max_subscribers must be positive")
        self.backlog_size = backlog
        self.backlog_bytes = backlog_bytes
        self.queue_limit = queue_limit
        self.queue_bytes = queue_bytes
        self.max_subscribers = max_subscribers
        self.server_id = secrets.token_urlsafe(6)
        """A random id for this hub; event ids are ``<server_id>.<seq>``."""
        self.seq = 0
        """The sequence number of the last event published (0: none yet)."""
        self.published = 0
        """Events published so far."""
        self.overflows = 0
        """Subscriptions closed because their browser was too slow."""
        self.held_bytes = 0
        """Bytes of the events in the backlog now (at most ``backlog_bytes``)."""
        self._backlog: deque[_Item] = deque()  # consecutive seqs: the newest events published
        self._subscribers: set[Subscription] = set()

    # ── publishing ───────────────────────────────────────────────────────────────────────────────────────────

    def publish(self, event_type: str, payload: str) -> int:
        """Number one event (``payload``: its JSON Lines object), keep it in the backlog, send it to every browser
        that wants it; returns its sequence number."""
        self.seq += 1
        self.published += 1
        chunk = _encode(f"id: {self.server_id}.{self.seq}\n{_data_lines(payload)}\n")
        item = _Item(self.seq, event_type, chunk)
        if self.backlog_size:
            self._backlog.append(item)
            self.held_bytes += len(chunk)
            while self._backlog and (len(self._backlog) > self.backlog_size or self.held_bytes > self.backlog_bytes):
                self.held_bytes -= len(self._backlog.popleft().chunk)
        for subscriber in list(self._subscribers):
            subscriber.offer(item)
            if subscriber.close_reason == "overflow":
                self.overflows += 1
        return self.seq

    def state_changed(self) -> None:
        """Tell every browser that wants the room state that it changed (each sends it when it next writes)."""
        for subscriber in self._subscribers:
            subscriber.mark_state()

    # ── subscribing ──────────────────────────────────────────────────────────────────────────────────────────

    @property
    def subscriber_count(self) -> int:
        """Browsers subscribed right now."""
        return len(self._subscribers)

    @property
    def backlog(self) -> tuple[tuple[int, str], ...]:
        """``(seq, type)`` of the events held for late joiners, oldest first."""
        return tuple((item.seq, item.type) for item in self._backlog)

    def subscribe(
        self,
        *,
        types: Iterable[str] | None = None,
        wants_state: bool = True,
        last_event_id: str | None = None,
        backlog: int | None = None,
        hello: Mapping[str, object] | None = None,
    ) -> Subscription | None:
        """A new subscription, primed with the hello and the events this browser should see first.

        With ``last_event_id`` from this server still covered by the backlog, only the events after it are sent
        (``reset`` false). Otherwise up to ``backlog`` of the newest matching events are (None: all held; 0:
        none), with ``reset`` true. ``hello`` is merged into the hello message. Returns None when
        ``max_subscribers`` streams are already open.
        """
        if len(self._subscribers) >= self.max_subscribers:
            return None
        subscription = Subscription(
            self, frozenset(types) if types is not None else None, wants_state, self.queue_limit, self.queue_bytes
        )
        after = self._resume_point(last_event_id)
        if after is not None:
            first = after + 1
        else:
            limit = len(self._backlog) if backlog is None else max(0, backlog)
            first = self.seq + 1
            for item in reversed(self._backlog):
                if limit == 0:
                    break
                if subscription.wants(item.type):
                    first, limit = item.seq, limit - 1
        message = {
            "server": self.server_id,
            "seq": self.seq,
            "reset": after is None,
            "now": int(time.time() * 1000),
            **(hello or {}),
        }
        subscription.push(_encode(f"retry: {RETRY_MS}\nevent: hello\n{_data_lines(compact_json(message))}\n"))
        subscription._replay(first, self.seq)
        self._subscribers.add(subscription)
        return subscription

    def _held_from(self, seq: int) -> Iterator[_Item | None]:
        """The backlog's events from number ``seq`` on, or a single None if the backlog no longer holds ``seq``."""
        oldest = self._backlog[0].seq if self._backlog else self.seq + 1
        if seq < oldest:
            yield None
            return
        yield from itertools.islice(self._backlog, seq - oldest, None)

    def _resume_point(self, last_event_id: str | None) -> int | None:
        """The seq to resume after, if ``last_event_id`` names an event of this server that the backlog covers."""
        if not last_event_id:
            return None
        server, _, number = last_event_id.strip().rpartition(".")
        if server != self.server_id or not (number.isascii() and number.isdigit() and len(number) <= 19):
            return None
        seq = int(number)
        if seq > self.seq:
            return None
        oldest = self._backlog[0].seq if self._backlog else self.seq + 1
        # Resumable when nothing after `seq` has been dropped from the backlog.
        return seq if seq + 1 >= oldest else None

    def close_all(self, reason: str = "shutdown") -> None:
        """Close every subscription (at server shutdown); their handlers then return and the streams end."""
        for subscriber in list(self._subscribers):
            subscriber._close(reason)

    def _forget(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)


def compact_json(value: object) -> str:
    """``value`` as JSON without spaces and with non-ASCII text as is (one Server-Sent Events data line)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def state_chunk(payload: str) -> bytes:
    """The SSE chunk carrying a room-state snapshot (JSON text)."""
    return _encode(f"event: state\n{_data_lines(payload)}\n")


KEEPALIVE: Final = b"event: ping\ndata: {}\n\n"
"""Sent when nothing else was for a while: keeps proxies open, detects gone browsers, and lets a page notice a
stalled stream (an SSE comment would be invisible to its script)."""
