"""The event hub: one room's events, fanned out to every browser over Server-Sent Events, with nothing unbounded.

The client's handlers call :meth:`EventHub.publish` with each event already serialized (JSON Lines schema v1,
:mod:`tiktok_live.jsonl`); the hub numbers it, keeps the newest ``backlog`` events for browsers that join late or
reconnect, and offers it to every :class:`Subscription`. A subscription buffers at most ``queue_limit`` chunks: a
browser that cannot keep up is disconnected (its EventSource reconnects and resumes from the backlog), never
waited for. Everything here is synchronous and runs on the event loop's thread, so publishing never blocks the
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
import json
import re
import secrets
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

__all__ = [
    "DEFAULT_BACKLOG",
    "DEFAULT_MAX_SUBSCRIBERS",
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
DEFAULT_QUEUE_LIMIT: Final = 2_000
"""Chunks one browser may have waiting before it is disconnected as too slow."""
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


def _encode(text: str) -> bytes:
    # TikTok strings are valid UTF-8, but a lone surrogate must not kill the stream: replace it.
    return text.encode("utf-8", "replace")


def _data_lines(payload: str) -> str:
    # Compact JSON has no raw CR or LF (json escapes them), so this is one data line; split anyway to keep the
    # framing right whatever the caller passes. Only CR, LF and CRLF end an SSE line: str.splitlines() would also
    # split at U+2028, U+0085, ... inside comments and corrupt them.
    return "".join(f"data: {line}\n" for line in _LINE_BREAK.split(payload))


class Subscription:
    """One browser's event stream: a bounded queue of SSE chunks and a wake-up signal.

    Created by :meth:`EventHub.subscribe`; the web handler writes out :meth:`next_chunks` until :attr:`closed`, then
    calls :meth:`close` (idempotent) in a ``finally`` so the hub forgets it.
    """

    def __init__(self, hub: EventHub, types: frozenset[str] | None, wants_state: bool, queue_limit: int) -> None:
        self._hub = hub
        self.types = types
        """Event type names this browser wants (None: all)."""
        self.wants_state = wants_state
        """Whether this browser gets ``state`` messages."""
        self.queue_limit = queue_limit
        self._queue: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self.state_dirty = False
        """The room state changed since it was last sent."""
        self.closed = False
        """No more chunks will come: the hub closed it, or it overflowed."""
        self.close_reason = ""
        """Why it closed (``"overflow"``, ``"shutdown"``, ``"gone"``)."""
        self.last_seq = 0
        """The sequence number of the last event queued for this browser."""

    def wants(self, event_type: str) -> bool:
        """Whether this subscription receives events of type ``event_type``."""
        return self.types is None or event_type in self.types

    @property
    def pending(self) -> int:
        """Chunks waiting to be written."""
        return len(self._queue)

    def offer(self, item: _Item) -> None:
        """Queue an event; an overflowing subscription is closed (the browser reconnects and resumes)."""
        if self.closed or not self.wants(item.type):
            return
        if len(self._queue) >= self.queue_limit:
            self._close("overflow")
            return
        self._queue.append(item.chunk)
        self.last_seq = item.seq
        self._wake.set()

    def push(self, chunk: bytes) -> None:
        """Queue a chunk that is not an event (the hello); never counted against the limit."""
        if not self.closed:
            self._queue.append(chunk)
            self._wake.set()

    def mark_state(self) -> None:
        """The room state changed: send it at the next opportunity (coalesced)."""
        if self.wants_state and not self.closed:
            self.state_dirty = True
            self._wake.set()

    async def wait(self, seconds: float) -> None:
        """Return when there is something to send, the subscription closed, or after ``seconds``."""
        if self._queue or self.closed:
            return
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except TimeoutError:
            pass

    def take(self) -> list[bytes]:
        """Every queued chunk, in order (the queue is emptied)."""
        chunks = list(self._queue)
        self._queue.clear()
        return chunks

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

    ``backlog`` events are kept (oldest dropped first); each browser may have ``queue_limit`` chunks waiting;
    at most ``max_subscribers`` streams are open at once. ``server_id`` tells one run of the server from
    another, so a page can tell a resumable reconnect from a restart.
    """

    def __init__(
        self,
        *,
        backlog: int = DEFAULT_BACKLOG,
        queue_limit: int = DEFAULT_QUEUE_LIMIT,
        max_subscribers: int = DEFAULT_MAX_SUBSCRIBERS,
    ) -> None:
        if not 0 <= backlog <= MAX_BACKLOG:
            raise ValueError(f"backlog must be between 0 and {MAX_BACKLOG}")
        if queue_limit < 1 or max_subscribers < 1:
            raise ValueError("queue_limit and max_subscribers must be positive")
        self.backlog_size = backlog
        self.queue_limit = queue_limit
        self.max_subscribers = max_subscribers
        self.server_id = secrets.token_urlsafe(6)
        """A random id for this hub; event ids are ``<server_id>.<seq>``."""
        self.seq = 0
        """The sequence number of the last event published (0: none yet)."""
        self.published = 0
        """Events published so far."""
        self.overflows = 0
        """Subscriptions closed because their browser was too slow."""
        self._backlog: deque[_Item] = deque(maxlen=backlog)
        self._subscribers: set[Subscription] = set()

    # ── publishing ───────────────────────────────────────────────────────────────────────────────────────────

    def publish(self, event_type: str, payload: str) -> int:
        """Number one event (``payload``: its JSON Lines object), keep it in the backlog, send it to every browser
        that wants it; returns its sequence number."""
        self.seq += 1
        self.published += 1
        chunk = _encode(f"id: {self.server_id}.{self.seq}\n{_data_lines(payload)}\n")
        item = _Item(self.seq, event_type, chunk)
        self._backlog.append(item)
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

        With ``last_event_id`` from this server still covered by the backlog, only the events after it are queued
        (``reset`` false). Otherwise up to ``backlog`` of the newest matching events are (None: all held; 0:
        none), with ``reset`` true. ``hello`` is merged into the hello message. Returns None when
        ``max_subscribers`` streams are already open.
        """
        if len(self._subscribers) >= self.max_subscribers:
            return None
        subscription = Subscription(
            self, frozenset(types) if types is not None else None, wants_state, self.queue_limit
        )
        after = self._resume_point(last_event_id)
        if after is not None:
            replay = [item for item in self._backlog if item.seq > after and subscription.wants(item.type)]
        else:
            limit = len(self._backlog) if backlog is None else max(0, backlog)
            matching = [item for item in self._backlog if subscription.wants(item.type)]
            replay = matching[max(0, len(matching) - limit) :] if limit else []
        message = {
            "server": self.server_id,
            "seq": self.seq,
            "reset": after is None,
            "now": int(time.time() * 1000),
            **(hello or {}),
        }
        subscription.push(_encode(f"retry: {RETRY_MS}\nevent: hello\n{_data_lines(compact_json(message))}\n"))
        for item in replay:
            subscription.push(item.chunk)
            subscription.last_seq = item.seq
        self._subscribers.add(subscription)
        return subscription

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
