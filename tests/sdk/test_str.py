"""``str(event)`` and ``repr(event)``: who, what and the key values, generated from codegen/events.toml summaries,
with a generic fallback for events without one."""

from __future__ import annotations

import pytest

from tiktok_live._base import SUMMARY_FIELDS, user_label
from tiktok_live._generated.pb import webcast_pb2 as pb
from tiktok_live.events import (
    REGISTRY,
    BaseEvent,
    CommentEvent,
    ConnectEvent,
    DisconnectEvent,
    ErrorEvent,
    FollowEvent,
    GiftEvent,
    JoinEvent,
    LikeEvent,
    LinkMicBattleEvent,
    LinkMicMethodEvent,
    LiveEndEvent,
    ProtoEvent,
    ReconnectEvent,
    RoomPinEvent,
    RoomUserSeqEvent,
    ShareEvent,
    UnknownEvent,
    WebsocketResponseEvent,
)

ALICE = pb.User(id=1, nickname="Alice", unique_id="alice")


def test_comment_shows_who_and_what() -> None:
    event = CommentEvent(pb.WebcastChatMessage(user=ALICE, content="hello there"))
    assert str(event) == "CommentEvent: Alice (@alice) says: hello there"


def test_gift_shows_diamonds_only_once_the_streak_ended() -> None:
    rose = pb.Gift(name="Rose", type=1, diamond_count=1)
    running = GiftEvent(pb.WebcastGiftMessage(user=ALICE, gift=rose, repeat_count=2))
    ended = GiftEvent(pb.WebcastGiftMessage(user=ALICE, gift=rose, repeat_count=3, repeat_end=1))
    assert str(running) == "GiftEvent: Alice (@alice) sent 2x Rose"
    assert str(ended) == "GiftEvent: Alice (@alice) sent 3x Rose (3 diamonds)"


def test_optional_parts_and_counts() -> None:
    assert str(JoinEvent(pb.WebcastMemberMessage(user=ALICE, member_count=12))) == (
        "JoinEvent: Alice (@alice) joined (12 viewers)"
    )
    assert str(JoinEvent(pb.WebcastMemberMessage(user=ALICE))) == "JoinEvent: Alice (@alice) joined"
    assert str(LikeEvent(pb.WebcastLikeMessage(user=ALICE, count=5, total=100))) == (
        "LikeEvent: Alice (@alice) liked x5 (room total 100)"
    )
    assert str(RoomUserSeqEvent(pb.WebcastRoomUserSeqMessage(total=7, total_user=90))) == (
        "RoomUserSeqEvent: 7 viewers now, 90 in total"
    )


def test_enum_fields_print_their_value_names_and_unknown_numbers() -> None:
    assert str(LinkMicBattleEvent(pb.WebcastLinkMicBattle(battle_id=9, action=4))) == (
        "LinkMicBattleEvent: battle 9: BATTLE_ACTION_OPEN"
    )
    # A value TikTok added after the schema: its number.
    assert (
        str(LinkMicBattleEvent(pb.WebcastLinkMicBattle(battle_id=9, action=999))) == "LinkMicBattleEvent: battle 9: 999"
    )


def test_derived_events_have_their_own_summaries() -> None:
    social = pb.WebcastSocialMessage(user=ALICE)
    assert str(FollowEvent(social)) == "FollowEvent: Alice (@alice) followed the host"
    social.common.display_text.key = "pm_mt_guidance_viewer_3_share"
    assert str(ShareEvent(social)) == "ShareEvent: Alice (@alice) shared the LIVE, 3 joined"
    assert str(LiveEndEvent(pb.WebcastControlMessage(action=3))) == "LiveEndEvent: the host ended the LIVE"
    assert str(LiveEndEvent(pb.WebcastControlMessage(action=4))) == "LiveEndEvent: the LIVE was suspended by TikTok"


