"""Mixin properties of generated events (sdk/_base.py): gift streaks, super fans, comments, viewers, control.

Rules: protocol.md §8 (gift streaks, user_is_super_fan, viewer counts). Events are built from serialized ``_pb2``
messages, the way the client gets them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tiktok_live._base import DIAMOND_USD, BaseEvent
from tiktok_live._generated.pb import webcast_pb2 as pb
from tiktok_live.events import CommentEvent, ControlEvent, GiftEvent, LikeEvent, RoomUserSeqEvent, SocialEvent


def _gift(gift_type: int, repeat_end: int, repeat_count: int, diamond_count: int) -> GiftEvent:
    message = pb.WebcastGiftMessage(repeat_end=repeat_end, repeat_count=repeat_count)
    message.gift.type = gift_type
    message.gift.diamond_count = diamond_count
    return GiftEvent.from_bytes(message.SerializeToString())


def test_diamond_rate() -> None:
    assert DIAMOND_USD == 0.005


@pytest.mark.parametrize(
    ("gift_type", "repeat_end", "repeat_count", "diamond_count", "streakable", "streaking", "diamonds"),
    [
        pytest.param(1, 0, 1, 1, True, True, None, id="streak-start"),
        pytest.param(1, 0, 35, 1, True, True, None, id="streak-running"),
        pytest.param(1, 1, 35, 1, True, False, 35, id="streak-end"),
        pytest.param(1, 1, 5, 10, True, False, 50, id="streak-end-multiplies"),
        pytest.param(1, 1, 1, 5, True, False, 5, id="streakable-sent-once"),
        pytest.param(2, 0, 1, 500, False, False, 500, id="type-2-counts-immediately"),
        pytest.param(2, 1, 1, 500, False, False, 500, id="type-2-with-repeat-end"),
        pytest.param(2, 0, 3, 100, False, False, 300, id="type-2-repeat-count"),
        pytest.param(0, 0, 1, 0, False, False, 0, id="no-gift-info"),
    ],
)
def test_gift_streaks(
    gift_type: int,
    repeat_end: int,
    repeat_count: int,
    diamond_count: int,
    streakable: bool,
    streaking: bool,
    diamonds: int | None,
) -> None:
    event = _gift(gift_type, repeat_end, repeat_count, diamond_count)
    assert event.streakable is streakable
    assert event.streaking is streaking
    assert event.diamonds == diamonds
    if diamonds is None:
        assert event.value is None
    else:
        assert event.value == pytest.approx(diamonds * 0.005)


def test_gift_aliases() -> None:
    message = pb.WebcastGiftMessage()
    message.gift.id = 5655
    message.gift.name = "Rose"
    message.user.nickname = "sender"
    event = GiftEvent.from_bytes(message.SerializeToString())
    assert event.m_gift == event.gift == message.gift
    assert event.m_gift.name == "Rose"
    assert event.from_user == event.user == message.user
    assert event.from_user.nickname == "sender"


def _identity_variants() -> list[tuple[pb.UserIdentity | None, bool]]:
    return [
        (None, False),  # absent: not a super fan
        (pb.UserIdentity(), False),  # present, all flags false
        (pb.UserIdentity(is_follower_of_anchor=True, is_gift_giver_of_anchor=True), False),
        (pb.UserIdentity(is_subscriber_of_anchor=True), True),
    ]


@pytest.mark.parametrize(("identity", "expected"), _identity_variants())
def test_comment_user_is_super_fan(identity: pb.UserIdentity | None, expected: bool) -> None:
    message = pb.WebcastChatMessage(content="hi")
    if identity is not None:
        message.user_identity.CopyFrom(identity)
        message.user_identity.SetInParent()
    event = CommentEvent.from_bytes(message.SerializeToString())
    assert event.user_is_super_fan is expected


@pytest.mark.parametrize(("identity", "expected"), _identity_variants())
def test_gift_user_is_super_fan(identity: pb.UserIdentity | None, expected: bool) -> None:
    message = pb.WebcastGiftMessage(repeat_end=1)
    if identity is not None:
        message.user_identity.CopyFrom(identity)
        message.user_identity.SetInParent()
    event = GiftEvent.from_bytes(message.SerializeToString())
    assert event.user_is_super_fan is expected


def test_comment_and_user_info() -> None:
    message = pb.WebcastChatMessage(content="hello ✓")
    message.user.nickname = "viewer"
    message.user.unique_id = "viewer.handle"
    event = CommentEvent.from_bytes(message.SerializeToString())
    assert event.comment == event.content == "hello ✓"
    assert event.user_info == event.user == message.user
    assert event.user_info.unique_id == "viewer.handle"


def test_comment_empty() -> None:
    event = CommentEvent.from_bytes(b"")
    assert event.comment == ""
    assert event.user_info == pb.User()
    assert event.user_is_super_fan is False


def test_room_user_seq() -> None:
    message = pb.WebcastRoomUserSeqMessage(total=42, total_user=1000)
    for score, nickname in [(5, "b"), (50, "a"), (1, "c")]:
        contributor = message.ranks.add(score=score)
        contributor.user.nickname = nickname
    event = RoomUserSeqEvent.from_bytes(message.SerializeToString())
    assert event.viewer_count == 42
    assert [viewer.user.nickname for viewer in event.top_viewers] == ["a", "b", "c"]
    assert [viewer.score for viewer in event.ranks] == [5, 50, 1], "ranks stay in wire order"


def test_social_display_key() -> None:
    message = pb.WebcastSocialMessage()
    message.common.display_text.key = "pm_main_follow_message_viewer_2"
    event = SocialEvent.from_bytes(message.SerializeToString())
    assert event.display_key == "pm_main_follow_message_viewer_2"
    assert SocialEvent.from_bytes(b"").display_key == ""


@pytest.mark.parametrize(("action", "ends"), [(0, False), (1, False), (2, False), (3, True), (4, True), (5, False)])
def test_control_ends_stream(action: int, ends: bool) -> None:
    event = ControlEvent.from_bytes(pb.WebcastControlMessage(action=action).SerializeToString())
    assert event.ends_stream is ends


def test_base_event_payload_views() -> None:
    event = BaseEvent(b"\x00\xffabc")
    assert event.type == "BaseEvent"
    assert event.bytes == b"\x00\xffabc"
    assert event.size == 5
    assert event.as_base64 == "AP9hYmM="
    assert repr(event) == "<BaseEvent size=5>"
    assert BaseEvent().bytes == b""


def test_proto_event_from_message() -> None:
    message = pb.WebcastLikeMessage(count=3, total=10)
    built = LikeEvent(message)
    assert built.proto is message
    assert built.bytes == message.SerializeToString()
    assert built.count == 3
    assert "LikeEvent" in repr(built) and "WebcastLikeMessage" in repr(built)
    given = LikeEvent(message, b"original")
    assert given.bytes == b"original", "the payload passed in is kept as received"


@pytest.mark.parametrize(
    ("name", "streaking", "diamonds"),
    [
        ("059_WebcastGiftMessage_90bf0e4e", True, None),  # Rose, repeat_count 1, repeat_end 0
        ("060_WebcastGiftMessage_437ed73d", False, 2),  # Rose, repeat_count 2, repeat_end 1
        ("061_WebcastGiftMessage_023d7c4f", True, None),  # Rose, repeat_count 35, repeat_end 0
        ("062_WebcastGiftMessage_069db3e0", False, 1),  # Rose, repeat_count 1, repeat_end 1
    ],
)
def test_gift_fixtures(fixtures_dir: Path, name: str, streaking: bool, diamonds: int | None) -> None:
    event = GiftEvent.from_bytes((fixtures_dir / "payloads" / f"{name}.bin").read_bytes())
    assert event.m_gift.name == "Rose"
    assert event.streakable is True
    assert event.streaking is streaking
    assert event.diamonds == diamonds
    assert event.value == (None if diamonds is None else pytest.approx(diamonds * 0.005))
    assert event.user_is_super_fan is False
