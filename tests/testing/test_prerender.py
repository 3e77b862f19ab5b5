"""``Simulator(prerender=True)``: frames rendered ahead are the frames the simulator renders at send time.

The wall clock the frames carry (``now``, ``create_time``) is pinned (:func:`clock`), so a prerendered simulator
and a plain one with the same seed and script must send the same bytes, log ids aside; moving the pinned clock
between rendering and sending shows which frames were rendered ahead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import aiohttp
import pytest

from tests.testing.conftest import FAST, RawClient, Received, within
from tiktok_live._base import UnknownEvent
from tiktok_live._protocol import decode_fetch_result, frame_header, frame_payload
from tiktok_live.events import CommentEvent
from tiktok_live.testing import (
    UNKNOWN_METHOD,
    Faults,
    Scenario,
    Simulator,
    _render,
    comment,
    end,
    frame,
    gift_streak,
    join,
    like,
)

FIRST = (
    comment("alice", "one"),
    frame(like("bob", 5, 5), comment("carol", "two")),
    *gift_streak("dave", repeats=2),
    comment("erin", "three"),
    end(),
)
SECOND = (comment("alice", "again"), join("frank"), comment("gina", "four"), end())
T0 = 1_700_000_000_000


@dataclass
class Clock:
    """The pinned wall clock of the simulator's frames, in milliseconds."""

    now: int = T0


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    pinned = Clock()
    monkeypatch.setattr(_render, "wall_ms", lambda: pinned.now)
    yield pinned


def msg_frames(received: Received) -> list[bytes]:
    """The ``msg`` frames as sent, log id aside (a connection's random draw, not the frame's content)."""
    frames = []
    for push in received.frames:
        if push.payload_type == "msg":
            copy = type(push)()
            copy.CopyFrom(push)
            copy.log_id = 0
            frames.append(copy.SerializeToString())
    return frames


def nows(received: Received) -> list[int]:
    """The ``now`` of every readable ``msg`` frame (its header and its fetch result agree)."""
    values = []
    for push in received.frames:
        if push.payload_type == "msg":
            now = decode_fetch_result(frame_payload(push)).now
            assert frame_header(push, "im-now") == str(now)
            values.append(now)
    return values


def unknown_methods(received: Received) -> list[str]:
    return [event.method for event in received.events if isinstance(event, UnknownEvent)]


def create_times(received: Received) -> set[int]:
    return {event.common.create_time for event in received.events if isinstance(event, CommentEvent)}


async def two_lives(session: aiohttp.ClientSession, sim: Simulator, next_live: str) -> list[Received]:
    """LIVE 1 over two connections (the second resumes from the first's cursor), then LIVE 2 on a third."""
    sim.script(*FIRST)
    raw = RawClient(session, sim)
    first = await within(raw.run(stop_after_messages=3))
    await within(sim.wait_idle())
    cursor = first.session.cursor
    bundle, _ = await within(raw.sign(cursor=cursor))
    rest = await within(raw.run(bundle, session=first.session, cursor=cursor, internal_ext=first.session.internal_ext))
    await within(sim.wait_idle())
    if next_live == "use_scenario":
        sim.use_scenario(Scenario("second", tuple(frame(spec) for spec in SECOND)))
    else:
        if next_live == "clear_script":
            sim.clear_script()
        elif next_live == "start_live":
            sim.start_live()  # a new room id as well
        sim.script(*SECOND)
    second = await within(RawClient(session, sim).run())
    await within(sim.wait_idle())
    return [first, rest, second]


