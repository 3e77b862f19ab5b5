"""``tiktok-live fleet worker|add|remove|status`` as users run them: real processes, a real Redis."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.export.conftest import ServerProcess, free_port
from tests.fleet.conftest import STREAM, FleetHarness, wait_for

METRICS = (
    "tiktok_live_fleet_rooms_held",
    "tiktok_live_fleet_rooms",
    "tiktok_live_fleet_capacity",
    "tiktok_live_fleet_events_total",
    "tiktok_live_fleet_commits_total",
    "tiktok_live_fleet_reconnects_total",
    "tiktok_live_fleet_sign_budget_waits_total",
    "tiktok_live_fleet_lease_renewals_failed_total",
)


async def run_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run ``tiktok-live`` with ``args``; (exit code, stdout, stderr). Bounded."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tiktok_live",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 30)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_a_worker_without_redis_exits_with_a_clear_error() -> None:
    nobody = f"redis://127.0.0.1:{free_port()}/0"
    code, _, err = await run_cli("fleet", "worker", "--redis", nobody, "--lease", "2")
    assert code == 5, err
    assert "does not answer" in err and "--redis" in err
    code, _, err = await run_cli("fleet", "status", "--redis", nobody)
    assert code == 5 and "does not answer" in err
    code, _, err = await run_cli("fleet", "status", env={"PATH": "/usr/bin:/bin"})
    assert code == 2 and "needs --redis URL (or $TIKTOK_LIVE_REDIS)" in err


async def test_add_remove_and_status(redis_server: ServerProcess) -> None:
    url = f"redis://127.0.0.1:{redis_server.port}/0"
    code, _, err = await run_cli("fleet", "add", "--redis", url, "@alice", "bob", "@alice")
    assert code == 0 and "added 2 room(s): @alice, @bob" in err
    code, _, err = await run_cli("fleet", "add", "--redis", url, "@alice")
    assert code == 0 and "added 0 room(s)" in err
    code, _, err = await run_cli("fleet", "add", "--redis", url, "not a handle!")
    assert code == 2, err
    # $TIKTOK_LIVE_REDIS stands in for --redis; another prefix is another fleet.
    env = {"PATH": "/usr/bin:/bin", "TIKTOK_LIVE_REDIS": url}
    code, _, err = await run_cli("fleet", "add", "--prefix", "other", "@carol", env=env)
    assert code == 0 and "added 1 room(s)" in err
    code, out, _ = await run_cli("fleet", "status", "--json", env=env)
    assert code == 0
    status = json.loads(out)
    assert [(room["handle"], room["state"], room["holder"]) for room in status["rooms"]] == [
        ("alice", "waiting", None),
        ("bob", "waiting", None),
    ]
    assert status["workers"] == []
    code, _, err = await run_cli("fleet", "remove", "--redis", url, "@alice", "@nobody")
    assert code == 0 and "removed 1 room(s)" in err
    code, out, _ = await run_cli("fleet", "status", "--redis", url)
    assert code == 0 and "@bob" in out and "@alice" not in out and "waiting" in out
    code, out, _ = await run_cli("fleet", "status", "--redis", url, "--prefix", "other", "--json")
    assert [room["handle"] for room in json.loads(out)["rooms"]] == ["carol"]


@pytest.mark.fleet(hosts=3, speed=4.0)
async def test_an_unknown_handle_fails_alone_and_the_worker_serves_metrics(fleet: FleetHarness) -> None:
    port = free_port()
    await fleet.add([*fleet.sim.hosts, "nosuchhost"])
    worker = fleet.worker("w0", "--metrics", str(port), "--capacity", "10")

    async def settled() -> bool:
        rooms = await fleet.rooms()
        return rooms["nosuchhost"].state == "failed" and await fleet.complete()

    await wait_for(settled, 40, "the unknown handle to fail and the three rooms to be read")
    rooms = await fleet.rooms()
    assert "not found" in rooms["nosuchhost"].error and rooms["nosuchhost"].holder == ""
    assert {rooms[handle].holder for handle in fleet.sim.hosts} == {"w0"}
    await fleet.check_exactly_once()
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/metrics") as response:
        assert response.status == 200 and response.content_type == "text/plain"
        text = await response.text()
    for name in METRICS:
        assert f"\n{name}{{" in text or text.startswith(f"{name}{{"), name
    assert 'tiktok_live_fleet_rooms_held{worker="w0"} 3.0' in text
    assert 'tiktok_live_fleet_capacity{worker="w0"} 10.0' in text
    events = sum(room.events for room in rooms.values())
    assert f'tiktok_live_fleet_events_total{{worker="w0"}} {float(events)}' in text
    code, out, _ = await run_cli("fleet", "status", "--redis", fleet.redis_url, "--prefix", "test", "--json")
    status = json.loads(out)
    workers = [(w["name"], w["alive"], w["rooms"], w["capacity"], w["lease"]) for w in status["workers"]]
    assert workers == [("w0", True, 3, 10, 2.0)]
    failed = next(room for room in status["rooms"] if room["handle"] == "nosuchhost")
    assert failed["state"] == "failed" and "not found" in failed["error"]
    # Removing a room stops it on its worker within a round; adding the failed one again retries it.
    code, _, _ = await run_cli("fleet", "remove", "--redis", fleet.redis_url, "--prefix", "test", "@host00")
    assert code == 0

    async def dropped() -> bool:
        return "host00" not in (await fleet.rooms()) and await fleet.store.holder("host00") is None

    await wait_for(dropped, 10, "the worker to stop the removed room")
    assert worker.running


@pytest.mark.fleet(hosts=3, speed=20.0)
async def test_another_sink_gets_every_event_at_least_once(fleet: FleetHarness, tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    await fleet.add()
    fleet.worker("w0", "--to", str(out))

    def exported() -> set[tuple[str, str, str]]:
        lines = out.read_text().splitlines() if out.exists() else []
        return {(event["room_id"], event["msg_id"], event["type"]) for event in map(json.loads, lines)}

    async def complete() -> bool:
        return exported() >= fleet.expected()

    await wait_for(complete, 30, "every event in the file")
    assert not await fleet.store.redis.exists(STREAM)  # not the fleet's stream: an ordinary sink
    rooms = await fleet.rooms()
    assert sum(room.events for room in rooms.values()) >= len(fleet.expected())
