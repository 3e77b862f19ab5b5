"""Fault knobs: each one produces exactly the misbehaviour it promises, and nothing else breaks."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.testing.conftest import FAST, UA, RawClient, Received, enter_room_frame, within
from tiktok_live._base import UnknownEvent
from tiktok_live._protocol import decode_push_frame, frame_header, frame_payload
from tiktok_live.errors import FrameDecodeError
from tiktok_live.events import CommentEvent
from tiktok_live.protocol import Session
from tiktok_live.testing import GARBAGE_FRAME, UNKNOWN_METHOD, Faults, Simulator, comment, frame

WORDS = ["one", "two", "three", "four", "five"]


async def play(session: aiohttp.ClientSession, faults: Faults, **options: object) -> tuple[Simulator, Received]:
    """Play the five-comment script with ``faults`` to one dutiful raw client."""
    async with Simulator(faults=faults, **{**FAST, **options}) as sim:  # type: ignore[arg-type]
        sim.script(*(comment("alice", word) for word in WORDS))
        received = await within(RawClient(session, sim).run())
        await within(sim.wait_idle())
    return sim, received


async def test_drop_without_close_frame(session: aiohttp.ClientSession) -> None:
    sim, received = await play(session, Faults(drop_after=2))
    assert received.texts == WORDS[:2]
    assert received.close_code == 1006  # no close frame: aiohttp reports an abnormal closure
    assert sim.violations == []  # the server dropped it: no duty is blamed on the client


@pytest.mark.parametrize("code", [1011, 4000])
async def test_drop_with_close_code(session: aiohttp.ClientSession, code: int) -> None:
    sim, received = await play(session, Faults(drop_after=3, drop_code=code))
    assert received.texts == WORDS[:3]
    assert received.close_code == code
    assert sim.violations == []


async def test_silent_after(session: aiohttp.ClientSession) -> None:
    async with Simulator(faults=Faults(silent_after=2), **FAST) as sim:
        sim.script(*(comment("alice", word) for word in WORDS))
        result, _ = await within(RawClient(session, sim).sign())
        params = RawClient(session, sim).ws_params(result)
        async with session.ws_connect(result.push_server, params=params, headers={"User-Agent": UA}) as ws:
            await ws.send_bytes(enter_room_frame(sim.room_id))
            reader = Session()
            types = [reader.receive((await within(ws.receive())).data).payload_type for _ in range(3)]
            assert types == ["im_enter_room_resp", "msg", "msg"]
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(ws.receive(), 0.3)  # nothing more: no frame, no close
            assert not ws.closed


async def test_garbage_frame(session: aiohttp.ClientSession) -> None:
    sim, received = await play(session, Faults(garbage_frame_at=1))
    assert received.unreadable == [GARBAGE_FRAME]
    (error,) = [result.error for result in received.results if result.error is not None]
    assert "not a push frame" in str(error)
    assert received.texts == WORDS
    assert received.close_code == 1000
    assert sim.violations == []


async def test_truncated_gzip_frame(session: aiohttp.ClientSession) -> None:
    sim, received = await play(session, Faults(truncated_gzip_at=2))
    (data,) = received.unreadable
    (error,) = [result.error for result in received.results if result.error is not None]
    assert "truncated" in str(error)
    broken = decode_push_frame(data)  # the frame itself is whole; its gzip payload is cut
    assert broken.payload_type == "msg"
    assert frame_header(broken, "compress_type") == "gzip"
    with pytest.raises(FrameDecodeError, match="truncated"):
        frame_payload(broken)
    assert received.texts == WORDS  # the real frame for step 2 follows it
    assert sim.violations == []  # no ack is expected for a frame the client cannot read


async def test_corrupt_message(session: aiohttp.ClientSession) -> None:
    async with Simulator(faults=Faults(corrupt_message_at=0, corrupt_index=1), **FAST) as sim:
        sim.script(frame(comment("a", "fine"), comment("b", "broken"), comment("c", "fine too")))
        received = await within(RawClient(session, sim).run())
    events = received.events
    assert [type(e).__name__ for e in events] == ["CommentEvent", "UnknownEvent", "CommentEvent"]
    unknown = events[1]
    assert isinstance(unknown, UnknownEvent)
    assert unknown.method == "WebcastChatMessage"
    assert unknown.decode_error is not None and unknown.msg_id


async def test_unknown_method(session: aiohttp.ClientSession) -> None:
    sim, received = await play(session, Faults(unknown_method_at=3))
    batch = received.batches[3]
    assert [type(event) for event in batch.events] == [CommentEvent, UnknownEvent]
    event = batch.events[1]
    assert isinstance(event, UnknownEvent) and event.method == UNKNOWN_METHOD
    assert event.decode_error is None and event.msg_id
    assert received.texts == WORDS
    assert sim.violations == []


async def test_duplicate_msg_ids(session: aiohttp.ClientSession) -> None:
    sim, received = await play(session, Faults(duplicate_msg_ids_at=1))
    assert received.texts == WORDS  # the session dropped the second copy
    first, again = received.batches[1], received.batches[2]
    assert (first.messages, first.duplicates, again.messages, again.duplicates) == (1, 0, 1, 1)
    assert again.events == () and first.ack is not None and again.ack is not None
    msg_frames = [f for f in received.frames if f.payload_type == "msg"]
    assert msg_frames[1].log_id != msg_frames[2].log_id
    assert sim.violations == []  # both frames were acked


async def test_faults_on_the_first_connection_only_and_resume(session: aiohttp.ClientSession) -> None:
    async with Simulator(faults=Faults(drop_after=2, first_connections=1), **FAST) as sim:
        sim.script(*(comment("alice", word) for word in WORDS))
        client = RawClient(session, sim)
        first = await within(client.run())
        cursor = first.session.cursor
        result, _ = await within(client.sign(cursor=cursor))
        second = await within(client.run(result, session=first.session, cursor=cursor))
        await within(sim.wait_idle())
    assert first.close_code == 1006
    assert second.close_code == 1000
    assert first.texts + second.texts == WORDS  # every scripted message exactly once
    assert sim.violations == []


async def test_faults_on_every_connection(session: aiohttp.ClientSession) -> None:
    async with Simulator(faults=Faults(drop_after=2, drop_code=1011), **FAST) as sim:
        sim.script(*(comment("alice", word) for word in WORDS))
        client = RawClient(session, sim)
        seen: list[str] = []
        reader = Session()
        for _ in range(3):
            cursor = reader.cursor
            result, _ = await within(client.sign(cursor=cursor))
            extra = {"cursor": cursor} if cursor else {}
            received = await within(client.run(result, session=reader, **extra))
            seen += received.texts
    assert seen == WORDS
    assert received.close_code == 1000  # the last connection ran out of script: a normal end


def test_faults_apply_to() -> None:
    assert Faults().applies_to(7)
    assert Faults(first_connections=2).applies_to(2)
    assert not Faults(first_connections=2).applies_to(3)
