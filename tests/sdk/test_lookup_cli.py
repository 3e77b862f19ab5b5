"""`tiktok-live info`, `tiktok-live gifts` and `watch --wait / --follow`, run as subprocesses against the
simulator (no network)."""

from __future__ import annotations

import asyncio
import json
import signal
import sys

import pytest

from tests.sdk.test_cli import ENV, TIMEOUT, _origins, _run
from tiktok_live.testing import GIFT_CATALOGUE, Simulator, comment, end


async def _start(*args: str) -> asyncio.subprocess.Process:
    """The command running, its stdout and stderr piped (for a test that reads as it goes)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tiktok_live",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=ENV,
    )


async def test_info_prints_the_room_and_its_stream_urls() -> None:
    async with Simulator("streamer", title="Cooking 🍳") as sim:
        code, out, err = await _run("info", "@streamer", *_origins(sim))
        hd_flv = sim.video.url(sim.url, sim.room_id, "hd")
        assert not sim.sign_requests and sim.connections == 0
    assert code == 0, err
    assert "is LIVE: 'Cooking 🍳'" in out and f"room       {sim.room_id}" in out
    assert "qualities  origin, uhd, hd, sd, ld, ao" in out and f"flv  {hd_flv}" in out
    assert "hd (HD1, 1280x720, 2.0 Mb/s)" in out
    assert "summary:" not in err  # a lookup streams no events


async def test_info_json() -> None:
    async with Simulator("streamer") as sim:
        code, out, err = await _run("info", "streamer", "--json", *_origins(sim))
    assert code == 0, err
    document = json.loads(out)
    assert document["unique_id"] == "streamer" and document["live"] is True
    room = document["room"]
    assert room["room_id"] == str(sim.room_id) and room["owner"]["unique_id"] == "streamer"
    assert list(room["stream_urls"]) == ["origin", "uhd", "hd", "sd", "ld", "ao"]
    assert room["stream_urls"]["uhd"]["legacy_name"] == "FULL_HD1"


async def test_info_of_an_offline_host_exits_3() -> None:
    async with Simulator("streamer", offline=True) as sim:
        code, out, err = await _run("info", "@streamer", *_origins(sim))
        assert (code, out) == (3, "@streamer is not live right now\n"), err
        code, out, err = await _run("info", "@streamer", "--json", *_origins(sim))
        assert code == 3 and json.loads(out) == {"unique_id": "streamer", "live": False, "room": None}
        code, out, err = await _run("info", "@nobody", *_origins(sim))
        assert code == 3 and "check the spelling" in err and out == ""


async def test_gifts_lists_the_catalogue() -> None:
    async with Simulator("streamer") as sim:
        code, out, err = await _run("gifts", "@streamer", *_origins(sim))
        assert code == 0, err
        lines = out.splitlines()
        assert lines[0].split() == ["id", "diamonds", "streak", "panel", "name"]
        assert lines[-1] == f"{len(GIFT_CATALOGUE) + 1} gifts"
        assert "29,999  no      yes    Lion" in out and "1  yes     no     GG" in out
        code, out, err = await _run("gifts", "@streamer", "--json", *_origins(sim))
    assert code == 0, err
    gifts = json.loads(out)["gifts"]
    assert {gift["name"] for gift in gifts} >= {"Rose", "Lion", "Universe"}


async def test_gifts_with_a_failing_catalogue_exits_5_with_a_hint() -> None:
    async with Simulator("streamer", gift_list_status=503) as sim:
        code, out, err = await _run("gifts", "@streamer", *_origins(sim))
    assert code == 5 and out == "" and "503" in err and "retry later" in err


async def test_watch_wait_connects_when_the_host_goes_live() -> None:
    async with Simulator("streamer", ping_interval=0.2, offline=True, relive_after=2) as sim:
        sim.script(comment("alice", "finally"), end())
        code, out, err = await _run("watch", "@streamer", "--wait", "--poll-interval", "0.05", "--json", *_origins(sim))
        assert code == 0, err
        assert "waiting for @streamer to go live" in err
        types = [json.loads(line)["type"] for line in out.splitlines()]
        assert "CommentEvent" in types and types.count("ConnectEvent") == 1 and sim.lives == [sim.room_id]


async def test_watch_follow_sees_every_live_until_ctrl_c() -> None:
    async with Simulator("streamer", ping_interval=0.2, offline=True, relive_after=1, max_lives=2) as sim:
        sim.script(comment("alice", "hi"), end())
        process = await _start(
            "watch", "@streamer", "--follow", "--poll-interval", "0.05", "--json", "--events", "all", *_origins(sim)
        )
        assert process.stdout is not None and process.stderr is not None
        seen: list[dict[str, object]] = []
        async with asyncio.timeout(TIMEOUT):
            while sum(line["type"] == "LiveEndEvent" for line in seen) < 2:
                raw = await process.stdout.readline()
                assert raw, (await process.stderr.read()).decode()
                seen.append(json.loads(raw))
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), TIMEOUT)
        assert process.returncode == 130
        connects = [line["room_id"] for line in seen if line["type"] == "ConnectEvent"]
        assert connects == [str(room) for room in sim.lives] and len(set(connects)) == 2
        comments = [line["msg_id"] for line in seen if line["type"] == "CommentEvent"]
        assert len(comments) == len(set(comments)) == 2


@pytest.mark.parametrize("value", ["0", "-3", "soon", "90000"])
async def test_a_bad_poll_interval_is_a_usage_error(value: str) -> None:
    code, _, err = await _run("watch", "@streamer", "--wait", "--poll-interval", value)
    assert code == 2 and "--poll-interval" in err
