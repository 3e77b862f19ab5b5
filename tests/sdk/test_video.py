"""Video recording against the simulator's FLV stream: what was saved is parsed back (a small FLV parser below)
and checked tag by tag — until the LIVE's end, for a duration, on cancel, across a dropped download, through a
SOCKS proxy, after a crash (a killed process), and with a stand-in ffmpeg for the MP4 remux."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
import struct
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.socks_proxy import socks_proxy
from tiktok_live import ReconnectPolicy, UserOfflineError, VideoError, VideoQualityError
from tiktok_live.events import CommentEvent
from tiktok_live.testing import Simulator, comment, end
from tiktok_live.testing._video import flv_header, flv_tag, media_tag
from tiktok_live.video import QUALITIES, FlvScanner, VideoProgress, VideoStop, flv_urls, pick_quality, segment_path

TIMEOUT = 20.0
FAST = ReconnectPolicy(base_delay=0.01, max_delay=0.05, max_attempts=2)


# ── a small FLV parser ───────────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Tag:
    kind: int
    timestamp: int
    data: bytes

    @property
    def step(self) -> int | None:
        """The simulator's step index carried by a media tag (None for script data)."""
        if self.kind == 18:
            return None
        at = self.data.index(b"SIM")
        return int.from_bytes(self.data[at + 3 : at + 11], "big")


def parse_flv(path: Path) -> list[Tag]:
    """Every tag of an FLV file; fails on anything structurally wrong (header, sizes, a truncated tag)."""
    raw = path.read_bytes()
    assert raw[:3] == b"FLV" and raw[3] == 1, raw[:9]
    offset = struct.unpack(">I", raw[5:9])[0]
    assert offset == 9 and struct.unpack(">I", raw[9:13])[0] == 0
    tags: list[Tag] = []
    at = 13
    while at < len(raw):
        assert at + 11 <= len(raw), f"truncated tag header at {at}"
        kind = raw[at] & 0x1F
        size = int.from_bytes(raw[at + 1 : at + 4], "big")
        timestamp = int.from_bytes(raw[at + 4 : at + 7], "big") | raw[at + 7] << 24
        assert kind in (8, 9, 18), f"tag type {kind} at {at}"
        end_of_data = at + 11 + size
        assert end_of_data + 4 <= len(raw), f"truncated tag at {at}"
        assert struct.unpack(">I", raw[end_of_data : end_of_data + 4])[0] == 11 + size, "bad previous-tag size"
        tags.append(Tag(kind, timestamp, raw[at + 11 : end_of_data]))
        at = end_of_data + 4
    return tags


def steps(path: Path) -> list[int]:
    """The simulator steps of a file's media tags, after checking it starts with onMetaData."""
    tags = parse_flv(path)
    assert tags[0].kind == 18 and b"onMetaData" in tags[0].data
    return [tag.step for tag in tags[1:] if tag.step is not None]


def names(folder: Path) -> list[str]:
    """The names in ``folder``, sorted."""
    return sorted(p.name for p in folder.iterdir())


def run_of(recorded: list[int], start: int, end: int) -> bool:
    """Whether ``recorded`` is a non-empty run of consecutive steps from ``start``, ending before ``end``. At a drop,
    aiohttp discards what it had received but not yet handed over, so a cut download may lose its last tags."""
    return bool(recorded) and recorded == list(range(start, start + len(recorded))) and start + len(recorded) <= end


def _sim(**video: object) -> Simulator:
    sim = Simulator(ping_interval=0.05, ack_grace=0.5, enter_room_timeout=1.0)
    sim.video.interval = 0.002
    sim.video.tag_size = 512
    for name, value in video.items():
        setattr(sim.video, name, value)
    return sim


# ── recording ────────────────────────────────────────────────────────────────────────────────────────────────


async def test_records_until_the_live_ends(tmp_path: Path) -> None:
    progress: list[VideoProgress] = []
    async with _sim(tags=40) as sim:
        client = sim.client()
        result = await asyncio.wait_for(
            client.record_video(tmp_path / "live.flv", on_progress=progress.append), TIMEOUT
        )
    assert result.stopped is VideoStop.LIVE_ENDED and result.quality == "origin"
    (segment,) = result.segments
    assert segment.path == tmp_path / "live.flv" and not segment.dropped
    assert steps(segment.path) == list(range(40))
    assert segment.size == segment.path.stat().st_size and segment.tags == 41
    assert segment.media_seconds == pytest.approx(39 * 0.02)
    assert names(tmp_path) == ["live.flv"]  # no .part left behind
    sizes = [p.size for p in progress]
    assert sizes == sorted(sizes) and sizes[-1] >= segment.size and progress[-1].segment == 1
    assert sim.video.requests == ["origin"]


