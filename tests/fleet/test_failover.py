"""Whole fleets: worker processes, a many-host simulator and Redis — failover, hand-over, partitions, and every
message of every room exported exactly once."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

import pytest

from tests.fleet.conftest import (
    LEASE,
    STREAM,
    FleetHarness,
    PausableProxy,
    WorkerProcess,
    check_fencing,
    wait_for,
)
from tiktok_live.fleet import Fleet

ROUND = LEASE / 3
CONNECT = 10.0
"""Seconds allowed for a room to connect once a worker took it (lookups, sign, WebSocket) on a loaded machine."""


async def _spread(fleet: FleetHarness, workers: int) -> None:
    """Wait until every room is live on ``workers`` workers with events committed."""

    async def spread() -> bool:
        rooms = await fleet.rooms()
        holders = {room.holder for room in rooms.values() if room.state == "live"}
        return len(holders) == workers and all(room.events > 0 for room in rooms.values())

    await wait_for(spread, 60, f"every room live on {workers} workers, each with events committed")


async def _mid_stream(fleet: FleetHarness, name: str) -> set[str]:
    """The rooms ``name`` holds, after checking some are still mid-stream (live, script not over)."""
    rooms = await fleet.rooms()
    held = {handle for handle, room in rooms.items() if room.holder == name}
    assert held, f"{name} holds no room"
    streaming = [handle for handle in held if rooms[handle].state == "live"]
    assert streaming, f"every room of {name} had already ended: the scripts are too short for this test"
    return held


async def _moved(fleet: FleetHarness, rooms: set[str], away_from: str, within: float) -> dict[str, float]:
    """Wait until every room in ``rooms`` has another holder than ``away_from``; seconds each took."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    moved: dict[str, float] = {}

    async def taken_over() -> bool:
        for handle, room in (await fleet.rooms()).items():
            if handle in rooms and handle not in moved and room.holder not in ("", away_from):
                moved[handle] = loop.time() - started
        return len(moved) == len(rooms)

    await wait_for(taken_over, within, f"the {len(rooms)} rooms of {away_from} to move")
    return moved


@pytest.mark.fleet(speed=2.0)  # 10 s scripts: the kill comes mid-stream even on a slow machine
async def test_a_killed_worker_s_rooms_move_and_every_message_is_exported_once(fleet: FleetHarness) -> None:
    await fleet.add()
    victim, *_ = [fleet.worker(f"w{number}") for number in range(3)]
    await _spread(fleet, 3)
    held = await _mid_stream(fleet, victim.name)
    victim.signal(signal.SIGKILL)
    assert await victim.exit_code() == -signal.SIGKILL
    # Taken over within the lease, a round and a connect (a bounded wait: no timing assertion).
    await _moved(fleet, held, victim.name, LEASE + ROUND + CONNECT)
    async with Fleet(fleet.redis_url, prefix="test") as admin:  # its own lease (2 s) says it is gone, not 15 s
        status = await admin.status()
    assert {worker.name: status.alive(worker) for worker in status.workers} == {"w0": False, "w1": True, "w2": True}
    await wait_for(fleet.complete, 60, "every message of every room in the stream")
    entries = await fleet.check_exactly_once()
    runs = check_fencing(entries)
    # The victim's rooms were committed by it, then by their new holders under newer tokens.
    for handle in held:
        holders = [holder for holder, _ in runs[str(fleet.sim.hosts[handle].room_id)]]
        assert victim.name in holders and holders[-1] != victim.name, (handle, holders)


@pytest.mark.fleet(speed=2.0)
async def test_sigterm_moves_rooms_at_once_and_a_new_worker_takes_a_fair_share(fleet: FleetHarness) -> None:
    await fleet.add()
    leaving, *_ = [fleet.worker(f"w{number}") for number in range(3)]
    await _spread(fleet, 3)
    held = await _mid_stream(fleet, leaving.name)
    leaving.signal(signal.SIGTERM)
    assert await leaving.exit_code() == 0
    assert "released" in leaving.output()
    # Released, not left to expire: right after the exit no lease of the leaving worker remains.
    for handle in held:
        holder = await fleet.store.holder(handle)
        assert holder is None or not holder.startswith(f"{leaving.name}|"), (handle, holder)
    assert leaving.name not in {worker.name for worker in await fleet.store.workers()}
    await _moved(fleet, held, leaving.name, ROUND + CONNECT)
    # A fourth worker joins: the others hand rooms over until it holds its share of 30 rooms over 3 workers.
    fleet.worker("w3")

    async def fair() -> bool:
        holders = [room.holder for room in (await fleet.rooms()).values()]
        return [holders.count(name) for name in ("w1", "w2", "w3")] == [10, 10, 10]

    await wait_for(fair, 30, "w1, w2 and w3 to hold 10 rooms each")
    await wait_for(fleet.complete, 60, "every message of every room in the stream")
    check_fencing(await fleet.check_exactly_once())


@pytest.mark.fleet(speed=2.0)
async def test_a_partitioned_worker_stops_its_rooms_before_others_take_them(fleet: FleetHarness) -> None:
    proxy = PausableProxy(fleet.redis.port)
    await proxy.start()
    try:
        await fleet.add()
        through = f"redis://127.0.0.1:{proxy.port}/0"
        cut = fleet.worker("w0", "--redis", through, "--to", f"{through}?stream={STREAM}")
        fleet.worker("w1")
        fleet.worker("w2")
        await _spread(fleet, 3)
        held = await _mid_stream(fleet, cut.name)
        proxy.pause()  # w0 no longer reaches Redis; what it sends is held and delivered late
        await _moved(fleet, held, cut.name, LEASE + ROUND + CONNECT)
        # w0 stops them itself, before their leases can expire (no renewal got through).
        await wait_for(_said(cut, "stopping it before it expires"), 10, "w0 to stop its rooms itself")
        proxy.resume()  # the partition heals: w0's late commits reach Redis now, and are fenced off
        await wait_for(fleet.complete, 60, "every message of every room in the stream")

        async def rejoined() -> bool:
            now = await fleet.store.now_ms()
            return any(worker.name == "w0" and worker.age(now) < LEASE for worker in await fleet.store.workers())

        await wait_for(rejoined, 20, "w0 to send heartbeats again")
        assert cut.running
        check_fencing(await fleet.check_exactly_once())
    finally:
        await fleet.stop_workers()
        await proxy.close()


def _said(worker: WorkerProcess, text: str) -> Callable[[], Awaitable[bool]]:
    async def condition() -> bool:
        return text in worker.output()

    return condition


@pytest.mark.fleet(speed=2.0)
async def test_rooms_stop_while_redis_is_down_and_resume_from_what_was_committed(fleet: FleetHarness) -> None:
    await fleet.add()
    workers = [fleet.worker(f"w{number}") for number in range(2)]
    await _spread(fleet, 2)
    # A clean stop: redis-server writes its append-only file out, so everything it acknowledged survives.
    fleet.redis.stop()
    for worker in workers:  # every room stops before its lease could expire (Redis keeps the leases' deadlines)
        await wait_for(_said(worker, "stopping it before it expires"), 10, f"{worker.name} to stop its rooms")
    await fleet.redis.start()
    await wait_for(fleet.complete, 60, "every message of every room in the stream")
    check_fencing(await fleet.check_exactly_once())
    assert all(worker.running for worker in workers)
