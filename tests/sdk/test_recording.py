"""Recordings: the file format, client.replay() and a simulator serving a recording."""

from __future__ import annotations

import asyncio
import gzip
import itertools
import json
import re
import time
import tracemalloc
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tiktok_live._runner
from tests.sdk.frames import fetch_result, msg_frame, wire
from tiktok_live import TikTokLiveClient
from tiktok_live.events import CommentEvent, GiftEvent, LiveEndEvent
from tiktok_live.jsonl import event_to_dict
from tiktok_live.recording import (
    DEFAULT_MAX_LINE_SIZE,
    FORMAT,
    MAX_GAP,
    Recorder,
    RecordingError,
    SignRecord,
    read_recording,
)
from tiktok_live.testing import Simulator, comment, end, gift_streak, recording_scenario

TIMEOUT = 20.0
MB = 1024 * 1024
EVENTS = (CommentEvent, GiftEvent, LiveEndEvent)


def _collect(client: TikTokLiveClient) -> list[dict[str, object]]:
    seen: list[dict[str, object]] = []
    for event_type in EVENTS:
        client.add_listener(event_type, lambda event: seen.append(event_to_dict(event, received_at=0)))
    return seen


async def _record(path: Path, *, keep_cookies: bool = False) -> list[dict[str, object]]:
    async with Simulator("streamer", ping_interval=0.05, ack_grace=0.5) as sim:
        sim.script(comment("alice", "hi"), *gift_streak("bob", repeats=2), end())
        with Recorder(path, unique_id="streamer", keep_cookies=keep_cookies) as recorder:
            client = sim.client(recorder=recorder)
            seen = _collect(client)
            await asyncio.wait_for(client.connect(), TIMEOUT)
    return seen


async def test_a_recording_holds_the_bundle_and_frames_both_ways(tmp_path: Path) -> None:
    path = tmp_path / "show.gz"
    await _record(path)
    recording = read_recording(path)
    assert recording.unique_id == "streamer" and recording.cookies_redacted and recording.room_id
    kinds = [type(record).__name__ for record in recording.records]
    assert kinds[0] == "SignRecord"
    directions = {getattr(record, "direction", None) for record in recording.records}
    assert {"in", "out"} <= directions
    header = json.loads(gzip.decompress(path.read_bytes()).splitlines()[0])
    assert header["format"] == FORMAT and header["version"] == 1
    sign = recording.records[0]
    assert isinstance(sign, SignRecord)
    assert all(value == "<redacted>" for value in sign.cookies.values())


async def test_keep_cookies_keeps_them(tmp_path: Path) -> None:
    path = tmp_path / "show.gz"
    await _record(path, keep_cookies=True)
    recording = read_recording(path)
    sign = recording.records[0]
    assert isinstance(sign, SignRecord)
    cookies = sign.cookies
    assert not recording.cookies_redacted and "ttwid" in cookies and cookies["ttwid"] != "<redacted>"


async def test_replay_gives_the_same_events_field_for_field(tmp_path: Path) -> None:
    path = tmp_path / "show.gz"
    live = await _record(path)
    client = TikTokLiveClient("streamer")
    replayed = _collect(client)
    await asyncio.wait_for(client.replay(path, speed=None), TIMEOUT)
    assert replayed == live
    assert [event["type"] for event in live][-1] == "LiveEndEvent"


async def test_replay_honours_speed(tmp_path: Path) -> None:
    path = tmp_path / "show.gz"
    await _record(path)
    client = TikTokLiveClient("streamer")
    with pytest.raises(ValueError, match="speed"):
        await client.replay(path, speed=0)