async def test_a_dropped_download_resumes_into_the_next_segment(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="tiktok_live.video")
    async with _sim(tags=40, drop_after=10) as sim:
        client = sim.client(reconnect=FAST)
        result = await asyncio.wait_for(client.record_video(tmp_path / "live.flv", "hd"), TIMEOUT)
    first, second = result.segments
    assert (first.path.name, second.path.name) == ("live.flv", "live.002.flv")
    assert run_of(steps(first.path), 0, 10)  # the tag cut in half is not in the file
    assert steps(second.path) == list(range(10, 40))  # the next download starts at the live edge
    assert [s.dropped for s in result.segments] == [True, False] and result.resumes == 1
    assert result.stopped is VideoStop.LIVE_ENDED and sim.video.requests == ["hd", "hd"]
    assert result.size == sum(p.stat().st_size for p in (first.path, second.path))
    assert "resuming into live.002.flv" in caplog.text
    assert names(tmp_path) == ["live.002.flv", "live.flv"]


async def test_duration_stops_the_recording(tmp_path: Path) -> None:
    async with _sim() as sim:  # an endless LIVE
        result = await asyncio.wait_for(sim.client().record_video(tmp_path / "clip.flv", duration=0.3), TIMEOUT)
        assert not sim.offline
    assert result.stopped is VideoStop.DURATION
    (segment,) = result.segments
    recorded = steps(segment.path)
    assert recorded == list(range(recorded[0], recorded[0] + len(recorded))) and recorded


async def test_cancelling_finishes_the_file_and_propagates(tmp_path: Path) -> None:
    seen: list[int] = []
    async with _sim() as sim:
        task = asyncio.create_task(
            sim.client().record_video(tmp_path / "live.flv", on_progress=lambda p: seen.append(p.size))
        )
        async with asyncio.timeout(TIMEOUT):
            while not seen or seen[-1] < 20_000:  # noqa: ASYNC110 - waiting for the download to get going
                await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    recorded = steps(tmp_path / "live.flv")
    assert len(recorded) >= 20 and recorded == list(range(len(recorded)))
    assert names(tmp_path) == ["live.flv"]


async def test_a_download_that_keeps_failing_raises_with_what_was_saved(tmp_path: Path) -> None:
    async with _sim(drop_after=5, drops=None) as sim:
        with pytest.raises(VideoError) as raised:
            await asyncio.wait_for(sim.client(reconnect=FAST).record_video(tmp_path / "live.flv"), TIMEOUT)
    error = raised.value  # each download died early (5 tags): 3 in a row is over max_attempts=2
    assert error.retryable and "3 downloads in a row failed early" in str(error)
    recording = error.recording
    assert recording is not None and recording.stopped is None
    assert sim.video.downloads == 3
    assert 1 <= len(recording.segments) <= 3
    for number, segment in enumerate(recording.segments, 1):
        assert segment.path.name == ("live.flv" if number == 1 else f"live.{number:03d}.flv")
        recorded = steps(segment.path)
        assert recorded[0] % 5 == 0 and run_of(recorded, recorded[0], recorded[0] + 5)  # one download's steps


async def test_a_stream_that_never_delivers_gives_up_after_the_policy(tmp_path: Path) -> None:
    async with _sim(drop_after=0, drops=None) as sim:
        with pytest.raises(VideoError, match="3 downloads in a row failed early") as raised:
            await asyncio.wait_for(sim.client(reconnect=FAST).record_video(tmp_path / "live.flv"), TIMEOUT)
        assert sim.video.downloads == 3
    assert raised.value.recording is not None and raised.value.recording.segments == ()
    assert names(tmp_path) == []  # empty segments are not kept


