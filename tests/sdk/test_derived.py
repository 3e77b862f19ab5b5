"""Derived events (sdk/_derived.py): follow/share, stream control, super fans (protocol.md §8)."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf.message import Message

from tiktok_live import _derived
from tiktok_live._base import BaseEvent, ProtoEvent, UnknownEvent
from tiktok_live._derived import DERIVED, derive
from tiktok_live._generated.pb import webcast_pb2 as pb
from tiktok_live._protocol import decode_message
from tiktok_live.events import (
    BarrageEvent,
    CommentEvent,
    ControlEvent,
    EnvelopeEvent,
    FollowEvent,
    LiveEndEvent,
    LivePauseEvent,
    LiveUnpauseEvent,
    ShareEvent,
    SocialEvent,
    SuperFanBoxEvent,
    SuperFanEvent,
    SuperFanJoinEvent,
)


def _types(events: tuple[BaseEvent, ...]) -> list[type[BaseEvent]]:
    return [type(event) for event in events]


def _assert_shares_source(source: ProtoEvent[Message], derived: tuple[BaseEvent, ...]) -> None:
    """Derived events reuse the source's decoded message and payload: no second parse, no copy."""
    assert derived, "expected a derived event"
    for event in derived:
        assert isinstance(event, type(source))
        assert isinstance(event, ProtoEvent)
        assert event.proto is source.proto
        assert event.bytes is source.bytes
        assert type(event) in DERIVED[type(source)]
        assert event.type == type(event).__name__


def _social(key: str) -> SocialEvent:
    message = pb.WebcastSocialMessage(action=1)
    message.common.display_text.key = key
    return SocialEvent.from_bytes(message.SerializeToString())


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("pm_main_follow_message_viewer_2", [FollowEvent]),
        ("PM_MAIN_FOLLOW_MESSAGE_VIEWER_2", [FollowEvent]),
        ("pm_mt_guidance_share", [ShareEvent]),
        ("pm_mt_guidance_viewer_10_share", [ShareEvent]),
        ("pm_follow_then_share", [FollowEvent]),  # follow is checked before share
        ("pm_share_then_follow", [FollowEvent]),
        ("pm_mt_msg_viewer", []),
        ("pm_mt_join_message_other_viewer", []),
        ("", []),
    ],
)
def test_social(key: str, expected: list[type[BaseEvent]]) -> None:
    event = _social(key)
    derived = derive(event)
    assert _types(derived) == expected
    if derived:
        _assert_shares_source(event, derived)


@pytest.mark.parametrize(
    ("key", "users_joined"),
    [
        ("pm_mt_guidance_viewer_10_share", 10),
        ("pm_mt_guidance_viewer_1_share", 1),
        ("pm_mt_guidance_viewer_250_share", 250),
        ("pm_mt_guidance_share", None),
        ("pm_mt_guidance_viewer_x_share", None),
    ],
)
def test_share_users_joined(key: str, users_joined: int | None) -> None:
    (share,) = derive(_social(key))
    assert isinstance(share, ShareEvent)
    assert share.users_joined == users_joined
    assert share.display_key == key, "derived events keep the source's properties"


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (0, []),
        (1, [LivePauseEvent]),
        (2, [LiveUnpauseEvent]),
        (3, [LiveEndEvent]),
        (4, [LiveEndEvent]),
        (5, []),
    ],
)
def test_control(action: int, expected: list[type[BaseEvent]]) -> None:
    event = ControlEvent.from_bytes(pb.WebcastControlMessage(action=action).SerializeToString())
    derived = derive(event)
    assert _types(derived) == expected
    if derived:
        _assert_shares_source(event, derived)
        assert event.ends_stream is (expected == [LiveEndEvent])


def _barrage(content_key: str = "", common_key: str = "") -> BarrageEvent:
    message = pb.WebcastBarrageMessage()
    message.content.key = content_key
    message.common_barrage_content.key = common_key
    return BarrageEvent.from_bytes(message.SerializeToString())


JOINED = "ttlive_superfan_commentnotif_superfanjoined"


@pytest.mark.parametrize(
    ("content_key", "common_key", "expected"),
    [
        (JOINED, "", [SuperFanJoinEvent]),
        ("", JOINED, [SuperFanJoinEvent]),
        (JOINED.upper(), "", [SuperFanJoinEvent]),
        (f"prefix_{JOINED}_suffix", "", [SuperFanJoinEvent]),
        ("ttlive_superfan_badge_upgrade", "", [SuperFanEvent]),
        ("", "TTLIVE_SUPERFAN_SOMETHING", [SuperFanEvent]),
        ("ttlive_superfan_x", JOINED, [SuperFanJoinEvent]),  # a join in either key wins
        ("pm_mt_alp_join_animation", "", []),
        ("", "", []),
    ],
)
def test_barrage(content_key: str, common_key: str, expected: list[type[BaseEvent]]) -> None:
    event = _barrage(content_key, common_key)
    derived = derive(event)
    assert _types(derived) == expected
    if derived:
        _assert_shares_source(event, derived)


