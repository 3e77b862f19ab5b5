"""Message builders and scenarios: realistic, decodable, deterministic."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from tests.testing.conftest import FAST, RawClient, within
from tiktok_live._base import BaseEvent, UnknownEvent
from tiktok_live._derived import FollowEvent, LiveEndEvent, LivePauseEvent, LiveUnpauseEvent, ShareEvent, derive
from tiktok_live._generated.pb import webcast_pb2
from tiktok_live._generated.registry import REGISTRY
from tiktok_live._protocol import decode_message
from tiktok_live.events import (
    CommentEvent,
    ControlEvent,
    GiftEvent,
    GoalUpdateEvent,
    JoinEvent,
    LikeEvent,
    LinkMicBattleEvent,
    PollEvent,
    RoomUserSeqEvent,
    SocialEvent,
)
from tiktok_live.testing import (
    SCENARIOS,
    MessageSpec,
    Scenario,
    ScenarioError,
    Simulator,
    Step,
    battle,
    comment,
    default_scenario,
    end,
    fixtures_scenario,
    follow,
    frame,
    gift,
    gift_streak,
    goal_update,
    join,
    like,
    load_scenario,
    make_user,
    pause,
    poll,
    raw,
    room_user_seq,
    share,
    suspend,
    unpause,
)

SHARED_FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"
ROOM = 7_400_000_000_000_000_001


def decoded(spec: MessageSpec, msg_id: int = 7_400_000_000_000_000_123) -> BaseEvent:
    """Render ``spec`` as the simulator would and decode it with the SDK's registry."""
    payload = spec.render(msg_id=msg_id, room_id=ROOM, create_time=1_700_000_000_000)
    event = decode_message(spec.method, payload)
    assert not isinstance(event, UnknownEvent), event
    return event


def test_render_fills_the_common_block() -> None:
    event = decoded(comment("alice", "hi"), msg_id=99)
    assert isinstance(event, CommentEvent)
    common = event.proto.common
    assert (common.method, common.msg_id, common.room_id, common.create_time) == (
        "WebcastChatMessage",
        99,
        ROOM,
        1_700_000_000_000,
    )
    assert event.comment == "hi"
    assert event.proto.user.unique_id == "alice"


def test_make_user_is_realistic_and_deterministic() -> None:
    user = make_user("mia.rose", moderator=True, subscriber=True)
    assert user == make_user("mia.rose", moderator=True, subscriber=True)
    assert user.id != make_user("someone_else").id
    assert 10**18 < user.id < 2**63
    assert user.id_str == str(user.id)
    assert user.nickname == "Mia Rose"
    assert user.unique_id == "mia.rose"
    assert user.sec_uid.startswith("MS4wLjABAAAA")
    assert len(user.avatar_thumb.m_urls) == 2
    scenes = [badge.badge_scene for badge in user.badge_list]
    assert scenes == [
        webcast_pb2.BadgeStruct.BADGE_SCENE_TYPE_USER_GRADE,
        webcast_pb2.BadgeStruct.BADGE_SCENE_TYPE_ADMIN,
        webcast_pb2.BadgeStruct.BADGE_SCENE_TYPE_SUBSCRIBER,
    ]
    event = decoded(comment(user, "hey"))
    assert isinstance(event, CommentEvent)
    assert event.user_is_super_fan


def test_gift_streak() -> None:
    events = [decoded(spec) for spec in gift_streak("bob", 5655, "Rose", 1, repeats=3)]
    gifts = [event for event in events if isinstance(event, GiftEvent)]
    assert len(gifts) == 4
    assert [g.proto.repeat_count for g in gifts] == [1, 2, 3, 3]
    assert [g.proto.repeat_end for g in gifts] == [0, 0, 0, 1]
    assert [g.streaking for g in gifts] == [True, True, True, False]
    assert len({g.proto.group_id for g in gifts}) == 1
    assert gifts[-1].diamonds == 3
    assert gifts[0].proto.gift.name == "Rose" and gifts[0].proto.gift.image.m_urls
    assert len(gift_streak(repeats=1)) == 2  # sent once: start and end
    with pytest.raises(ValueError, match="repeats"):
        gift_streak(repeats=0)


def test_expensive_gift_arrives_once() -> None:
    event = decoded(gift("whale", 6369, "Lion", 29999, 1, False, 2))
    assert isinstance(event, GiftEvent)
    assert not event.streakable and not event.streaking
    assert event.diamonds == 29999
    default = decoded(gift(gift_id=5, repeat_end=True))
    assert isinstance(default, GiftEvent) and default.proto.gift_id == 5 and not default.streaking


