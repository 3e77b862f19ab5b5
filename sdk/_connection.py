"""Connection events: what happened to the connection rather than in the room.

They carry no TikTok payload (``bytes`` is empty), except :class:`WebsocketResponseEvent`, whose payload is the raw
WebSocket message.
"""

from __future__ import annotations

import builtins

from tiktok_live._base import BaseEvent

__all__ = ["ConnectEvent", "DisconnectEvent", "ErrorEvent", "ReconnectEvent", "WebsocketResponseEvent"]


class ConnectEvent(BaseEvent):
    """The WebSocket is open and the room entered; events follow. Emitted again after every reconnect."""

    __slots__ = ("room_id", "unique_id")

    def __init__(self, unique_id: str, room_id: int) -> None:
        super().__init__()
        self.unique_id = unique_id
        self.room_id = room_id

    def __repr__(self) -> str:
        return f"<ConnectEvent @{self.unique_id} room_id={self.room_id}>"


class DisconnectEvent(BaseEvent):
    """The client stopped for good: the stream ended, ``disconnect()`` was called, or reconnecting failed.

    ``code`` and ``reason`` are the last WebSocket close code and reason (None when there was no close frame).
    """

    __slots__ = ("code", "reason")

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__()
        self.code = code
        self.reason = reason

    def __repr__(self) -> str:
        return f"<DisconnectEvent code={self.code} reason={self.reason!r}>"


class ReconnectEvent(BaseEvent):
    """The connection dropped or went silent; the client reconnects after ``delay`` seconds (attempt ``attempt``).

    ``gap`` is how long no frame has arrived, in seconds: messages TikTok sent meanwhile may be missing (nothing
    is delivered twice).
    """

    __slots__ = ("attempt", "delay", "gap", "reason")

    def __init__(self, attempt: int, delay: float, gap: float, reason: str) -> None:
        super().__init__()
        self.attempt = attempt
        self.delay = delay
        self.gap = gap
        self.reason = reason

    def __repr__(self) -> str:
        return f"<ReconnectEvent attempt={self.attempt} delay={self.delay:.2f}s gap={self.gap:.2f}s {self.reason}>"


class ErrorEvent(BaseEvent):
    """A handler raised, or the stream failed. ``exception`` is the error; ``event`` the event being handled (if
    any). The connection keeps running after a handler error."""

    __slots__ = ("event", "exception")

    def __init__(self, exception: BaseException, event: BaseEvent | None = None) -> None:
        super().__init__()
        self.exception = exception
        self.event = event

    def __repr__(self) -> str:
        about = f" while handling {self.event.type}" if self.event is not None else ""
        return f"<ErrorEvent {type(self.exception).__name__}{about}>"


class WebsocketResponseEvent(BaseEvent):
    """Every WebSocket message as received (``bytes``), before decoding; for debugging and recording."""

    __slots__ = ()

    def __init__(self, payload: builtins.bytes) -> None:
        super().__init__(payload)
