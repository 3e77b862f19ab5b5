"""Several scripted LIVEs on one simulator: each gets msg ids and cursors no earlier LIVE used."""

from __future__ import annotations

import aiohttp
import pytest

from tests.testing.conftest import FAST, RawClient, within
from tiktok_live.events import CommentEvent
from tiktok_live.testing import Simulator, comment, end


@pytest.mark.parametrize("next_live", ["script after the end", "clear_script", "use_scenario"])
async def test_a_second_live_gets_fresh_msg_ids(session: aiohttp.ClientSession, next_live: str) -> None:
    async with Simulator(**FAST) as sim:
        sim.script(comment("alice", "first"), comment("bob", "first too"), end())
        first = await within(RawClient(session, sim).run())
        await within(sim.wait_idle())
        assert sim.live_number == 0
        if next_live == "clear_script":
            sim.clear_script()
        elif next_live == "use_scenario":
            sim.use_scenario("empty")
        sim.script(comment("alice", "second"), comment("bob", "second too"), end())
        second = await within(RawClient(session, sim).run())
    assert sim.live_number == 1
    assert first.texts == ["first", "first too"] and second.texts == ["second", "second too"]  # the new script only
    first_ids = {event.msg_id for event in first.events if event.msg_id}  # (derived events share their source's)
    second_ids = {event.msg_id for event in second.events if event.msg_id}
    assert len(first_ids) == len(second_ids) == 3
    assert not first_ids & second_ids
    assert first.session.cursor != second.session.cursor


async def test_script_while_a_live_runs_extends_it() -> None:
    sim = Simulator()
    sim.script(comment("alice", "one"))
    sim.script(comment("alice", "two"), end())
    assert sim.live_number == 0 and len(sim.steps) == 3


async def test_a_cursor_of_the_previous_live_does_not_resume(session: aiohttp.ClientSession) -> None:
    async with Simulator(**FAST) as sim:
        sim.script(comment("a", "1"), comment("a", "2"), end())
        old_cursor = sim.cursor(2)
        sim.clear_script()
        sim.script(comment("b", "1"), comment("b", "2"), end())
        received = await within(RawClient(session, sim).run(cursor=old_cursor))
    assert received.texts == ["1", "2"]  # from the start of the new LIVE


async def test_one_client_watching_two_lives_sees_every_message() -> None:
    """The client drops msg ids it has seen (duplicates after a reconnect): a reused id would lose the message."""
    async with Simulator(**FAST) as sim:
        client = sim.client()
        seen: list[str] = []
        client.add_listener(CommentEvent, lambda event: seen.append(event.comment))
        sim.script(comment("alice", "first LIVE"), end())
        await within(client.connect())
        sim.script(comment("alice", "second LIVE"), end())
        await within(client.connect())
    assert seen == ["first LIVE", "second LIVE"]
