"""RoomPool(proxies=[...]): rooms spread over real SOCKS proxies on loopback, a failing proxy benched (and its
rooms moved), the bench's end, and bad proxy lists."""

from __future__ import annotations

import logging

import aiohttp
import pytest

from tests.pool.conftest import bounded, room_options, simulators
from tests.socks_proxy import socks_proxy
from tiktok_live.client import ReconnectPolicy
from tiktok_live.errors import UserNotFoundError
from tiktok_live.events import CommentEvent
from tiktok_live.pool import RoomPool, RoomState
from tiktok_live.testing import comment, end

FAST_RECONNECT = ReconnectPolicy(base_delay=0.01, max_delay=0.05, max_attempts=1)
SECRET = "hunter2-but-longer"


@bounded(20)
async def test_rooms_are_spread_over_the_proxies() -> None:
    async with socks_proxy() as first, socks_proxy() as second, simulators(4) as sims:
        for sim in sims:
            sim.script(comment("viewer", f"hello {sim.user}"), end())
        async with RoomPool(proxies=[first.url, second.url]) as pool:
            stream = pool.stream(CommentEvent)
            rooms = [pool.add(sim.user, **room_options(sim)) for sim in sims]
            assert [state.rooms for state in pool.proxies] == [2, 2]
            assert [room.proxy.name for room in rooms if room.proxy] == [
                f"socks5://127.0.0.1:{port}" for port in (first.port, second.port, first.port, second.port)
            ]
            await pool.wait()
            stream.close()
            texts = sorted([item.event.comment async for item in stream])
        assert texts == sorted(f"hello {sim.user}" for sim in sims)
        assert [room.state for room in rooms] == [RoomState.ENDED] * 4
        assert [state.rooms for state in pool.proxies] == [0, 0]  # done rooms use no proxy
        assert {port for _, port in first.tunnels} == {sims[0].port, sims[2].port}
        assert {port for _, port in second.tunnels} == {sims[1].port, sims[3].port}


@bounded(20)
async def test_a_failing_proxy_is_benched_and_its_room_moves(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    dead = f"socks5://bob:{SECRET}@127.0.0.1:9"  # nothing listens there
    async with socks_proxy() as good, simulators(3) as sims:
        for sim in sims:
            sim.script(comment("viewer", "hi"), end())
        async with RoomPool(proxies=[dead, good.url], proxy_failures=1, reconnect=FAST_RECONNECT) as pool:
            rooms = [pool.add(sim.user, **room_options(sim)) for sim in sims]
            bad_state, good_state = pool.proxies
            assert [room.proxy for room in rooms] == [bad_state, good_state, bad_state]
            await pool.wait()
        assert [room.state for room in rooms] == [RoomState.ENDED] * 3
        assert bad_state.is_benched and bad_state.benches == 1 and bad_state.failures == 2  # rooms 0 and 2 failed
        assert good_state.failures == 0 and not good_state.is_benched
        assert {port for _, port in good.tunnels} == {sim.port for sim in sims}  # every room ended up there
    benched = [record.getMessage() for record in caplog.records if "benched" in record.getMessage()]
    assert len(benched) == 1 and benched[0].startswith("proxy socks5://127.0.0.1:9 benched for 300 s"), benched
    assert SECRET not in caplog.text and "bob" not in caplog.text
    assert SECRET not in repr(pool.proxies) and "bob" not in repr(pool.proxies)


@bounded(20)
async def test_with_every_proxy_failing_rooms_fail_and_each_proxy_is_benched() -> None:
    async with simulators(1) as (sim,):
        proxies = ["socks5://127.0.0.1:9", "http://127.0.0.1:9"]
        async with RoomPool(proxies=proxies, proxy_failures=1, reconnect=FAST_RECONNECT) as pool:
            room = pool.add(sim.user, **room_options(sim))
            await pool.wait()
        assert room.state is RoomState.FAILED
        assert [state.benches for state in pool.proxies] == [1, 1]


@bounded(20)
async def test_a_bench_ends_and_only_address_failures_count() -> None:
    now = 1000.0
    async with simulators(1) as (sim,):
        pool = RoomPool(proxies=["socks5://127.0.0.1:9", "socks5://127.0.0.1:10"], proxy_failures=2, clock=lambda: now)
        try:
            first, second = pool.proxies
            missing = pool.add("@nobody_here", **room_options(sim))  # through the first proxy
            assert missing.proxy is first
            pool._proxies.failed(missing.proxy, UserNotFoundError("nobody_here"), missing.unique_id)
            assert first.failures == 0  # not the address's fault
            pool._proxies.failed(missing.proxy, aiohttp_error(), missing.unique_id)
            assert first.failures == 1 and not first.is_benched
            pool._proxies.failed(missing.proxy, aiohttp_error(), missing.unique_id)
            assert first.is_benched and first.benched_until == now + 300.0
            assert pool._proxies.pick() is second
            now += 300.0
            assert not first.is_benched
            second.benched_until, first.benched_until = now + 10, now + 5
            assert pool._proxies.pick() is first  # all benched: the one back soonest
        finally:
            await pool.close()


def aiohttp_error() -> Exception:
    from tiktok_live.errors import RequestError

    return RequestError("request to 127.0.0.1 failed: connection refused", host="127.0.0.1", retryable=True)


async def test_bad_proxy_lists_are_value_errors() -> None:
    with pytest.raises(ValueError, match="is empty"):
        RoomPool(proxies=[])
    with pytest.raises(ValueError, match="list of proxy URLs"):
        RoomPool(proxies="socks5://127.0.0.1:1080")
    with pytest.raises(ValueError, match="given twice"):
        RoomPool(proxies=["socks5://127.0.0.1:1080", "socks5://127.0.0.1:1080"])
    with pytest.raises(ValueError, match="proxy: expected a http:// or https:// or socks4://"):
        RoomPool(proxies=["ftp://127.0.0.1:21"])
    with pytest.raises(ValueError, match="proxy_failures"):
        RoomPool(proxies=["socks5://127.0.0.1:1080"], proxy_failures=0)
    with pytest.raises(ValueError, match="proxy_bench_time"):
        RoomPool(proxies=["socks5://127.0.0.1:1080"], proxy_bench_time=-1)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ValueError, match="leave session= out"):
            RoomPool(proxies=["socks5://127.0.0.1:1080"], session=session)


@bounded(20)
async def test_a_room_with_its_own_socks_proxy_gets_a_session_for_it() -> None:
    async with socks_proxy() as own, simulators(1) as (sim,):
        sim.script(comment("viewer", "mine"), end())
        async with RoomPool() as pool:  # no pool proxies: the room's own proxy gets its own session
            room = pool.add(sim.user, proxy=own.url, **room_options(sim))
            await pool.wait()
        assert room.state is RoomState.ENDED and room.proxy is None
        assert {port for _, port in own.tunnels} == {sim.port}