@pytest.mark.parametrize("next_live", ["script after the end", "clear_script", "use_scenario", "start_live"])
async def test_prerendered_frames_are_the_frames_rendered_when_sent(
    session: aiohttp.ClientSession, clock: Clock, next_live: str
) -> None:
    faults = Faults(unknown_method_at=1, duplicate_msg_ids_at=4)  # steps rendered per connection, in both LIVEs
    live = 2 if next_live == "start_live" else 1  # start_live, then script after the end: a LIVE each
    played: dict[bool, list[Received]] = {}
    for prerender in (False, True):
        async with Simulator(seed=7, faults=faults, prerender=prerender, **FAST) as sim:
            played[prerender] = await two_lives(session, sim, next_live)
            assert sim.live_number == live
    plain, ahead = played[False], played[True]
    for plain_connection, ahead_connection in zip(plain, ahead, strict=True):
        assert msg_frames(ahead_connection) == msg_frames(plain_connection)
    first, rest, second = ahead
    assert first.texts + rest.texts == ["one", "two", "three"]  # resumed where the first connection stopped
    assert sum(batch.duplicates for batch in rest.batches) == 1  # the duplicate_msg_ids_at frame, nothing else
    assert second.texts == ["again", "four"]
    assert unknown_methods(first) == unknown_methods(second) == [UNKNOWN_METHOD]
    live_1 = {event.msg_id for event in first.events + rest.events if event.msg_id}
    live_2 = {event.msg_id for event in second.events if event.msg_id}
    assert len(live_2) == 5 and not live_1 & live_2  # fresh msg ids, not the previous LIVE's frames
    assert second.session.cursor == f"sim-4-7-{live}" and rest.session.cursor == "sim-7-7-0"


@pytest.mark.parametrize("prerender", [False, True])
async def test_frames_carry_the_time_they_were_rendered_at(
    session: aiohttp.ClientSession, clock: Clock, prerender: bool
) -> None:
    async with Simulator(prerender=prerender, **FAST) as sim:
        clock.now = T0
        sim.script(comment("alice", "one"), comment("bob", "two"), end())
        clock.now = T0 + 1000
        first = await within(RawClient(session, sim).run())
        clock.now = T0 + 2000
        sim.script(comment("carol", "three"), end())  # a new LIVE: its frames are rendered now
        clock.now = T0 + 3000
        second = await within(RawClient(session, sim).run())
        sim.room_id += 1  # a change the simulator is not told of: rendered again before the next connection plays
        clock.now = T0 + 4000
        third = await within(RawClient(session, sim).run())
    rendered = [T0, T0 + 2000, T0 + 4000] if prerender else [T0 + 1000, T0 + 3000, T0 + 4000]
    for received, at in zip((first, second, third), rendered, strict=True):
        assert set(nows(received)) == {at}
        assert create_times(received) == {at}
    assert first.texts == ["one", "two"] and second.texts == third.texts == ["three"]
    assert {event.common.room_id for event in third.events if isinstance(event, CommentEvent)} == {sim.room_id}


async def test_script_renders_the_steps_it_appends(session: aiohttp.ClientSession, clock: Clock) -> None:
    async with Simulator(prerender=True, **FAST) as sim:
        sim.script(comment("alice", "one"))
        clock.now = T0 + 1000
        sim.script(comment("bob", "two"), end())
        clock.now = T0 + 2000
        received = await within(RawClient(session, sim).run())
    assert nows(received) == [T0, T0 + 1000, T0 + 1000]
    assert received.texts == ["one", "two"]


async def test_loop_passes_get_fresh_ids_and_are_shared(session: aiohttp.ClientSession, clock: Clock) -> None:
    words = ["a", "b", "c"]
    script = [*(frame(comment("alice", word), delay=0.001) for word in words), end()]
    played: dict[bool, Received] = {}
    for prerender in (False, True):
        async with Simulator(loop=True, prerender=prerender, **FAST) as sim:
            sim.script(*script)
            played[prerender] = await within(RawClient(session, sim).run(stop_after_messages=10))
    assert msg_frames(played[True]) == msg_frames(played[False])
    assert played[True].texts == (words * 4)[:10]
    assert len({event.msg_id for event in played[True].events}) == 10  # every pass has ids of its own

    async with Simulator(loop=True, prerender=True, **FAST) as sim:
        sim.script(*script)  # the first pass rendered at T0
        clock.now = T0 + 1000
        first = await within(RawClient(session, sim).run(stop_after_messages=8))
        await within(sim.wait_idle())
        clock.now = T0 + 2000
        second = await within(RawClient(session, sim).run(stop_after_messages=8))
    assert nows(first) == [T0] * 3 + [T0 + 1000] * 5
    assert nows(second) == [T0] * 3 + [T0 + 1000] * 5  # later passes as the first connection rendered them
    assert msg_frames(second) == msg_frames(first)


