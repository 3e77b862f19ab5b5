"""Offline hosts: held, waiting for their next LIVE, found by batched live checks (many room ids a request)."""

from __future__ import annotations

import pytest

from tests.fleet.conftest import FleetHarness, wait_for


@pytest.mark.fleet(hosts=4, speed=20.0, offline=True, relive_after=2, max_lives=1)
async def test_offline_hosts_wait_and_are_found_live_by_one_batched_check(fleet: FleetHarness) -> None:
    await fleet.add()
    fleet.worker("w0", "--poll", "0.5")

    async def waiting() -> bool:
        rooms = (await fleet.rooms()).values()
        return all(room.state == "offline" and room.holder == "w0" for room in rooms)

    await wait_for(waiting, 20, "the four offline rooms held, waiting for their LIVEs")
    # Each host goes live after answering "offline" twice; the worker's checker finds them all in one poll.
    await wait_for(fleet.complete, 30, "every LIVE in the stream")
    await fleet.check_exactly_once()
    # Many room ids in one request (a client's own check before connecting asks about its room alone).
    rooms = {host.room_id for host in fleet.sim.hosts.values()}
    batches = [set(check) for check in fleet.sim.live_checks if len(check) > 1]
    assert batches and all(batch <= rooms for batch in batches), fleet.sim.live_checks

    async def offline_again() -> bool:  # the LIVEs ended: the rooms wait for the next, still held
        return all(room.state == "offline" and room.holder == "w0" for room in (await fleet.rooms()).values())

    await wait_for(offline_again, 10, "the rooms offline again")
