"""The ``tiktok_live_simulator`` fixture of ``tiktok_live.testing.pytest_plugin`` (loaded via the pytest11 entry
point, or explicitly with ``-p tiktok_live.testing.pytest_plugin``)."""

from __future__ import annotations

import aiohttp
import pytest

from tests.testing.conftest import RawClient, within
from tiktok_live.testing import Simulator, comment, end


async def test_fixture_yields_a_started_empty_simulator(tiktok_live_simulator: Simulator) -> None:
    assert tiktok_live_simulator.port > 0
    assert tiktok_live_simulator.steps == ()
    assert tiktok_live_simulator.user == "simulator"


@pytest.mark.tiktok_live_simulator(user="marked", ping_interval=0.05, ack_grace=0.3)
async def test_marker_options_and_script(tiktok_live_simulator: Simulator) -> None:
    sim = tiktok_live_simulator
    assert sim.user == "marked"
    sim.script(comment("alice", "hi"), end())
    async with aiohttp.ClientSession() as session:
        received = await within(RawClient(session, sim).run())
    assert [event.type for event in received.events] == ["CommentEvent", "ControlEvent", "LiveEndEvent"]
    assert received.close_code == 1000


async def test_fixture_with_the_default_scenario(tiktok_live_simulator: Simulator) -> None:
    tiktok_live_simulator.use_scenario("default", speed=500)
    assert tiktok_live_simulator.speed == 500
    assert len(tiktok_live_simulator.steps) > 20