async def test_a_fault_stays_with_its_connection(session: aiohttp.ClientSession, clock: Clock) -> None:
    faults = Faults(unknown_method_at=0, first_connections=1)
    async with Simulator(faults=faults, prerender=True, **FAST) as sim:
        sim.script(comment("alice", "one"), comment("bob", "two"), end())
        faulted = await within(RawClient(session, sim).run())
        clean = await within(RawClient(session, sim).run())
    assert unknown_methods(faulted) == [UNKNOWN_METHOD] and unknown_methods(clean) == []
    assert faulted.texts == clean.texts == ["one", "two"]


async def test_many_hosts_each_render_their_own(session: aiohttp.ClientSession, clock: Clock) -> None:
    played: dict[bool, list[Received]] = {}
    for prerender in (False, True):
        async with Simulator(users=["alice", "bob"], prerender=prerender, **FAST) as sim:
            sim.script(*FIRST)
            played[prerender] = [await within(RawClient(session, host).run()) for host in sim.hosts.values()]
    for plain, ahead in zip(played[False], played[True], strict=True):
        assert msg_frames(ahead) == msg_frames(plain)
    alice, bob = played[True]
    assert alice.texts == bob.texts == ["one", "two", "three"]
    assert not {event.msg_id for event in alice.events} & {event.msg_id for event in bob.events}


async def hand_changes(session: aiohttp.ClientSession, sim: Simulator) -> list[Received]:
    """Changes made to a running simulator behind the script's back, each followed by a connection."""
    sim.script(comment("alice", "one"), frame(comment("bob", "two"), end()))  # looping keeps the comment alone
    played = [await within(RawClient(session, sim).run())]
    sim.start_live(sim.room_id)  # the same room, a new LIVE: fresh msg ids for the same script
    played.append(await within(RawClient(session, sim).run()))
    sim.room_id += 1
    played.append(await within(RawClient(session, sim).run()))
    sim.loop = True  # the end is left out from now on
    played.append(await within(RawClient(session, sim).run(stop_after_messages=5)))
    await within(sim.wait_idle())
    sim.clear_script()
    sim.script(comment("alice", "one"), comment("bob", "two"))  # a LIVE that never ends
    played.append(await within(RawClient(session, sim).run(stop_after_messages=5)))
    await within(sim.wait_idle())
    sim.script(comment("carol", "three"))  # appended: the later passes now fall elsewhere
    played.append(await within(RawClient(session, sim).run(stop_after_messages=8)))
    return played


async def test_changes_made_by_hand_are_rendered_afresh(session: aiohttp.ClientSession, clock: Clock) -> None:
    played: dict[bool, list[Received]] = {}
    for prerender in (False, True):
        async with Simulator(prerender=prerender, **FAST) as sim:
            played[prerender] = await hand_changes(session, sim)
    for plain, ahead in zip(played[False], played[True], strict=True):
        assert msg_frames(ahead) == msg_frames(plain)
    first, same_room, new_room, looped, before, appended = played[True]
    assert first.texts == same_room.texts == new_room.texts == ["one", "two"]
    assert not {event.msg_id for event in first.events} & {event.msg_id for event in same_room.events}
    assert looped.texts == before.texts == ["one", "two"] * 2 + ["one"] and not looped.session.ended
    assert appended.texts == ["one", "two", "three"] * 2 + ["one", "two"]
