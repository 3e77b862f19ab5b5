"""RoomState: totals, top gifters, viewer history and connection state, all bounded."""

from __future__ import annotations

import json

import pytest

from tiktok_live.events import ConnectEvent, DisconnectEvent, ReconnectEvent
from tiktok_live.testing import comment, end, follow, gift, gift_streak, like, pause, room_user_seq, share, unpause
from tiktok_live.web import state as state_module
from tiktok_live.web.state import HISTORY_POINTS, MAX_GIFTERS, RoomState

from .conftest import make_event


def test_totals_count_a_gift_streak_once_at_its_end() -> None:
    room = RoomState("host")
    for index, spec in enumerate(
        [
            comment("alice", "hi"),
            comment("bob", "yo"),
            *gift_streak("carol", 5655, "Rose", 1, repeats=4),
            gift("dave", 6369, "Lion", 29999, 1, False, 2),
            like("erin", 5, 120),
            like("erin", 3),
            follow("frank"),
            share("gina"),
        ]
    ):
        room.apply(make_event(spec, index + 1))
    assert room.comments == 2
    assert room.gifts == 5  # 4 roses + 1 lion
    assert room.diamonds == 4 + 29999
    assert room.likes == 123  # the room total, then counted on
    assert (room.follows, room.shares) == (1, 1)
    top = room.top_gifters()
    assert [(g["unique_id"], g["diamonds"], g["gifts"]) for g in top] == [("dave", 29999, 1), ("carol", 4, 4)]
    assert str(top[0]["avatar"]).startswith("https://")


def test_connection_state_follows_the_connection_events() -> None:
    room = RoomState("host")
    assert room.status == "starting"
    room.apply(ConnectEvent("host", 42))
    assert (room.status, room.room_id) == ("connected", 42)
    room.apply(ReconnectEvent(1, 1.0, 3.0, "socket closed (code 1006)"))
    assert (room.status, room.reconnects, room.reason) == ("reconnecting", 1, "socket closed (code 1006)")
    room.apply(ConnectEvent("host", 42))
    room.apply(make_event(pause()))
    assert room.paused
    room.apply(make_event(unpause()))
    assert room.snapshot()["paused"] is False
    room.apply(make_event(end()))
    room.apply(DisconnectEvent(None, "stream ended"))
    assert room.snapshot()["status"] == "ended" and room.ended_at is not None
    other = RoomState("host")
    other.apply(DisconnectEvent(1011, "socket closed (code 1011)"))
    assert other.status == "disconnected"


def test_viewer_history_stays_bounded_and_spans_the_session(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter(range(0, 10**9, 5_000))
    monkeypatch.setattr(state_module, "_now_ms", lambda: next(clock))
    room = RoomState("host")
    for count in range(HISTORY_POINTS * 4):
        room.apply(make_event(room_user_seq(count, count * 2)))
    history = room.viewer_history
    assert len(history) <= HISTORY_POINTS
    assert history[0][0] == 0  # the start is kept
    assert history[-1][1] == HISTORY_POINTS * 4 - 1  # and the latest
    assert room.peak_viewers == HISTORY_POINTS * 4 - 1


def test_gifters_are_bounded() -> None:
    room = RoomState("host")
    for index in range(MAX_GIFTERS + 10):
        room.apply(make_event(gift(f"user{index}", 5655, "Rose", 1 + index % 7, 1, True, 1), index + 1))
    assert len(room._gifters) <= MAX_GIFTERS
    assert room.gifts == MAX_GIFTERS + 10
    assert len(room.top_gifters()) == 10


def test_snapshot_is_json_and_versioned() -> None:
    room = RoomState("host")
    before = room.version
    room.apply(make_event(comment("alice", "hi")))
    assert room.version > before
    room.set_status("offline", error="@host is offline")
    snapshot = room.snapshot()
    assert json.loads(json.dumps(snapshot)) == snapshot
    assert snapshot["status"] == "offline" and snapshot["error"] == "@host is offline"
    assert snapshot["comments"] == 1
