"""The room's running totals and connection state, as the dashboard and the goal overlay show them.

:class:`RoomState` folds events into counters (viewers, likes, gifts, diamonds, follows, shares, top gifters,
viewers over time) on the server, so a browser that opens the dashboard late, or reconnects, sees the right totals
without replaying the whole stream. Its :meth:`~RoomState.snapshot` is what ``/api/state`` returns and what the
event stream sends as ``state`` messages. It is built field by field from events: no sign key, cookie or client
option can reach it.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from tiktok_live import events
from tiktok_live._base import DIAMOND_USD, BaseEvent
from tiktok_live._generated.pb import webcast_pb2 as pb

__all__ = ["HISTORY_POINTS", "MAX_GIFTERS", "TOP_GIFTERS", "ConnectionStatus", "RoomState"]

ConnectionStatus: TypeAlias = Literal[
    "starting", "connecting", "offline", "connected", "reconnecting", "ended", "disconnected", "failed"
]
"""Where the server's client is: ``starting`` (nothing tried yet), ``connecting``, ``offline`` (the host is not
live; the server tries again), ``connected``, ``reconnecting``, ``ended`` (the LIVE ended), ``disconnected`` (the
stream stopped otherwise), ``failed`` (connecting or reconnecting gave up; ``error`` says why)."""

HISTORY_POINTS: Final = 240
"""Viewer-count samples kept; when full, every other one is dropped, so the chart spans the whole session."""
TOP_GIFTERS: Final = 10
"""Gifters listed in the snapshot."""
MAX_GIFTERS: Final = 2_000
"""Gifters tracked; beyond this the smaller half is forgotten (their diamonds stay in the totals)."""
_MIN_SAMPLE_GAP_MS: Final = 1_000


@dataclass(slots=True)
class _Gifter:
    user_id: str
    nickname: str
    unique_id: str
    avatar: str | None
    diamonds: int = 0
    gifts: int = 0


def _avatar(user: pb.User) -> str | None:
    urls = [url for url in user.avatar_thumb.m_urls if url.startswith(("https://", "http://"))]
    return urls[0] if urls else None


def _now_ms() -> int:
    return int(time.time() * 1000)


class RoomState:
    """Totals and connection state of one room, updated by :meth:`apply` for each event.

    ``version`` grows with every change, so writers can skip unchanged snapshots. Memory is bounded:
    ``HISTORY_POINTS`` viewer samples and ``MAX_GIFTERS`` gifters at most.
    """

    def __init__(self, unique_id: str = "") -> None:
        self.unique_id = unique_id
        """The host's @unique id (without the @)."""
        self.room_id: int | None = None
        self.title = ""
        self.host_nickname = ""
        self.status: ConnectionStatus = "starting"
        self.reason: str | None = None
        """The last disconnect or reconnect reason, in words."""
        self.error: str | None = None
        """Why connecting failed (``failed`` and ``offline``), in words."""
        self.paused = False
        self.reconnects = 0
        self.connected_at: int | None = None
        self.ended_at: int | None = None
        self.viewers = 0
        self.peak_viewers = 0
        self.total_viewers = 0
        self.likes = 0
        self.comments = 0
        self.gifts = 0
        self.diamonds = 0
        self.follows = 0
        self.shares = 0
        self.joins = 0
        self.events = 0
        self.version = 0
        self._history: deque[tuple[int, int]] = deque()
        self._gifters: dict[str, _Gifter] = {}

    # ── updates ──────────────────────────────────────────────────────────────────────────────────────────────

    def set_status(self, status: ConnectionStatus, *, error: str | None = None) -> None:
        """Set the connection status (from the serving loop: connecting, offline, failed, ...)."""
        self.status = status
        self.error = error
        if status == "ended" and self.ended_at is None:
            self.ended_at = _now_ms()
        self.version += 1

    def set_room(self, *, room_id: int | None, title: str = "", host_nickname: str = "") -> None:
        """Record what the room info said about the room (id, title, host nickname)."""
        self.room_id = room_id or self.room_id
        self.title = title or self.title
        self.host_nickname = host_nickname or self.host_nickname
        self.version += 1

    def apply(self, event: BaseEvent) -> None:
        """Fold one event into the totals and the connection state."""
        self.events += 1
        if isinstance(event, events.RoomUserSeqEvent):
            self._viewers(event.viewer_count)
            self.total_viewers = max(self.total_viewers, event.total_user)
        elif isinstance(event, events.LikeEvent):
            self.likes = max(self.likes + max(event.count, 0), event.total)
        elif isinstance(event, events.CommentEvent):
            self.comments += 1
        elif isinstance(event, events.GiftEvent):
            if event.streaking:
                return
            self._gift(event)
        elif isinstance(event, events.FollowEvent):
            self.follows += 1
        elif isinstance(event, events.ShareEvent):
            self.shares += 1
        elif isinstance(event, events.JoinEvent):
            self.joins += 1
            if event.member_count:
                self._viewers(event.member_count)
        elif isinstance(event, events.LivePauseEvent):
            self.paused = True
        elif isinstance(event, events.LiveUnpauseEvent):
            self.paused = False
        elif isinstance(event, events.LiveEndEvent):
            self.paused = False
            self.set_status("ended")
        elif isinstance(event, events.ConnectEvent):
            self.room_id = event.room_id or self.room_id
            self.status, self.error, self.reason = "connected", None, None
            self.connected_at = _now_ms()
        elif isinstance(event, events.ReconnectEvent):
            self.status = "reconnecting"
            self.reconnects += 1
            self.reason = event.reason
        elif isinstance(event, events.DisconnectEvent):
            if self.status != "ended":
                self.status = "ended" if event.reason == "stream ended" else "disconnected"
            if self.ended_at is None:
                self.ended_at = _now_ms()
            self.reason = event.reason
        else:
            return
        self.version += 1

    def _viewers(self, count: int) -> None:
        self.viewers = count
        self.peak_viewers = max(self.peak_viewers, count)
        now = _now_ms()
        if self._history and now - self._history[-1][0] < _MIN_SAMPLE_GAP_MS:
            self._history[-1] = (self._history[-1][0], count)
        else:
            self._history.append((now, count))
        if len(self._history) > HISTORY_POINTS:
            # Halve the resolution rather than forget the start: the chart keeps covering the whole session.
            kept = list(self._history)[::2]
            if kept[-1] != self._history[-1]:
                kept.append(self._history[-1])
            self._history = deque(kept)

    def _gift(self, event: events.GiftEvent) -> None:
        count = max(event.proto.repeat_count, 1)
        diamonds = event.diamonds or 0
        self.gifts += count
        self.diamonds += diamonds
        user = event.from_user
        key = str(user.id) if user.id else f"@{user.unique_id}"
        gifter = self._gifters.get(key)
        if gifter is None:
            if len(self._gifters) >= MAX_GIFTERS:
                ranked = sorted(self._gifters.values(), key=lambda g: (g.diamonds, g.gifts), reverse=True)
                self._gifters = {g.user_id: g for g in ranked[: MAX_GIFTERS // 2]}
            gifter = self._gifters[key] = _Gifter(key, user.nickname, user.unique_id, _avatar(user))
        else:
            gifter.nickname = user.nickname or gifter.nickname
            gifter.avatar = _avatar(user) or gifter.avatar
        gifter.diamonds += diamonds
        gifter.gifts += count

    # ── reading ──────────────────────────────────────────────────────────────────────────────────────────────

    @property
    def viewer_history(self) -> list[tuple[int, int]]:
        """``(ms since the epoch, viewers)`` samples, oldest first (at most ``HISTORY_POINTS``)."""
        return list(self._history)

    def top_gifters(self, limit: int = TOP_GIFTERS) -> list[dict[str, object]]:
        """The ``limit`` biggest gifters by diamonds: id, nickname, unique_id, avatar URL, diamonds, gifts."""
        ranked = sorted(self._gifters.values(), key=lambda g: (-g.diamonds, -g.gifts, g.nickname))[:limit]
        return [
            {
                "id": g.user_id,
                "nickname": g.nickname,
                "unique_id": g.unique_id,
                "avatar": g.avatar,
                "diamonds": g.diamonds,
                "gifts": g.gifts,
            }
            for g in ranked
        ]

    def snapshot(self) -> dict[str, object]:
        """Everything the pages show, as JSON-ready values (ids as decimal strings). Holds no secrets."""
        return {
            "v": 1,
            "version": self.version,
            "status": self.status,
            "reason": self.reason,
            "error": self.error,
            "paused": self.paused,
            "reconnects": self.reconnects,
            "unique_id": self.unique_id,
            "room_id": str(self.room_id) if self.room_id else None,
            "title": self.title,
            "host_nickname": self.host_nickname,
            "connected_at": self.connected_at,
            "ended_at": self.ended_at,
            "viewers": self.viewers,
            "peak_viewers": self.peak_viewers,
            "total_viewers": self.total_viewers,
            "likes": self.likes,
            "comments": self.comments,
            "gifts": self.gifts,
            "diamonds": self.diamonds,
            "value": round(self.diamonds * DIAMOND_USD, 2),
            "follows": self.follows,
            "shares": self.shares,
            "joins": self.joins,
            "events": self.events,
            "top_gifters": self.top_gifters(),
            "viewer_history": [list(point) for point in self._history],
        }
