"""Recordings: the file format, client.replay() and a simulator serving a recording."""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path

import pytest

from tests.sdk.frames import fetch_result, msg_frame, wire
from tiktok_live import TikTokLiveClient
from tiktok_live.events import CommentEvent, GiftEvent, LiveEndEvent
from tiktok_live.jsonl import event_to_dict
from tiktok_live.recording import FORMAT, Recorder, RecordingError, SignRecord, read_recording
from tiktok_live.testing import Simulator, comment, end, gift_streak, recording_scenario

TIMEOUT = 20.0
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
