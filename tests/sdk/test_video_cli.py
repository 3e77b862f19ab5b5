"""`tiktok-live video`, run as a subprocess against the simulator: the file, the report, exit codes, Ctrl-C, and
the progress line on a real terminal (a pseudo-terminal)."""

from __future__ import annotations

import asyncio
import io
import os
import pty
import re
import signal
import sys
from pathlib import Path

from tests.sdk.test_cli import ENV, TIMEOUT, _origins, _run
from tests.sdk.test_video import names, steps
from tiktok_live.cli._video import ProgressLine, format_size
from tiktok_live.testing import Simulator
from tiktok_live.video import VideoProgress


def _sim(**video: object) -> Simulator:
    sim = Simulator()
    sim.video.interval = 0.005
    for name, value in video.items():
        setattr(sim.video, name, value)
    return sim


async def _start(sim: Simulator, file: Path, *, env: dict[str, str], **streams: int) -> asyncio.subprocess.Process:
    """``tiktok-live video @simulator FILE`` against ``sim``, running."""
    command = (sys.executable, "-m", "tiktok_live", "video", "@simulator", str(file), *_origins(sim))
    return await asyncio.create_subprocess_exec(*command, env=env, **streams)  # type: ignore[arg-type]


async def test_video_records_until_the_live_ends_and_reports_the_file(tmp_path: Path) -> None:
    async with _sim(tags=30) as sim:
        code, out, err = await _run(
            "video", "@simulator", str(tmp_path / "live.flv"), "--quality", "sd", *_origins(sim)
        )
        assert sim.video.requests == ["sd"]
    assert code == 0 and out == "", err
    assert steps(tmp_path / "live.flv") == list(range(30))
    assert "saved " in err and "of sd video" in err and "(live ended)" in err and "live.flv" in err
    assert "summary:" not in err and "\r" not in err  # not a terminal: no progress line


async def test_an_unknown_quality_exits_2_with_the_offered_ones(tmp_path: Path) -> None:
    async with _sim(tags=5) as sim:
        code, _, err = await _run("video", "@simulator", str(tmp_path / "x.flv"), "--quality", "8k", *_origins(sim))
    assert code == 2
    assert "choose one of origin, uhd, hd, sd, ld, ao" in err and "usage:" in err
    assert names(tmp_path) == []


async def test_bad_durations_are_usage_errors(tmp_path: Path) -> None:
    code, _, err = await _run("video", "@simulator", str(tmp_path / "x.flv"), "--duration", "-3")
    assert code == 2 and "positive number of seconds" in err


async def test_ctrl_c_finishes_the_file_and_exits_130(tmp_path: Path) -> None:
    async with _sim() as sim:  # an endless LIVE
        process = await _start(sim, tmp_path / "live.flv", env=ENV, stderr=asyncio.subprocess.PIPE)
        part = tmp_path / "live.flv.part"
        async with asyncio.timeout(TIMEOUT):
            while not part.exists() or part.stat().st_size < 10_000:  # noqa: ASYNC110 - a file to wait on
                await asyncio.sleep(0.02)
        process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), TIMEOUT)
    assert process.returncode == 130
    assert "stopped: saved" in stderr.decode() and "Traceback" not in stderr.decode()
    assert names(tmp_path) == ["live.flv"]
    recorded = steps(tmp_path / "live.flv")
    assert recorded == list(range(len(recorded))) and len(recorded) >= 10


async def test_the_progress_line_on_a_terminal(tmp_path: Path) -> None:
    env = {key: value for key, value in ENV.items() if key != "NO_COLOR"}
    leader, follower = pty.openpty()
    async with _sim(tags=300) as sim:  # ~1.5 s of LIVE: a few redraws
        process = await _start(sim, tmp_path / "live.flv", env=env, stdout=asyncio.subprocess.DEVNULL, stderr=follower)
        os.close(follower)
        screen = bytearray()
        loop = asyncio.get_running_loop()

        def read() -> bytes:
            try:
                return os.read(leader, 65536)
            except OSError:  # the terminal closed: the process is gone
                return b""

        async with asyncio.timeout(TIMEOUT):
            while chunk := await loop.run_in_executor(None, read):
                screen += chunk
            await process.wait()
        os.close(leader)
    text = screen.decode()
    assert process.returncode == 0, text
    assert re.search(r"\r\x1b\[2Krecording [\d.]+ (B|KiB|MiB)  [\d.]+ (B|KiB|MiB)/s  00:00:0\d", text), text
    assert "saved " in text and "(live ended)" in text


def test_progress_text_and_sizes() -> None:
    progress = VideoProgress(size=3 * 1024 * 1024, elapsed=83.0, segment=2, media_seconds=80.0)
    assert ProgressLine.text(progress) == "recording 3.0 MiB  37.0 KiB/s  00:01:23  segment 2"
    assert [format_size(n) for n in (5, 2048, 5 * 1024**3)] == ["5 B", "2.0 KiB", "5.00 GiB"]
    quiet = io.StringIO()
    line = ProgressLine(quiet, enabled=False)
    line.update(progress)
    line.clear()
    assert quiet.getvalue() == "" and line.last is progress