def test_connection_and_unknown_events() -> None:
    comment = CommentEvent(pb.WebcastChatMessage())
    assert str(ConnectEvent("alice", 42)) == "ConnectEvent: connected to @alice (room 42)"
    assert str(DisconnectEvent(1000, "stream ended")) == "DisconnectEvent: stream ended (close code 1000)"
    assert str(DisconnectEvent(None, "disconnected")) == "DisconnectEvent: disconnected"
    assert str(ReconnectEvent(2, 1.5, 31.0, "close 1006")) == (
        "ReconnectEvent: reconnecting in 1.5 s (attempt 2, 31.0 s without frames): close 1006"
    )
    assert str(ErrorEvent(ValueError("boom"), comment)) == "ErrorEvent: ValueError in a handler of CommentEvent: boom"
    assert str(ErrorEvent(ValueError("boom"))) == "ErrorEvent: ValueError: boom"
    assert str(WebsocketResponseEvent(b"abc")) == "WebsocketResponseEvent: 3 bytes"
    assert (
        str(UnknownEvent("WebcastNewThing", b"\x08\x01")) == "UnknownEvent: WebcastNewThing, 2 bytes (no event class)"
    )
    assert "(undecodable)" in str(UnknownEvent("WebcastChatMessage", b"\xff", ValueError("bad")))
    assert str(BaseEvent(b"x")) == "BaseEvent"


def test_events_without_a_summary_list_their_set_fields() -> None:
    event = LinkMicMethodEvent(
        pb.WebcastLinkMicMethod(
            common=pb.CommonMessageData(msg_id=5),
            user_id=5,
            channel_id=123,
            tips="a very long tip " * 10,
            match_type=3,
            rival_anchor_id=8,
            vendor=2,
        )
    )
    text = str(event)
    assert text.startswith("LinkMicMethodEvent: user_id=5, ")
    assert "common" not in text  # the envelope block is noise
    assert "tips='a very long tip a very long tip a very …'" in text  # long text is cut
    assert text.endswith(", +1 more")
    assert text.count("=") == SUMMARY_FIELDS
    assert str(LinkMicMethodEvent(pb.WebcastLinkMicMethod())) == "LinkMicMethodEvent"


def test_the_fallback_puts_users_first_and_uses_renamed_attributes() -> None:
    # RoomPinEvent has no summary; its field `method` is the attribute `method_`, `operator` a User.
    proto = pb.WebcastRoomPinMessage(method="WebcastChatMessage", operator=ALICE)
    assert str(RoomPinEvent(proto)) == "RoomPinEvent: operator=Alice (@alice), method_='WebcastChatMessage'"


@pytest.mark.parametrize("cls", sorted(set(REGISTRY.values()), key=lambda cls: cls.__name__), ids=lambda c: c.__name__)
def test_every_event_prints_when_empty(cls: type[ProtoEvent[pb.User]]) -> None:
    text = str(cls.from_bytes(b""))
    assert text.startswith(cls.__name__)
    assert repr(cls.from_bytes(b"")).startswith(f"<{cls.__name__} {cls.PROTO.__name__}")


def test_repr_carries_the_message_id_size_and_summary() -> None:
    event = CommentEvent(pb.WebcastChatMessage(common=pb.CommonMessageData(msg_id=77), user=ALICE, content="hi"))
    assert repr(event) == f"<CommentEvent WebcastChatMessage msg_id=77 size={event.size}: Alice (@alice) says: hi>"
    long = CommentEvent(pb.WebcastChatMessage(user=ALICE, content="x" * 500))
    assert len(repr(long)) < 150 and repr(long).endswith("…>")


@pytest.mark.parametrize(
    ("user", "label"),
    [
        (ALICE, "Alice (@alice)"),
        (pb.User(unique_id="bob"), "@bob"),
        (pb.User(nickname="Carol"), "Carol"),
        (pb.User(id=12), "user 12"),
        (pb.User(), "someone"),
    ],
)
def test_user_labels(user: pb.User, label: str) -> None:
    assert user_label(user) == label
