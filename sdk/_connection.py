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

    unique_id: str
    """The host's TikTok handle, without the ``@``."""
    room_id: int
    """The id of the LIVE room the client entered (a new LIVE of the same host has a new one)."""

    def __init__(self, unique_id: str, room_id: int) -> None:
        super().__init__()
        self.unique_id = unique_id
        self.room_id = room_id

    def _summary(self) -> str:
        return f"connected to @{self.unique_id} (room {self.room_id})"

    def __repr__(self) -> str:
        return f"<ConnectEvent @{self.unique_id} room_id={self.room_id}>"


class DisconnectEvent(BaseEvent):
    """The client stopped for good: the stream ended, ``disconnect()`` was called, or reconnecting failed.

    ``code`` and ``reason`` are the last WebSocket close code and reason (None when there was no close frame).
    """

    __slots__ = ("code", "reason")

    code: int | None
    """The last WebSocket close code (1000 normal, 1006 dropped, 4xxx TikTok's); None without a close frame."""
    reason: str
    """Why the client stopped, for people: the close reason, the error's message, ``"stream ended"`` or
    ``"disconnected"``."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__()
        self.code = code
        self.reason = reason

    def _summary(self) -> str:
        return self.reason + (f" (close code {self.code})" if self.code is not None else "")

    def __repr__(self) -> str:
        return f"<DisconnectEvent code={self.code} reason={self.reason!r}>"


class ReconnectEvent(BaseEvent):
    """The connection dropped or went silent; the client reconnects after ``delay`` seconds (attempt ``attempt``).

    ``gap`` is how long no frame has arrived, in seconds: messages TikTok sent meanwhile may be missing (nothing
    is delivered twice).
    """

    __slots__ = ("attempt", "delay", "gap", "reason")

    attempt: int
    """Which attempt in a row this is (1 for the first); connections that die at once do not reset the count."""
    delay: float
    """Seconds the client waits before this attempt (exponential backoff with jitter, ``ReconnectPolicy``)."""
    gap: float
    """Seconds since the last frame arrived: how long events may be missing for."""
    reason: str
    """Why the connection dropped, for people: the close code and reason, or the watchdog's silence."""

    def __init__(self, attempt: int, delay: float, gap: float, reason: str) -> None:
        super().__init__()
        self.attempt = attempt
        self.delay = delay
        self.gap = gap
        self.reason = reason

    def _summary(self) -> str:
        silent = f"{self.gap:.1f} s without frames"
        return f"reconnecting in {self.delay:.1f} s (attempt {self.attempt}, {silent}): {self.reason}"

    def __repr__(self) -> str:
        return f"<ReconnectEvent attempt={self.attempt} delay={self.delay:.2f}s gap={self.gap:.2f}s {self.reason}>"


class ErrorEvent(BaseEvent):
    """A handler raised, or the stream failed. ``exception`` is the error; ``event`` the event being handled (if
    any). The connection keeps running after a handler error."""

    __slots__ = ("event", "exception")

    exception: BaseException
    """The error: what a handler raised, or the stream's failure (``FrameDecodeError`` for a bad frame, ...)."""
    event: BaseEvent | None
    """The event whose handler raised; None when the error is not a handler's."""

    def __init__(self, exception: BaseException, event: BaseEvent | None = None) -> None:
        super().__init__()
        self.exception = exception
        self.event = event

    def _summary(self) -> str:
        about = f" in a handler of {self.event.type}" if self.event is not None else ""
        return f"{type(self.exception).__name__}{about}: {self.exception}"

    def __repr__(self) -> str:
        about = f" while handling {self.event.type}" if self.event is not None else ""
        return f"<ErrorEvent {type(self.exception).__name__}{about}>"


class WebsocketResponseEvent(BaseEvent):
    """Every WebSocket message as received (``bytes``), before decoding; for debugging and recording."""

    __slots__ = ()

    def __init__(self, payload: builtins.bytes) -> None:
        super().__init__(payload)

    def _summary(self) -> str:
        return f"{self.size} bytes"