def test_barrage_display_key_is_not_read() -> None:
    """Only the content keys count: a super fan display key on ``common`` does not make a super fan event."""
    message = pb.WebcastBarrageMessage()
    message.common.display_text.key = JOINED
    assert derive(BarrageEvent.from_bytes(message.SerializeToString())) == ()


@pytest.mark.parametrize(
    ("display_key", "business_type", "expected"),
    [
        ("ttlive_superfanbox", 0, [SuperFanBoxEvent]),
        ("TTLIVE_SUPERFANBOX_NEW", 0, [SuperFanBoxEvent]),
        ("", 19, [SuperFanBoxEvent]),
        ("ttlive_superfanbox", 19, [SuperFanBoxEvent]),
        ("", 18, []),
        ("", 1, []),
        ("ttlive_superfan", 0, []),  # not a box
        ("", 0, []),
    ],
)
def test_envelope(display_key: str, business_type: int, expected: list[type[BaseEvent]]) -> None:
    message = pb.WebcastEnvelopeMessage()
    message.common.display_text.key = display_key
    message.envelope_info.business_type = business_type
    event = EnvelopeEvent.from_bytes(message.SerializeToString())
    derived = derive(event)
    assert _types(derived) == expected
    if derived:
        _assert_shares_source(event, derived)


def test_other_events_derive_nothing() -> None:
    comment = pb.WebcastChatMessage(content="follow share ttlive_superfan")
    comment.common.display_text.key = "pm_main_follow_message_viewer_2"
    assert derive(CommentEvent.from_bytes(comment.SerializeToString())) == ()
    assert derive(UnknownEvent("WebcastSocialMessage", b"")) == ()
    assert derive(BaseEvent()) == ()


def test_derived_events_derive_nothing() -> None:
    """derive() looks at the exact source class, so a derived event never derives again."""
    (follow,) = derive(_social("pm_main_follow_message_viewer_2"))
    assert derive(follow) == ()
    (end,) = derive(ControlEvent.from_bytes(pb.WebcastControlMessage(action=3).SerializeToString()))
    assert derive(end) == ()


def test_derived_mapping() -> None:
    """DERIVED lists, per source class, exactly the derived classes; each names its SOURCE and subclasses it."""
    assert set(DERIVED) == {SocialEvent, ControlEvent, BarrageEvent, EnvelopeEvent}
    listed = [cls for classes in DERIVED.values() for cls in classes]
    assert len(listed) == len(set(listed))
    public = {getattr(_derived, name) for name in _derived.__all__ if name.endswith("Event")}
    assert set(listed) == public
    for source, classes in DERIVED.items():
        for cls in classes:
            assert issubclass(cls, source)
            assert cls.SOURCE is source  # type: ignore[attr-defined]  # derived events carry their source
    with pytest.raises(TypeError):
        DERIVED[CommentEvent] = ()  # type: ignore[index]


def test_derive_from_decode_message() -> None:
    message = pb.WebcastSocialMessage()
    message.common.display_text.key = "pm_mt_guidance_share"
    payload = message.SerializeToString()
    event = decode_message("WebcastSocialMessage", payload)
    assert isinstance(event, SocialEvent)
    (share,) = derive(event)
    assert isinstance(share, ShareEvent)
    assert share.bytes is payload


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("195_WebcastSocialMessage_11194681", [ShareEvent]),  # display key pm_mt_guidance_viewer_10_share
        ("196_WebcastSocialMessage_028a1ef3", [FollowEvent]),  # display key pm_main_follow_message_viewer_2
        ("042_WebcastControlMessage_05b81df9", [LiveEndEvent]),  # action 3
        ("011_WebcastBarrageMessage_007cfb89", []),  # content key pm_mt_alp_join_animation
        ("050_WebcastEnvelopeMessage_08919a68", []),  # business type 1
    ],
)
def test_derive_fixtures(fixtures_dir: Path, name: str, expected: list[type[BaseEvent]]) -> None:
    method = name.split("_", 1)[1].rsplit("_", 1)[0]
    event = decode_message(method, (fixtures_dir / "payloads" / f"{name}.bin").read_bytes())
    assert isinstance(event, ProtoEvent)
    derived = derive(event)
    assert _types(derived) == expected
    if derived:
        _assert_shares_source(event, derived)
    if expected == [ShareEvent]:
        assert isinstance(derived[0], ShareEvent)
        assert derived[0].users_joined == 10