async def test_an_answer_that_is_not_flv_is_a_video_error_keeping_what_was_saved(tmp_path: Path) -> None:
    from aiohttp import web

    async with _sim(drop_after=12) as sim:
        real = sim.video.handle

        async def blocked_after_the_first(simulator: Simulator, request: web.Request) -> web.StreamResponse:
            if sim.video.downloads == 0:
                return await real(simulator, request)
            return web.Response(text="<html>verify you are human</html>", content_type="text/html")

        sim.video.handle = blocked_after_the_first  # type: ignore[method-assign]
        with pytest.raises(VideoError, match="is not FLV") as raised:
            await asyncio.wait_for(sim.client(reconnect=FAST).record_video(tmp_path / "live.flv"), TIMEOUT)
    recording = raised.value.recording
    assert recording is not None and [s.path.name for s in recording.segments] == ["live.flv"]
    assert run_of(steps(tmp_path / "live.flv"), 0, 12) and names(tmp_path) == ["live.flv"]


async def test_a_failing_progress_callback_does_not_stop_the_recording(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(progress: VideoProgress) -> None:
        raise RuntimeError("callback bug")

    async with _sim(tags=20) as sim:
        result = await asyncio.wait_for(sim.client().record_video(tmp_path / "live.flv", on_progress=broken), TIMEOUT)
    assert steps(result.segments[0].path) == list(range(20))
    assert caplog.text.count("on_progress failed") == 1


async def test_qualities_are_chosen_by_name_and_unknown_ones_list_the_offered(tmp_path: Path) -> None:
    async with _sim(tags=3) as sim:
        client = sim.client()
        result = await asyncio.wait_for(client.record_video(tmp_path / "a.flv", "FULL_HD1"), TIMEOUT)
        assert result.quality == "uhd" and sim.video.requests == ["uhd"]
        sim.offline, sim.video.position = False, 0
        await asyncio.wait_for(client.record_video(tmp_path / "b.flv", "ao"), TIMEOUT)
        assert sim.video.requests[-1] == "ao"
        assert parse_flv(tmp_path / "b.flv")[1].kind == 8  # audio only
        sim.offline = False
        with pytest.raises(VideoQualityError) as raised:
            await asyncio.wait_for(client.record_video(tmp_path / "c.flv", "8k"), TIMEOUT)
    assert raised.value.offered == QUALITIES and raised.value.quality == "8k"
    assert "choose one of origin, uhd, hd, sd, ld, ao" in str(raised.value)
    assert isinstance(raised.value, ValueError)


async def test_origin_falls_back_to_the_best_offered(tmp_path: Path) -> None:
    async with _sim(tags=3, forms=("flv_pull_url",)) as sim:  # the old form only: no origin there
        result = await asyncio.wait_for(sim.client().record_video(tmp_path / "a.flv"), TIMEOUT)
        assert result.quality == "uhd" and sim.video.requests == ["uhd"]
        sim.offline, sim.video.qualities, sim.video.forms = False, ("sd", "ld"), ("stream_data",)
        result = await asyncio.wait_for(sim.client().record_video(tmp_path / "b.flv"), TIMEOUT)
        assert result.quality == "sd"


async def test_recording_alongside_the_event_connection(tmp_path: Path) -> None:
    async with _sim(tags=30) as sim:
        sim.script(comment("a", "one"), comment("b", "two"), end())
        client = sim.client()
        texts: list[str] = []
        client.add_listener(CommentEvent, lambda event: texts.append(event.comment))
        _, result = await asyncio.wait_for(
            asyncio.gather(client.connect(), client.record_video(tmp_path / "live.flv")), TIMEOUT
        )
    assert texts == ["one", "two"]
    assert steps(result.segments[0].path) == list(range(30))


async def test_the_video_goes_through_a_socks_proxy(tmp_path: Path) -> None:
    async with socks_proxy() as proxy, _sim(tags=5) as sim:
        result = await asyncio.wait_for(sim.client(proxy=proxy.url).record_video(tmp_path / "v.flv", "sd"), TIMEOUT)
    assert steps(result.segments[0].path) == list(range(5))
    assert any(line.startswith("GET /stream/stream-") and "_sd.flv" in line for line in proxy.requests), proxy.requests


async def test_an_offline_host_is_user_offline(tmp_path: Path) -> None:
    async with _sim() as sim:
        sim.offline = True
        with pytest.raises(UserOfflineError):
            await asyncio.wait_for(sim.client().record_video(tmp_path / "live.flv"), TIMEOUT)
    assert names(tmp_path) == []


async def test_bad_paths_and_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with _sim(tags=3) as sim:
        client = sim.client()
        (tmp_path / "taken.flv").write_bytes(b"mine")
        with pytest.raises(VideoError, match="already exists: choose another name, or pass overwrite=True"):
            await client.record_video(tmp_path / "taken.flv")
        assert (tmp_path / "taken.flv").read_bytes() == b"mine"
        result = await asyncio.wait_for(client.record_video(tmp_path / "taken.flv", overwrite=True), TIMEOUT)
        assert steps(result.segments[0].path) == [0, 1, 2]
        with pytest.raises(ValueError, match="the stream is FLV"):
            await client.record_video(tmp_path / "x.mp4")
        with pytest.raises(VideoError, match="does not exist"):
            await client.record_video(tmp_path / "missing" / "x.flv")
        with pytest.raises(ValueError, match="duration"):
            await client.record_video(tmp_path / "y.flv", duration=0)
        monkeypatch.setenv("PATH", str(tmp_path))  # no ffmpeg there
        with pytest.raises(VideoError, match="needs ffmpeg on PATH"):
            await client.record_video(tmp_path / "y.mp4", remux=True)


# ── remux (a stand-in ffmpeg on PATH: it checks its arguments and copies the input) ─────────────────────────


def _fake_ffmpeg(folder: Path, *, fail: bool = False) -> Path:
    log = folder / "ffmpeg-calls.jsonl"
    script = folder / "ffmpeg"
    script.write_text(
        textwrap.dedent(
            f"""\
            #!{sys.executable}
            import json, shutil, sys
            args = sys.argv[1:]
            with open({str(log)!r}, "a") as out:
                out.write(json.dumps(args) + "\\n")
            if {fail!r}:
                print("simulated failure: invalid data found", file=sys.stderr)
                sys.exit(1)
            source = args[args.index("-i") + 1]
            assert args[args.index("-c") + 1] == "copy" and args[args.index("-f") + 1] == "mp4"
            shutil.copyfile(source, args[-1])
            """
        )
    )
    script.chmod(0o755)
    return log


async def test_remux_copies_each_segment_into_mp4(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = _fake_ffmpeg(bin_dir)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "out"
    out.mkdir()
    async with _sim(tags=20, drop_after=8) as sim:
        result = await asyncio.wait_for(sim.client(reconnect=FAST).record_video(out / "live.mp4", remux=True), TIMEOUT)
    assert [s.path.name for s in result.segments] == ["live.mp4", "live.002.mp4"]
    assert names(out) == ["live.002.mp4", "live.mp4"]  # the FLVs are gone
    assert run_of(steps(out / "live.mp4"), 0, 8)  # the stand-in copied the FLV bytes
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert [Path(call[call.index("-i") + 1]).name for call in calls] == ["live.flv", "live.002.flv"]


async def test_a_failing_remux_keeps_the_flv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_ffmpeg(bin_dir, fail=True)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    async with _sim(tags=5) as sim:
        result = await asyncio.wait_for(sim.client().record_video(tmp_path / "live.flv", remux=True), TIMEOUT)
    assert [s.path.name for s in result.segments] == ["live.flv"]
    assert steps(tmp_path / "live.flv") == list(range(5))
    assert "ffmpeg could not remux live.flv (exit 1: simulated failure: invalid data found)" in caplog.text


# ── a crash ──────────────────────────────────────────────────────────────────────────────────────────────────


async def test_a_killed_recorder_leaves_only_a_part_file(tmp_path: Path) -> None:
    async with _sim() as sim:  # an endless LIVE
        code = textwrap.dedent(
            f"""
            import asyncio
            from tiktok_live import TikTokLiveClient
            url = {sim.url!r}
            client = TikTokLiveClient("@simulator", web_url=url, webcast_url=url, sign_url=url)
            asyncio.run(client.record_video({str(tmp_path / "live.flv")!r}))
            """
        )
        process = await asyncio.create_subprocess_exec(sys.executable, "-c", code)
        part = tmp_path / "live.flv.part"
        try:
            async with asyncio.timeout(TIMEOUT):
                while not part.exists() or part.stat().st_size < 20_000:  # noqa: ASYNC110 - a file to wait on
                    await asyncio.sleep(0.02)
        finally:
            process.send_signal(signal.SIGKILL)
            await process.wait()
    assert not (tmp_path / "live.flv").exists()  # nothing looks complete
    assert names(tmp_path) == ["live.flv.part"]


# ── units: the URL parser and the FLV scanner ───────────────────────────────────────────────────────────────


def test_flv_urls_reads_both_forms_best_first() -> None:
    stream_data = {
        "data": {
            "sd": {"main": {"flv": "https://cdn.test/sd.flv", "hls": "https://cdn.test/sd.m3u8"}},
            "origin": {"main": {"flv": "https://cdn.test/or.flv"}},
            "weird": {"main": {"flv": "javascript:alert(1)"}},
            "ao": {"main": {}},
        }
    }
    data = {
        "stream_url": {
            "flv_pull_url": {"SD1": "https://legacy.test/sd.flv", "HD1": "https://legacy.test/hd.flv", "X": 5},
            "live_core_sdk_data": {"pull_data": {"stream_data": json.dumps(stream_data)}},
        }
    }
    assert flv_urls(data) == {
        "origin": "https://cdn.test/or.flv",
        "hd": "https://legacy.test/hd.flv",
        "sd": "https://cdn.test/sd.flv",  # stream_data wins over the old form
    }
    assert flv_urls({"stream_url": {"flv_pull_url": {"FULL_HD1": "http://a.test/x.flv"}}}) == {
        "uhd": "http://a.test/x.flv"
    }
    broken = {"stream_url": {"live_core_sdk_data": {"pull_data": {"stream_data": "{not json"}}}}
    assert flv_urls(broken) == {} and flv_urls({}) == {} and flv_urls({"stream_url": "nope"}) == {}
    as_object = {"stream_url": {"live_core_sdk_data": {"pull_data": {"stream_data": stream_data}}}}
    assert list(flv_urls(as_object)) == ["origin", "sd"]


def test_pick_quality() -> None:
    urls = {"uhd": "https://a.test/u.flv", "sd": "https://a.test/s.flv", "ao": "https://a.test/a.flv"}
    assert pick_quality(urls, "SD1") == ("sd", "https://a.test/s.flv")
    assert pick_quality(urls, "origin") == ("uhd", "https://a.test/u.flv")
    assert pick_quality({"ao": "https://a.test/a.flv"}, "origin") == ("ao", "https://a.test/a.flv")
    with pytest.raises(VideoQualityError, match="choose one of uhd, sd, ao"):
        pick_quality(urls, "hd")
    with pytest.raises(VideoError, match="names no FLV stream"):
        pick_quality({}, "origin")


def test_the_scanner_finds_whole_tags_across_any_chunking() -> None:
    body = [media_tag(step, 40 + step) for step in range(12)]
    stream = flv_header() + flv_tag(18, 0, b"\x02\x00\x0aonMetaData") + b"".join(body)
    boundaries = {0, 13}
    at = 13 + 11 + 13 + 4
    boundaries.add(at)
    for tag in body:
        at += len(tag)
        boundaries.add(at)
    rng = random.Random(7)
    for _ in range(50):
        scanner = FlvScanner()
        index = 0
        while index < len(stream):
            size = rng.randint(1, 30)
            scanner.feed(stream[index : index + size])
            index += size
            assert scanner.complete in boundaries and scanner.complete <= min(index, len(stream))
            assert max(b for b in boundaries if b <= index) == scanner.complete
        assert scanner.tags == 13 and scanner.size == len(stream) and scanner.complete == len(stream)
        assert scanner.media_seconds == pytest.approx(11 * 0.02)


def test_the_scanner_refuses_what_is_not_flv() -> None:
    with pytest.raises(ValueError, match="not an FLV stream"):
        FlvScanner().feed(b"<html><body>captcha</body></html>")
    scanner = FlvScanner()
    scanner.feed(b"FL")  # too short to tell yet
    assert scanner.complete == 0


def test_segment_names() -> None:
    assert segment_path(Path("/x/live.flv"), 1) == Path("/x/live.flv")
    assert segment_path(Path("/x/live.flv"), 2) == Path("/x/live.002.flv")
    assert segment_path(Path("/x/live"), 12) == Path("/x/live.012")
