"""Many hosts on one simulated origin: ``Simulator(users=[...])``, ``--users`` / ``--rooms``, and the sign server's
count of requests per fixed window."""

from __future__ import annotations

import asyncio
import signal

import aiohttp
import pytest

from tests.testing.conftest import within
from tests.testing.test_cli import launched
from tiktok_live import TikTokLiveClient
from tiktok_live._base import BaseEvent
from tiktok_live.errors import UserNotFoundError
from tiktok_live.events import CommentEvent, LiveEndEvent
from tiktok_live.protocol import Received
from tiktok_live.testing import Simulator, comment, end
from tiktok_live.testing._hosts import SignWindows


async def _read(client: TikTokLiveClient) -> list[BaseEvent]:
    """Every event of the client's LIVE (decoded whatever is listened to), through the frame hook."""
    events: list[BaseEvent] = []
    client._decode_everything = True

    async def hook(received: Received) -> None:
        events.extend(received.events)

    client._connection.frame_hook = hook
    await within(client.connect(), 20)
    return events


async def test_each_host_has_its_own_room_script_and_msg_ids() -> None:
    async with Simulator(users=["alice", "@Bob", "carol"], scenario="default", speed=50) as sim:
        assert list(sim.hosts) == ["alice", "Bob", "carol"]
        assert sim.user == "" and sim.room_id == 0  # the origin is nobody's host
        assert sim.host_named("@bob") is sim.hosts["Bob"] and sim.hosts["Bob"].seed == 1
        reads = await asyncio.gather(*(_read(host.client()) for host in sim.hosts.values()))
        rooms = [host.room_id for host in sim.hosts.values()]
        assert len(set(rooms)) == 3
        for host, events in zip(sim.hosts.values(), reads, strict=True):
            assert {event.msg_id for event in events if event.msg_id} == {
                host._msg_id(position, index)
                for position, step in enumerate(host.steps)
                for index, _ in enumerate(step.messages)
            }
            assert isinstance(events[-1], LiveEndEvent) and host.connections == 1
        ids = [{event.msg_id for event in events} for events in reads]
        assert not ids[0] & ids[1] and not ids[1] & ids[2] and not ids[0] & ids[2]
        assert not sim.violations
        assert len(sim.sign_requests) == 3 and sum(sim.sign_counts(3600).values()) == 3


async def test_an_unknown_user_is_nobody_and_the_origin_has_no_client() -> None:
    async with Simulator(users=["alice"]) as sim:
        with pytest.raises(ValueError, match="many hosts"):
            sim.client()
        with pytest.raises(KeyError, match="@nobody"):
            sim.host_named("nobody")
        stranger = TikTokLiveClient("@nobody", config=sim.config())
        with pytest.raises(UserNotFoundError):
            await within(stranger.connect(), 10)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{sim.url}/webcast/room/info/", params={"room_id": "12345"}) as response:
                assert (await response.json())["data"] == {"prompts": ""}  # a room id of nobody's: stale


async def test_one_live_check_answers_for_every_host() -> None:
    async with Simulator(users=["alice", "bob", "carol"]) as sim:
        sim.hosts["bob"].offline = True
        ids = [host.room_id for host in sim.hosts.values()] + [42]
        async with aiohttp.ClientSession() as session:
            params = {"room_ids": ",".join(map(str, ids))}
            async with session.get(f"{sim.url}/webcast/room/check_alive/", params=params) as response:
                answer = await response.json()
        assert [room["alive"] for room in answer["data"]] == [True, False, True, False]
        assert sim.live_checks == [tuple(ids)]


async def test_scripts_records_and_violations_act_on_every_host() -> None:
    seen: list[str] = []
    async with Simulator(users=["alice", "bob"], on_violation=seen.append, ack_grace=3.0) as sim:
        assert [host.ack_grace for host in sim.hosts.values()] == [3.0, 3.0]  # the constructor's options: every host's
        sim.script(comment("viewer", "hi"), end())
        assert [len(host.steps) for host in sim.hosts.values()] == [2, 2]
        client = sim.hosts["bob"].client()
        comments: list[CommentEvent] = []
        client.add_listener(CommentEvent, comments.append)
        await within(client.connect(), 10)
        assert [event.comment for event in comments] == ["hi"]
        sim.hosts["bob"]._report_violation("violation: [connection 1] late")
        assert sim.violations == seen == ["violation: @bob [connection 1] late"]
        assert sim.hosts["bob"].violations == ["violation: [connection 1] late"]
        sim.clear_records()
        assert sim.violations == [] and sim.hosts["bob"].violations == [] and sim.hosts["bob"].connections == 0
        sim.clear_script()
        assert [host.steps for host in sim.hosts.values()] == [(), ()]


def test_hosts_must_be_distinct_handles() -> None:
    with pytest.raises(ValueError, match="distinct"):
        Simulator(users=["alice", "@ALICE"])
    with pytest.raises(ValueError, match="at least one"):
        Simulator(users=[])


def test_a_one_host_simulator_is_its_own_only_host() -> None:
    sim = Simulator("solo", seed=3)
    assert sim.hosts == {"solo": sim} and sim.host_named("SOLO") is sim
    assert sim._msg_id(2, 1) == 7_400_000_000_000_000_000 + 3 * 10**15 + 2 * 4096 + 1  # ids as they always were


def test_sign_requests_are_counted_in_windows_aligned_on_the_epoch() -> None:
    now = [119.9]
    windows = SignWindows(clock=lambda: now[0])
    windows.count()
    for now[0] in (120.0, 120.5, 179.99, 180.0):
        windows.count()
    assert windows.windows(1) == {119: 1, 120: 2, 179: 1, 180: 1}
    assert windows.windows(60) == {60: 1, 120: 3, 180: 1}
    with pytest.raises(ValueError):
        windows.windows(0)


async def test_the_command_line_serves_many_hosts() -> None:
    async with launched("--rooms", "3") as cli:
        assert cli.stdout is not None
        line = (await within(cli.stdout.readline(), 20)).decode().rstrip("\n")
        assert line.endswith("serving @host1, @host2, @host3"), line
        url = line.split()[2]
        async with aiohttp.ClientSession() as session, session.get(f"{url}/@host2/live") as response:
            assert '"uniqueId": "host2"' in await response.text()
        cli.send_signal(signal.SIGINT)
        assert await within(cli.wait(), 10) == 0
    async with launched("--users", "alice,@bob") as cli:
        assert cli.stdout is not None
        line = (await within(cli.stdout.readline(), 20)).decode()
        assert line.rstrip("\n").endswith("serving @alice, @bob"), line
    async with launched("--rooms", "0") as cli:
        assert await within(cli.wait(), 20) == 2
