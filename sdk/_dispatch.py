"""A client's fan-out: which event classes to decode, and who gets each event (handlers, then streams).

Everything per message is precomputed when listeners or streams change, never per frame: ``targets`` is every
class someone listens to or streams, and the protocol session decodes only those (lazy dispatch) unless a fleet
worker asks for every message (``decode_everything``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

from tiktok_live._base import BaseEvent
from tiktok_live._buffer import DropOldestBuffer
from tiktok_live._connection import WebsocketResponseEvent
from tiktok_live._emitter import E, Emitter
from tiktok_live.protocol import Received, Session

__all__ = ["Dispatcher", "EventStream"]

logger = logging.getLogger("tiktok_live.client")


class EventStream(DropOldestBuffer[E]):
    """An async iterator over some event classes, fed by the client through a bounded buffer.

    The reader never waits for a slow consumer: when the buffer is full the oldest event is dropped and counted
    in ``dropped`` (with a warning). Iteration ends when the client disconnects (after the buffered events).
    """

    _label = "event stream"

    def __init__(self, types: tuple[type[E], ...], maxsize: int, on_close: Callable[[EventStream[E]], None]) -> None:
        super().__init__(maxsize, on_close)
        self.types = types


class Dispatcher:
    """Fans one client's events out to its handlers (through ``emitter``) and its streams.

    ``session`` returns the current protocol session: its ``wanted`` follows the targets whenever listeners or
    streams change (the connection gives each new room's session the same ``wanted``).
    """

    def __init__(self, emitter: Emitter, session: Callable[[], Session]) -> None:
        self._emitter = emitter
        self._session = session
        self.streams: list[EventStream[BaseEvent]] = []
        """The open streams, in the order they were made."""
        self._stream_types: dict[type[BaseEvent], list[EventStream[BaseEvent]]] = {}
        self.targets: frozenset[type[BaseEvent]] = frozenset()
        """Every event class a handler or a stream wants."""
        self.decode_everything = False
        """Decode every message, listened to or not (a fleet worker exports them all)."""
        emitter.on_change = self.recompute

    @property
    def wanted(self) -> frozenset[type[BaseEvent]] | None:
        """What the protocol session should decode: the targets, or None (everything)."""
        return None if self.decode_everything else self.targets

    def recompute(self) -> None:
        """Precompute what to decode and whom to feed; runs when listeners or streams change, not per message."""
        stream_types: dict[type[BaseEvent], list[EventStream[BaseEvent]]] = {}
        for stream in self.streams:
            for event_type in stream.types:
                stream_types.setdefault(event_type, []).append(stream)
        self._stream_types = stream_types
        self.targets = self._emitter.listened | frozenset(stream_types)
        self._session().wanted = self.wanted

    def stream(self, event_types: tuple[type[BaseEvent], ...], maxsize: int) -> EventStream[BaseEvent]:
        """A new stream of ``event_types`` (see ``TikTokLiveClient.stream``), fed from now on."""
        if not event_types:
            raise ValueError("stream() needs at least one event class")
        stream: EventStream[BaseEvent] = EventStream(event_types, maxsize, self._close_stream)
        self.streams.append(stream)
        self.recompute()
        return stream

    def close_streams(self) -> None:
        """End every stream (each ends after its buffered events)."""
        for stream in list(self.streams):
            stream.close()

    def _close_stream(self, stream: EventStream[BaseEvent]) -> None:
        with contextlib.suppress(ValueError):
            self.streams.remove(stream)
        self.recompute()

    def emit(self, event: BaseEvent) -> None:
        """Hand ``event`` to its handlers and streams; nothing happens when nobody wants its class."""
        event_type = type(event)
        if event_type not in self.targets:
            return
        self._emitter.emit(event)
        for stream in self._stream_types.get(event_type, ()):
            stream.put(event)

    def deliver(self, data: bytes, received: Received) -> None:
        """Fan out what the session made of one frame (``data``: the raw message, empty for a sign bundle)."""
        if data and WebsocketResponseEvent in self.targets:
            self.emit(WebsocketResponseEvent(data))
        if received.error is not None:
            logger.warning("skipped a bad frame (%d bytes): %s", len(data), received.error)
            self._emitter.report(received.error)
            return
        for event in received.events:
            self.emit(event)
