"""Typed use of events, as users write it. `make typecheck` runs mypy --strict on this file; it must pass."""

from __future__ import annotations

from typing import assert_type

from tiktok_live import BaseEvent, UnknownEvent
from tiktok_live._generated.pb import webcast_pb2
from tiktok_live.events import (
    REGISTRY,
    CommentEvent,
    FollowEvent,
    GiftEvent,
    JoinEvent,
    LikeEvent,
    LiveEndEvent,
    RoomUserSeqEvent,
    ShareEvent,
    SocialEvent,
    decode_message,
)


def describe(event: BaseEvent) -> str:
    """Narrow a decoded event by class, as a handler for many events would."""
    if isinstance(event, CommentEvent):
        assert_type(event.comment, str)
        assert_type(event.user.nickname, str)
        assert_type(event.user.unique_id, str)
        assert_type(event.user_info, webcast_pb2.User)
        assert_type(event.user_is_super_fan, bool)
        return f"{event.user.nickname}: {event.comment}"
    if isinstance(event, GiftEvent):
        assert_type(event.gift.name, str)
        assert_type(event.repeat_count, int)
        assert_type(event.streaking, bool)
        assert_type(event.diamonds, int | None)
        assert_type(event.value, float | None)
        assert_type(event.from_user.unique_id, str)
        assert_type(event.to_user.nickname, str)
        return "" if event.streaking else f"{event.from_user.nickname} sent {event.repeat_count}x {event.gift.name}"
    if isinstance(event, LikeEvent):
        assert_type(event.count, int)
        return f"{event.user.nickname} liked {event.count}x (room total {event.total})"
    if isinstance(event, JoinEvent):
        return f"{event.user.nickname} joined ({event.member_count} viewers)"
    if isinstance(event, RoomUserSeqEvent):
        assert_type(event.viewer_count, int)
        return f"{event.viewer_count} viewers; top: {[c.user.nickname for c in event.top_viewers]}"
    if isinstance(event, ShareEvent):
        assert_type(event.users_joined, int | None)
        return f"{event.user.nickname} shared"
    if isinstance(event, FollowEvent | SocialEvent):
        return f"{event.user.nickname}: {event.display_key}"
    if isinstance(event, LiveEndEvent):
        assert_type(event.ends_stream, bool)
        return "stream ended"
    if isinstance(event, UnknownEvent):
        assert_type(event.decode_error, Exception | None)
        return f"unknown {event.method}: {sorted(event.fields())}"
    return event.type


def decode(method: str, payload: bytes) -> str:
    """Decode one payload and describe it."""
    event = decode_message(method, payload)
    assert_type(event, BaseEvent)
    assert_type(event.bytes, bytes)
    assert_type(event.size, int)
    assert_type(event.as_base64, str)
    event_class = REGISTRY.get(method)
    if event_class is not None:
        typed = CommentEvent.from_bytes(payload)
        assert_type(typed, CommentEvent)
        assert_type(typed.proto, webcast_pb2.WebcastChatMessage)
    return describe(event)