def test_like_join_room_user_seq() -> None:
    liked = decoded(like("carol", 7, 120))
    assert isinstance(liked, LikeEvent) and (liked.proto.count, liked.proto.total) == (7, 120)
    joined = decoded(join("dave", 321))
    assert isinstance(joined, JoinEvent)
    assert (joined.proto.member_count, joined.proto.action, joined.proto.user_id) == (321, 1, joined.proto.user.id)
    seq = decoded(room_user_seq(150, 900, [("a", 5), ("b", 50)]))
    assert isinstance(seq, RoomUserSeqEvent)
    assert seq.viewer_count == 150 and seq.proto.total_user == 900
    assert [c.user.unique_id for c in seq.top_viewers] == ["b", "a"]


def test_follow_and_share_derive() -> None:
    followed = decoded(follow("erin"))
    assert isinstance(followed, SocialEvent)
    assert followed.display_key == "pm_main_follow_message_viewer_2"
    assert [type(e) for e in derive(followed)] == [FollowEvent]
    shared = decoded(share("frank", viewers=4))
    assert isinstance(shared, SocialEvent)
    assert shared.display_key == "pm_mt_guidance_viewer_4_share"
    (derived,) = derive(shared)
    assert isinstance(derived, ShareEvent) and derived.users_joined == 4
    plain = decoded(share("frank"))
    assert isinstance(plain, SocialEvent) and plain.display_key == "pm_mt_guidance_share"


def test_control_messages() -> None:
    actions = {}
    for spec, derived_type in ((pause(), LivePauseEvent), (unpause(), LiveUnpauseEvent), (end(), LiveEndEvent)):
        event = decoded(spec)
        assert isinstance(event, ControlEvent)
        actions[event.proto.action] = spec.ends_stream
        assert [type(e) for e in derive(event)] == [derived_type]
    assert actions == {1: False, 2: False, 3: True}
    suspended = decoded(suspend())
    assert isinstance(suspended, ControlEvent) and suspended.ends_stream and suspend().ends_stream


def test_battle_goal_poll() -> None:
    opened = decoded(battle("rival", host="me", action="open"))
    assert isinstance(opened, LinkMicBattleEvent)
    assert opened.proto.action == 4 and len(opened.proto.anchor_info) == 2
    finished = decoded(battle("rival", host="me", action="finish", host_score=10, opponent_score=3))
    assert isinstance(finished, LinkMicBattleEvent)
    results = {r.user_id: r.result for r in finished.proto.battle_result.values()}
    assert sorted(results.values()) == [webcast_pb2.BattleResult.RESULT_WIN, webcast_pb2.BattleResult.RESULT_LOSE]
    goal = decoded(goal_update("Goal", 40, 100, contributor="gina"))
    assert isinstance(goal, GoalUpdateEvent)
    assert goal.proto.goal.sub_goals[0].progress == 40 and goal.proto.contributor_display_id == "gina"
    started = decoded(poll("Q?", ("x", "y"), phase="start"))
    assert isinstance(started, PollEvent) and started.proto.start_content.title == "Q?"
    updated = decoded(poll("Q?", ("x", "y"), (3, 4), phase="update"))
    assert isinstance(updated, PollEvent)
    assert [o.votes for o in updated.proto.update_content.option_list] == [3, 4]
    ended = decoded(poll("Q?", ("x", "y"), (5, 6), phase="end"))
    assert isinstance(ended, PollEvent) and len(ended.proto.end_content.option_list) == 2
    with pytest.raises(ValueError, match="phase"):
        poll(phase="later")
    with pytest.raises(ValueError, match="votes"):
        poll(options=("a",), votes=(1, 2))


def test_raw_is_sent_as_given() -> None:
    spec = raw("WebcastWhatever", b"\x01\x02")
    assert spec.render(msg_id=1, room_id=2, create_time=3) == b"\x01\x02"
    assert spec.decode() is None