async def test_a_simulator_serves_a_recording(tmp_path: Path) -> None:
    path = tmp_path / "show.gz"
    live = await _record(path)
    async with Simulator("streamer", ping_interval=0.05) as sim:
        sim.use_scenario(recording_scenario(path))
        client = sim.client()
        served = _collect(client)
        await asyncio.wait_for(client.connect(), TIMEOUT)
    assert [event["data"] for event in served] == [event["data"] for event in live]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no recording"),
        (b"plain text", "not a readable gzip"),
        (gzip.compress(b'{"format": "other"}\n'), "is not a tiktok-live-recording"),
        (gzip.compress(b'{"format": "tiktok-live-recording", "version": 9}\n'), "version 9"),
        (gzip.compress(b'{"format": "tiktok-live-recording", "version": 1}\nnot json\n'), "line 2 is not JSON"),
        (
            gzip.compress(b'{"format": "tiktok-live-recording", "version": 1}\n{"kind": "frame", "dir": "up"}\n'),
            "direction",
        ),
    ],
)
def test_bad_recordings_raise_recording_error(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "bad.gz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(RecordingError, match=message):
        read_recording(path)


def test_a_served_recording_leaves_out_what_the_recorded_client_dropped(tmp_path: Path) -> None:
    """Regression: messages TikTok resent after a reconnect were served again (with the simulator's fresh ids, so
    no client could drop them); a recording is now read through a protocol session, as the client read it."""
    path = tmp_path / "resent.gz"
    history = [wire(comment("alice", "in the bundle"), 1)]
    first = [wire(comment("bob", "one"), 2), wire(comment("carol", "two"), 3)]
    again = [*history, *first, wire(comment("dave", "three"), 4)]  # the second socket resends recent messages
    with Recorder(path, unique_id="streamer") as recorder:
        recorder.sign(7, fetch_result(history, cursor="c-0"), {})
        recorder.frame("in", msg_frame(first, cursor="c-1", need_ack=True, log_id=1))
        recorder.frame("out", b"an ack")
        recorder.frame("in", b"\xff\xff garbage")
        recorder.sign(7, fetch_result(first, cursor="c-1"), {})
        recorder.frame("in", msg_frame(again, cursor="c-2", log_id=2))
        recorder.frame("in", msg_frame(first, cursor="c-2", log_id=3))  # nothing new: no step
    scenario = recording_scenario(path)
    assert [[spec.template for spec in step.messages] for step in scenario.steps] == [
        [first[0].payload, first[1].payload],
        [again[3].payload],
    ]
    assert {spec.method for step in scenario.steps for spec in step.messages} == {"WebcastChatMessage"}


# ── Hostile recordings: a RecordingError naming the line, bounded memory, bounded waits. ──────────────────────────

HEADER = b'{"format": "tiktok-live-recording", "version": 1, "created_at": 1700000000000, "unique_id": "x"}'
FRAME = b'{"kind": "frame", "t": 5, "dir": "in", "data": "AAAA"}'


def _gz(*lines: bytes) -> bytes:
    return gzip.compress(b"".join(line + b"\n" for line in lines), mtime=0)


def _invalid_deflate() -> bytes:
    data = bytearray(_gz(HEADER, FRAME))
    data[10] = 0x07  # the first deflate block claims the reserved block type: zlib.error, not OSError
    return bytes(data)


@pytest.mark.parametrize(
    ("content", "line"),
    [
        pytest.param(_invalid_deflate(), 1, id="corrupt-deflate"),
        pytest.param(_gz(HEADER, b"[" * 100_000), 2, id="nested-100000-deep"),
        pytest.param(_gz(HEADER, b'{"kind": "frame", "t": 1, "dir": "in", "data": "\xff\xfe"}'), 2, id="not-utf-8"),
        pytest.param(_gz(HEADER, b'{"kind": "frame", "t": ' + b"9" * 5000 + b', "dir": "in"}'), 2, id="t-5000-digits"),
        pytest.param(_gz(HEADER.replace(b"1700000000000", b'"yesterday"')), 1, id="created-at-yesterday"),
        pytest.param(_gz(HEADER.replace(b"1700000000000", b"9" * 5000)), 1, id="created-at-5000-digits"),
        pytest.param(_gz(HEADER, FRAME.replace(b'"t": 5', b'"t": 100000000000000')), 2, id="t-3000-years"),
        pytest.param(_gz(HEADER, FRAME.replace(b'"t": 5', b'"t": -1')), 2, id="t-negative"),
        pytest.param(_gz(HEADER, FRAME.replace(b'"t": 5', b'"t": NaN')), 2, id="t-nan"),
        pytest.param(_gz(HEADER, FRAME.replace(b'"t": 5', b'"t": 1e999')), 2, id="t-infinite"),
        pytest.param(_gz(HEADER, FRAME, FRAME.replace(b'"t": 5', b'"t": 4')), 3, id="t-goes-backwards"),
        pytest.param(_gz(HEADER, FRAME.replace(b'"data": "AAAA"', b'"data": ["AAAA"]')), 2, id="data-not-a-string"),
        pytest.param(
            _gz(HEADER, b'{"kind": "sign", "t": 0, "room_id": "\xc2\xb2", "body": ""}'), 2, id="room-id-superscript"
        ),
        pytest.param(
            _gz(HEADER, b'{"kind": "sign", "t": 0, "room_id": "%d", "body": ""}' % 2**70), 2, id="room-id-2-70"
        ),
        pytest.param(_gz(HEADER.replace(b'"version": 1', b'"version": true')), 1, id="version-true"),
    ],
)
def test_hostile_recordings_raise_recording_error_naming_the_line(tmp_path: Path, content: bytes, line: int) -> None:
    path = tmp_path / "hostile.gz"
    path.write_bytes(content)
    with pytest.raises(RecordingError, match=rf"\bline {line}\b"):
        read_recording(path)


def _endless_line(size: int) -> bytes:
    """A recording whose second line is ``size`` bytes long, gzipped without ever holding it (~1/1000 the size)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [compressor.compress(HEADER + b'\n{"kind": "frame", "t": 0, "dir": "in", "data": "')]
    block = b"A" * MB
    parts.extend(compressor.compress(block) for _ in range(size // MB))
    parts.append(compressor.compress(b'"}\n'))
    parts.append(compressor.flush())
    return b"".join(parts)


def test_an_endless_line_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    """The report's 2 MB file expanding to a 2 GiB line took 4.2 GB; a line is now read up to the limit only."""
    path = tmp_path / "endless.gz"
    path.write_bytes(_endless_line(8 * DEFAULT_MAX_LINE_SIZE))
    assert path.stat().st_size < DEFAULT_MAX_LINE_SIZE // 16
    tracemalloc.start()
    try:
        with pytest.raises(RecordingError, match=r"line 2 is longer than"):
            read_recording(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * DEFAULT_MAX_LINE_SIZE, f"peak {peak} bytes: the whole line was read"


async def test_the_line_limit_is_a_parameter(tmp_path: Path) -> None:
    path = tmp_path / "show.gz"
    await _record(path)
    longest = max(len(line) for line in gzip.decompress(path.read_bytes()).splitlines())
    assert read_recording(path, max_line_size=longest).records
    with pytest.raises(RecordingError, match="max_line_size"):
        read_recording(path, max_line_size=longest - 1)


def _shifted(source: Path, target: Path, after_line: int, shift_ms: int) -> None:
    """``source`` with every record after line ``after_line`` moved ``shift_ms`` later (a long silence)."""
    lines = gzip.decompress(source.read_bytes()).splitlines()
    out = []
    for number, raw in enumerate(lines, start=1):
        record = json.loads(raw)
        if number > after_line and "t" in record:
            record["t"] += shift_ms
        out.append(json.dumps(record).encode())
    target.write_bytes(_gz(*out))


async def test_long_silences_are_shortened_so_replay_never_waits_long(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gap of 10 hours between two records replays as MAX_GAP: nothing real is silent that long (heartbeats go
    out every few seconds), and "t": 100000000000000 used to make replay wait forever."""
    path, shifted = tmp_path / "show.gz", tmp_path / "shifted.gz"
    live = await _record(path)
    _shifted(path, shifted, after_line=4, shift_ms=10 * 3600 * 1000)
    original, recording = read_recording(path), read_recording(shifted)
    gaps = [b.t - a.t for a, b in itertools.pairwise(recording.records)]
    assert max(gaps) == MAX_GAP
    assert [record.t for record in recording.records[:3]] == [record.t for record in original.records[:3]]
    real_sleep = asyncio.sleep
    waits: list[float] = []
    clock = _ReplayClock()

    async def recorded_sleep(delay: float) -> None:  # replay's waits, taken at once on a fake clock
        waits.append(delay)
        clock.now += delay
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", recorded_sleep)
    monkeypatch.setattr(tiktok_live._runner, "time", clock)
    client = TikTokLiveClient("streamer")
    replayed = _collect(client)
    await asyncio.wait_for(client.replay(shifted, speed=1.0), TIMEOUT)
    assert replayed == live
    assert waits and max(waits) <= MAX_GAP / 1000 + 1e-6
    assert sum(waits) == pytest.approx(recording.records[-1].t / 1000, abs=1e-3)


class _ReplayClock:
    """Stands in for the ``time`` module in the client's runner: ``monotonic()`` moves only when replay sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def __getattr__(self, name: str) -> object:
        return getattr(time, name)


@pytest.fixture(scope="module")
def real_recording(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """One recording of a simulated LIVE, made once for the property test."""
    path = tmp_path_factory.mktemp("recording") / "show.gz"
    asyncio.run(_record(path))
    return path.read_bytes()


def _damage(data: bytes, edits: list[tuple[int, int]], cut: int | None, insert: tuple[int, bytes]) -> bytes:
    damaged = bytearray(data)
    for position, value in edits:
        damaged[position % len(damaged)] = value
    at, extra = insert
    damaged[at % (len(damaged) + 1) : at % (len(damaged) + 1)] = extra
    return bytes(damaged[:cut] if cut is not None else damaged)


_EDITS = st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=4)
_CUTS = st.none() | st.integers(min_value=0, max_value=4000)
_INSERTS = st.tuples(st.integers(min_value=0), st.binary(max_size=8))


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(compressed=st.booleans(), edits=_EDITS, cut=_CUTS, insert=_INSERTS)
def test_any_corruption_of_a_real_recording_gives_records_or_recording_error(
    real_recording: bytes,
    tmp_path_factory: pytest.TempPathFactory,
    compressed: bool,
    edits: list[tuple[int, int]],
    cut: int | None,
    insert: tuple[int, bytes],
) -> None:
    """Damage the gzip bytes, or the JSON Lines inside a valid gzip: never another exception than RecordingError."""
    if compressed:
        content = _damage(real_recording, edits, cut, insert)
    else:
        content = gzip.compress(_damage(gzip.decompress(real_recording), edits, cut, insert), mtime=0)
    path = tmp_path_factory.mktemp("damaged") / "show.gz"
    path.write_bytes(content)
    try:
        recording = read_recording(path)
    except RecordingError as error:
        assert re.search(r"\bline \d+\b|no recording|not a", str(error)), error
        return
    times = [record.t for record in recording.records]
    assert times == sorted(times) and all(0 <= t for t in times)
    assert all(later - earlier <= MAX_GAP for earlier, later in itertools.pairwise(times))
