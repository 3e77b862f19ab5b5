"""The `tiktok-live` command, run as a subprocess against the embedded simulator (no network)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest

from tiktok_live.testing import Simulator, comment, end, gift, gift_streak, like

TIMEOUT = 60.0
ENV = {**os.environ, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}
ENV.pop("SIGN_API_KEY", None)


async def _run(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tiktok_live",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=ENV,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), TIMEOUT)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


def _origins(sim: Simulator) -> list[str]:
    return ["--web-url", sim.url, "--webcast-url", sim.url, "--sign-url", sim.url]


async def test_demo_shows_a_scripted_live_and_exits_0() -> None:
    code, out, err = await _run("demo", "--speed", "40")
    assert code == 0, err
    assert "tiktok-live demo" in err and "summary:" in err
    assert "comment" in out and "gift" in out and "the LIVE ended" in out
    assert "\033[" not in out  # piped: no colour


async def test_watch_json_lines_match_the_events_sent() -> None:
    async with Simulator("streamer", ping_interval=0.2) as sim:
        sim.script(comment("alice", "hi"), like("bob", 3, 3), *gift_streak("carol", repeats=2), gift("dan"), end())
        code, out, err = await _run("watch", "@streamer", "--json", "--events", "comment,GIFT", *_origins(sim))
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["type"] for line in lines] == ["CommentEvent"] + ["GiftEvent"] * 4
    first = lines[0]
    assert first["v"] == 1 and first["method"] == "WebcastChatMessage" and first["room_id"] == str(sim.room_id)
    assert first["data"]["content"] == "hi" and first["data"]["user"]["unique_id"] == "alice"
    assert first["msg_id"].isdigit() and isinstance(first["create_time"], int) and first["received_at"] > 0
    assert [line["derived"]["streaking"] for line in lines[1:]] == [True, True, False, False]
    assert [line["derived"]["diamonds"] for line in lines[1:]] == [None, None, 2, 1]
    assert "summary:" in err


async def test_watch_readable_lines_with_the_simulator_flag() -> None:
    code, out, err = await _run(
        "watch", "@someone", "--simulator", "--simulator-speed", "30", "--events", "comment,like,live_end"
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines and all(any(tag in line for tag in ("comment", "like", "liveend")) for line in lines)
    assert lines[-1].endswith("the LIVE ended")


async def test_record_then_replay_gives_the_same_events(tmp_path: Path) -> None:
    recording = tmp_path / "show.jsonl.gz"
    async with Simulator("streamer", ping_interval=0.2) as sim:
        sim.script(comment("alice", "hi"), *gift_streak("carol", repeats=3), like("bob", 2, 2), end())
        code, live, err = await _run("record", "@streamer", str(recording), "--json", *_origins(sim))
    assert code == 0, err
    assert "cookies redacted" in err
    code, replayed, err = await _run("replay", str(recording), "--as-fast-as-possible", "--json")
    assert code == 0, err

    def strip(text: str) -> list[dict[str, object]]:
        return [{k: v for k, v in json.loads(line).items() if k != "received_at"} for line in text.splitlines()]

    assert strip(replayed) == strip(live)
    assert any(line["type"] == "CommentEvent" for line in strip(live))


async def test_events_lists_every_event_and_shows_fields() -> None:
    code, out, _ = await _run("events")
    assert code == 0
    assert "CommentEvent" in out and "WebcastChatMessage" in out and "FollowEvent" in out
    assert len(out.splitlines()) >= 230
    code, out, _ = await _run("events", "room_user_seq")
    assert code == 0 and out.startswith("RoomUserSeqEvent")
    assert "total_user" in out and "viewer_count" in out


@pytest.mark.parametrize(
    "args", [("events", "no_such_event"), ("watch",), ("frobnicate",), ("watch", "@a", "--events", "nope")]
)
async def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    code, _, err = await _run(*args)
    assert code == 2
    assert "usage:" in err


@pytest.mark.parametrize(
    ("options", "code", "message"),
    [
        ({"offline": True}, 3, "not live"),
        ({"sign_status": 401}, 4, "SIGN_API_KEY"),
        ({"sign_status": 429, "sign_retry_after": 999.0}, 4, "rate-limited"),
    ],
)
async def test_failures_exit_with_their_code_and_a_one_line_hint(
    options: dict[str, object], code: int, message: str
) -> None:
    async with Simulator("streamer", **options) as sim:  # type: ignore[arg-type]
        status, _, err = await _run("watch", "@streamer", *_origins(sim))
    assert status == code, err
    assert message in err
    assert "Traceback" not in err


async def test_unreachable_host_exits_5() -> None:
    code, _, err = await _run("watch", "@x", "--web-url", "http://127.0.0.1:9", "--webcast-url", "http://127.0.0.1:9")
    assert code == 5, err
    assert "Traceback" not in err


async def test_bad_recording_exits_2(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.gz"
    bogus.write_bytes(b"not gzip")
    code, _, err = await _run("replay", str(bogus))
    assert code == 2
    assert "recording" in err


async def test_ctrl_c_exits_130_with_a_summary() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tiktok_live",
        "watch",
        "@someone",
        "--simulator",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=ENV,
    )
    assert process.stdout is not None
    await asyncio.wait_for(process.stdout.readline(), TIMEOUT)  # connected and printing
    process.send_signal(signal.SIGINT)
    _, stderr = await asyncio.wait_for(process.communicate(), TIMEOUT)
    assert process.returncode == 130
    assert "summary:" in stderr.decode()
    assert "Traceback" not in stderr.decode()


async def test_a_closed_stdout_stops_the_command_quietly() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tiktok_live",
        "watch",
        "@someone",
        "--simulator",
        "--simulator-speed",
        "0.2",  # a ~100 s show: only the closed pipe can end it within the timeout
        "--json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=ENV,
    )
    assert process.stdout is not None and process.stderr is not None
    await asyncio.wait_for(process.stdout.readline(), TIMEOUT)
    process.stdout.feed_eof()
    transport = process._transport  # type: ignore[attr-defined]
    transport.get_pipe_transport(1).close()  # like `| head -1`: the reader goes away
    stderr = await asyncio.wait_for(process.stderr.read(), 30)
    await asyncio.wait_for(process.wait(), 30)
    assert process.returncode == 0
    assert b"Traceback" not in stderr