def test_default_scenario_is_deterministic_and_complete() -> None:
    scenario = default_scenario(seed=3, host="someone")
    assert scenario == default_scenario(seed=3, host="someone")
    assert scenario != default_scenario(seed=4, host="someone")
    assert 15 <= scenario.duration <= 25
    methods = {spec.method for step in scenario.steps for spec in step.messages}
    assert {
        "WebcastMemberMessage",
        "WebcastChatMessage",
        "WebcastLikeMessage",
        "WebcastGiftMessage",
        "WebcastSocialMessage",
        "WebcastRoomUserSeqMessage",
        "WebcastLinkMicBattle",
        "WebcastGoalUpdateMessage",
        "WebcastPollMessage",
        "WebcastControlMessage",
    } <= methods
    assert scenario.steps[-1].messages == (end(),)
    events = [decoded(spec) for step in scenario.steps for spec in step.messages]
    gifts = [e for e in events if isinstance(e, GiftEvent)]
    assert any(g.streaking for g in gifts) and any(not g.streakable for g in gifts)
    assert [e.proto.action for e in events if isinstance(e, ControlEvent)] == [1, 2, 3]
    assert scenario.message_count == len(events)


def test_scenario_registry() -> None:
    assert sorted(SCENARIOS) == ["default", "empty", "fixtures"]
    assert load_scenario("empty") == Scenario("empty", ())
    with pytest.raises(ScenarioError, match="unknown scenario 'nope'"):
        load_scenario("nope")


def test_fixtures_scenario_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="captured fixtures"):
        fixtures_scenario(fixtures_dir=tmp_path)


def test_fixtures_scenario() -> None:
    if not (SHARED_FIXTURES / "manifest.json").is_file():
        pytest.skip(f"captured fixtures not found at {SHARED_FIXTURES}")
    scenario = fixtures_scenario(fixtures_dir=SHARED_FIXTURES)
    items = json.loads((SHARED_FIXTURES / "manifest.json").read_text(encoding="utf-8"))["items"]
    assert [step.messages[0].method for step in scenario.steps] == [item["method"] for item in items]
    first = scenario.steps[0].messages[0]
    assert first.template == (SHARED_FIXTURES / items[0]["file"]).read_bytes()


def test_step_validation() -> None:
    with pytest.raises(ValueError, match="negative"):
        Step((), -1.0)
    assert frame(comment(), like(), delay=0.5) == Step((comment(), like()), 0.5)


def test_speed_validation() -> None:
    with pytest.raises(ValueError, match="speed"):
        Simulator(speed=0)
    with pytest.raises(ValueError, match="speed"):
        Simulator().use_scenario("empty", speed=-1)


def test_script_forms() -> None:
    sim = Simulator()
    sim.script(comment(), frame(like(), join()), gift_streak(repeats=1), delay=0.25)
    assert [len(step.messages) for step in sim.steps] == [1, 2, 1, 1]
    assert [step.delay for step in sim.steps] == [0.25, 0.0, 0.25, 0.25]
    sim.use_scenario("default", speed=10)
    assert sim.speed == 10 and sim.steps == default_scenario(0, "simulator").steps
    sim.clear_script()
    assert sim.steps == ()


async def test_default_scenario_plays_to_a_dutiful_client(session: aiohttp.ClientSession) -> None:
    async with Simulator(scenario="default", speed=200, **FAST) as sim:
        received = await within(RawClient(session, sim).run())
        await within(sim.wait_idle())
    assert received.close_code == 1000
    assert sim.violations == []
    assert received.messages == default_scenario().message_count
    events = received.events
    assert not [e for e in events if isinstance(e, UnknownEvent)]
    assert isinstance(events[-2], ControlEvent) and events[-2].ends_stream
    assert isinstance(events[-1], LiveEndEvent) and received.session.ended


async def test_fixtures_scenario_plays_every_payload(session: aiohttp.ClientSession) -> None:
    if not (SHARED_FIXTURES / "manifest.json").is_file():
        pytest.skip(f"captured fixtures not found at {SHARED_FIXTURES}")
    wanted = frozenset({*REGISTRY.values(), UnknownEvent})  # the messages themselves, no derived events
    async with Simulator(**FAST) as sim:
        sim.use_scenario(fixtures_scenario(fixtures_dir=SHARED_FIXTURES), speed=100)
        received = await within(RawClient(session, sim, wanted=wanted).run())
        await within(sim.wait_idle())
    expected = [spec for step in sim.steps for spec in step.messages]
    assert [(type(event), event.bytes) for event in received.events] == [
        (REGISTRY.get(spec.method, UnknownEvent), spec.template) for spec in expected
    ]
    assert received.close_code == 1000
    assert sim.violations == []
