"""The push WebSocket: handshake, frames, and the client-duty checks (protocol.md §4-§6).

Frames are read with :class:`tiktok_live.protocol.Session`; frame functions appear only where a test checks the
simulator's frame layout itself.
"""

from __future__ import annotations

import asyncio
import gzip

import aiohttp
import pytest

from tests.support import wait_for_condition
from tests.testing.conftest import (
    FAST,
    UA,
    RawClient,
    ack_frame,
    enter_room_frame,
    heartbeat_frame,
    within,
)
from tiktok_live._generated.pb import transport_pb2
from tiktok_live._protocol import decode_fetch_result, frame_header, frame_payload
from tiktok_live.events import CommentEvent, ControlEvent, GiftEvent, LikeEvent, LiveEndEvent
from tiktok_live.protocol import Session
from tiktok_live.testing import Simulator, comment, end, frame, gift_streak, like


async def connect_expecting_rejection(
    session: aiohttp.ClientSession, url: str, params: dict[str, str], headers: dict[str, str]
) -> aiohttp.WSServerHandshakeError:
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await within(session.ws_connect(url, params=params, headers=headers))
    return caught.value


# ── handshake ────────────────────────────────────────────────────────────────────────────────────────────────


async def test_missing_user_agent_is_device_blocked(raw: RawClient, sim: Simulator) -> None:
    result, _ = await within(raw.sign())
    async with aiohttp.ClientSession(skip_auto_headers=["User-Agent"]) as bare:
        error = await connect_expecting_rejection(bare, result.push_server, raw.ws_params(result), {})
    assert error.status == 200  # not 101: TikTok's way of refusing
    assert error.headers is not None
    assert error.headers["handshake-status"] == "415"
    assert error.headers["handshake-msg"] == "DEVICE_BLOCKED"
    assert [(r.status, r.message) for r in sim.rejections] == [(415, "DEVICE_BLOCKED")]
    assert sim.connections == 0


async def test_missing_token_is_illegal_secret_key(raw: RawClient, session: aiohttp.ClientSession) -> None:
    result, _ = await within(raw.sign())
    params = {"room_id": str(raw.sim.room_id)}
    error = await connect_expecting_rejection(session, result.push_server, params, {"User-Agent": UA})
    assert error.status == 200
    assert error.headers is not None
    assert error.headers["handshake-status"] == "417"
    assert error.headers["handshake-msg"] == "illegal secret key"


async def test_token_is_one_use(raw: RawClient, sim: Simulator, session: aiohttp.ClientSession) -> None:
    sim.script(end())
    result, _ = await within(raw.sign())
    first = await within(raw.run(result))
    assert first.close_code == 1000
    error = await connect_expecting_rejection(session, result.push_server, raw.ws_params(result), {"User-Agent": UA})
    assert error.headers is not None
    assert error.headers["handshake-status"] == "417"
    assert error.headers["handshake-msg"] == "illegal secret key"
    assert sim.rejections[-1].reason == "the wrss token was already used"
    assert sim.connections == 1


async def test_token_expires(raw: RawClient, sim: Simulator, session: aiohttp.ClientSession) -> None:
    sim.token_ttl = -1.0  # expired when issued: nothing to wait for
    result, _ = await within(raw.sign())
    error = await connect_expecting_rejection(session, result.push_server, raw.ws_params(result), {"User-Agent": UA})
    assert error.headers is not None
    assert error.headers["handshake-msg"] == "illegal secret key"
    assert "expired" in sim.rejections[-1].reason


async def test_wrong_room_is_rejected(raw: RawClient, session: aiohttp.ClientSession) -> None:
    result, _ = await within(raw.sign())
    params = {**raw.ws_params(result), "room_id": "1"}
    error = await connect_expecting_rejection(session, result.push_server, params, {"User-Agent": UA})
    assert error.headers is not None
    assert error.headers["handshake-status"] == "417"


async def test_handshake_options_announce_the_ping_interval(raw: RawClient, sim: Simulator) -> None:
    received = await within(raw.run())
    assert received.handshake_options == "ping-interval=0.05"
    assert received.close_code == 1000  # empty script: the socket closes right after the enter-room reply


# ── a dutiful client ─────────────────────────────────────────────────────────────────────────────────────────


async def test_dutiful_client_gets_every_message_once(raw: RawClient, sim: Simulator) -> None:
    sim.script(
        comment("alice", "hi"),
        frame(like("bob", 5, 5), comment("carol", "hey"), delay=0.01),
        *gift_streak("dave", repeats=2),
        end(),
    )
    received = await within(raw.run())
    await within(sim.wait_idle())
    assert sim.violations == []
    assert received.close_code == 1000
    assert received.types[0] == "im_enter_room_resp"
    assert received.types[1:] == ["msg"] * 6
    assert [type(event) for event in received.events] == [
        CommentEvent,
        LikeEvent,
        CommentEvent,
        GiftEvent,
        GiftEvent,
        GiftEvent,
        ControlEvent,
        LiveEndEvent,
    ]
    assert received.texts == ["hi", "hey"]
    msg_ids = [event.msg_id for event in received.events[:-1]]  # the LiveEndEvent shares its ControlEvent's
    assert len(set(msg_ids)) == len(msg_ids) == received.messages == 7 and all(msg_ids)
    assert received.session.ended and not received.unreadable
    assert len(sim.acks) == 6
    assert sim.enter_room[0].room_id == sim.room_id
    assert sim.connections == 1


async def test_frame_layout(raw: RawClient, sim: Simulator) -> None:
    """The simulator's frames as TikTok lays them out (frame functions here: the layout is what is tested)."""
    sim.script(comment("alice", "one"), comment("bob", "two"))
    received = await within(raw.run())
    msg_frames = [f for f in received.frames if f.payload_type == "msg"]
    assert [f.seq_id for f in received.frames] == [1, 2, 3]
    assert len({f.log_id for f in received.frames}) == 3 and all(0 < f.log_id < 2**63 for f in received.frames)
    for index, (push, batch) in enumerate(zip(msg_frames, received.batches, strict=True), start=1):
        assert (push.service, push.method, push.payload_encoding) == (1, 1, "pb")
        assert [h.key for h in push.headers] == ["compress_type", "im-cursor", "im-internal_ext", "im-now"]
        assert frame_header(push, "compress_type") == "gzip"
        assert push.payload.startswith(b"\x1f\x8b\x08")
        assert frame_header(push, "im-cursor") == batch.cursor == f"sim-{index}-0-0"
        assert frame_header(push, "im-internal_ext") == batch.internal_ext == f"internal_src:sim|seq:{index}"
        result = decode_fetch_result(frame_payload(push))
        assert frame_header(push, "im-now") == str(result.now)
        assert result.need_ack is True and batch.ack is not None
        assert result.heartbeat_duration == 10_000
        assert result.fetch_interval == 0
        (message,) = result.messages
        assert message.msg_type == 0
        (chat,) = batch.events
        assert isinstance(chat, CommentEvent)
        assert chat.common.method == message.method == "WebcastChatMessage"
        assert chat.common.msg_id == chat.msg_id == message.msg_id
        assert chat.common.room_id == sim.room_id
        assert chat.common.create_time > 1_600_000_000_000
        assert chat.user.nickname and chat.user.unique_id and chat.user.sec_uid
        assert len(chat.user.avatar_thumb.m_urls) == 2
        assert len(chat.user.badge_list) >= 1
    assert [(log_id, payload) for log_id, payload in sim.acks] == [
        (push.log_id, batch.internal_ext.encode()) for push, batch in zip(msg_frames, received.batches, strict=True)
    ]


async def test_heartbeats_are_recorded(raw: RawClient, sim: Simulator) -> None:
    sim.script(comment("a", "1"), frame(comment("b", "2"), delay=30.0))
    run = asyncio.create_task(raw.run())
    await wait_for_condition(lambda: len(sim.heartbeats) >= 3)
    await within(sim.stop())
    await within(run)
    seqs = [seq for _, seq in sim.heartbeats]
    assert seqs[:3] == [1, 2, 3]
    assert sim.violations == []


# ── resume ───────────────────────────────────────────────────────────────────────────────────────────────────


async def test_resume_from_cursor_delivers_the_rest_once(raw: RawClient, sim: Simulator) -> None:
    words = ["one", "two", "three", "four", "five", "six"]
    sim.script(*(comment("alice", word) for word in words), delay=0.1)
    first = await within(raw.run(stop_after_messages=3))
    await within(sim.wait_idle())
    last_cursor = first.session.cursor
    assert last_cursor == "sim-3-0-0"
    result, _ = await within(raw.sign(cursor=last_cursor))
    params = {"cursor": last_cursor, "internal_ext": first.session.internal_ext}
    second = await within(raw.run(result, session=first.session, **params))
    await within(sim.wait_idle())
    assert first.texts + second.texts == words
    assert sum(batch.duplicates for batch in second.batches) == 0
    assert sim.violations == []
    assert sim.connections == 2


async def test_resume_from_the_sign_cursor_alone(raw: RawClient, sim: Simulator) -> None:
    sim.script(*(comment("alice", word) for word in ["a", "b", "c"]))
    result, _ = await within(raw.sign(cursor=sim.cursor(2)))
    received = await within(raw.run(result))  # no cursor in the WebSocket query: the token remembers it
    assert received.texts == ["c"]


async def test_foreign_cursor_starts_from_the_beginning(raw: RawClient, sim: Simulator) -> None:
    sim.script(comment("alice", "a"), comment("bob", "b"))
    received = await within(raw.run(cursor="sim-1-999-0"))  # another seed: not ours
    assert received.texts == ["a", "b"]


async def test_loop_replays_without_the_end(session: aiohttp.ClientSession) -> None:
    async with Simulator(loop=True, **FAST) as sim:
        sim.script(comment("alice", "again"), end())
        received = await within(RawClient(session, sim).run(stop_after_messages=5))
    assert received.texts == ["again"] * 5  # new msg_ids each round: none is a duplicate
    assert len({event.msg_id for event in received.events}) == 5


# ── violations ───────────────────────────────────────────────────────────────────────────────────────────────


async def test_no_acks_is_a_violation(raw: RawClient, sim: Simulator) -> None:
    raw.ack = False
    sim.script(comment("alice", "a"), comment("bob", "b"))
    received = await within(raw.run())
    await within(sim.wait_idle())
    assert received.close_code == 1000  # the server gave up waiting for the acks after ack_grace
    missing = [v for v in sim.violations if "needed an ack" in v]
    assert len(missing) == 2, sim.violations
    assert all(v.startswith("violation: [connection 1]") for v in sim.violations)
    assert sim.acks == []


async def test_missing_acks_reported_when_the_client_closes(raw: RawClient, sim: Simulator) -> None:
    raw.ack = False
    sim.ack_grace = 30.0
    sim.script(comment("alice", "a"), comment("bob", "b"), delay=0.05)
    await within(raw.run(stop_after_messages=1))
    await within(sim.wait_idle())
    assert [v for v in sim.violations if "closed without one" in v], sim.violations


async def test_no_heartbeat_is_a_violation(raw: RawClient, sim: Simulator) -> None:
    raw.heartbeat = False
    sim.script(comment("alice", "a"), delay=0.8)  # longer than 2 x 0.05 + 0.5
    await within(raw.run())
    await within(sim.wait_idle())
    assert len([v for v in sim.violations if "no heartbeat" in v]) == 1, sim.violations


async def test_no_enter_room_is_a_violation(raw: RawClient, sim: Simulator) -> None:
    raw.enter = False
    sim.script(comment("alice", "still delivered"))
    received = await within(raw.run())
    await within(sim.wait_idle())
    assert "im_enter_room_resp" not in received.types
    assert received.texts == ["still delivered"]
    assert [v for v in sim.violations if "no enter-room frame" in v], sim.violations


async def test_bad_enter_room_fields(session: aiohttp.ClientSession, raw: RawClient, sim: Simulator) -> None:
    result, _ = await within(raw.sign())
    async with session.ws_connect(result.push_server, params=raw.ws_params(result), headers={"User-Agent": UA}) as ws:
        await ws.send_bytes(enter_room_frame(1, live_id=1, identity="anchor"))
        await ws.send_bytes(enter_room_frame(sim.room_id))
        await ws.send_bytes(heartbeat_frame(sim.room_id, 1))
        await within(ws.receive())  # the enter-room reply
    await within(sim.wait_idle())
    joined = "\n".join(sim.violations)
    assert "room_id is 1" in joined
    assert "live_id is 1" in joined
    assert "identity is 'anchor'" in joined
    assert "again" in joined


async def test_wrong_acks_and_heartbeats(session: aiohttp.ClientSession, raw: RawClient, sim: Simulator) -> None:
    sim.script(comment("alice", "a"), comment("bob", "b"))
    result, _ = await within(raw.sign())
    async with session.ws_connect(result.push_server, params=raw.ws_params(result), headers={"User-Agent": UA}) as ws:
        await ws.send_bytes(enter_room_frame(sim.room_id))
        await ws.send_bytes(heartbeat_frame(sim.room_id, 2))  # must start at 1
        await ws.send_bytes(heartbeat_frame(42, 3))  # wrong room
        reader = Session()
        reply, first, second = [reader.receive((await within(ws.receive())).data) for _ in range(3)]
        assert reply.payload_type == "im_enter_room_resp" and first.ack is not None and second.ack is not None
        first_log_id = transport_pb2.PushFrame.FromString(first.ack).log_id
        await ws.send_bytes(ack_frame(first_log_id, b"-"))  # wrong payload
        await ws.send_bytes(first.ack)  # the right ack, but this frame was acked already
        await ws.send_bytes(ack_frame(12345, b"x"))  # no such frame
        await ws.send_bytes(second.ack)
        await ws.send_str("hello")
        await ws.send_bytes(transport_pb2.PushFrame(payload_type="bogus").SerializeToString())
        await ws.send_bytes(b"\xff\xff\xff")
        await ws.ping()
        await within(ws.receive())  # the server closes: script done, acks in
    await within(sim.wait_idle())
    joined = "\n".join(sim.violations)
    for expected in (
        "send_packet_seq_id is 2, expected 1",
        "heartbeat room_id is 42",
        "carries b'-'",
        "acked twice",
        "log_id=12345, which no frame",
        "text WebSocket message",
        "unexpected payload_type 'bogus'",
        "not a push frame",
        "WebSocket ping",
    ):
        assert expected in joined, f"{expected!r} not in:\n{joined}"
    assert sim.ws_pings == 1
    assert all(v.startswith("violation: ") for v in sim.violations)


async def test_late_enter_room(session: aiohttp.ClientSession, raw: RawClient, sim: Simulator) -> None:
    sim.enter_room_timeout = 0.05
    sim.heartbeat_grace = 5.0
    sim.script(comment("alice", "later"), delay=5.0)  # keeps the socket open
    result, _ = await within(raw.sign())
    async with session.ws_connect(result.push_server, params=raw.ws_params(result), headers={"User-Agent": UA}) as ws:
        await wait_for_condition(lambda: any("enter-room" in v for v in sim.violations))  # now it is late
        await ws.send_bytes(enter_room_frame(sim.room_id))
        reply = Session().receive((await within(ws.receive())).data)
        assert reply.payload_type == "im_enter_room_resp"
    await within(sim.wait_idle())
    assert len([v for v in sim.violations if "enter-room" in v]) == 1, sim.violations


async def test_user_agent_must_match_the_signed_one(raw: RawClient, sim: Simulator) -> None:
    result, _ = await within(raw.sign(user_agent="Other/1.0"))
    await within(raw.run(result))
    await within(sim.wait_idle())
    assert [v for v in sim.violations if "User-Agent differs" in v]


async def test_on_violation_callback(session: aiohttp.ClientSession) -> None:
    lines: list[str] = []
    async with Simulator(on_violation=lines.append, **FAST) as sim:
        client = RawClient(session, sim, enter=False)
        await within(client.run())
        await within(sim.wait_idle())
    assert lines and lines == sim.violations


async def test_server_heartbeats(session: aiohttp.ClientSession) -> None:
    async with Simulator(server_heartbeat_interval=0.02, **FAST) as sim:
        sim.script(comment("alice", "a"), delay=0.15)
        received = await within(RawClient(session, sim).run())
    assert "hb" in received.types
    assert sim.violations == []


async def test_stop_closes_open_connections(session: aiohttp.ClientSession) -> None:
    sim = Simulator(**FAST)
    await within(sim.start())
    sim.script(comment("alice", "a"), delay=30.0)
    task = asyncio.create_task(RawClient(session, sim).run())
    await wait_for_condition(lambda: len(sim.enter_room) == 1)  # connected and in the room
    await within(sim.stop(), 3.0)
    received = await within(task)
    assert received.close_code == 1001
    assert sim.violations == []


async def test_payloads_are_gzip_of_the_fetch_result(raw: RawClient, sim: Simulator) -> None:
    sim.script(comment("alice", "a"))
    received = await within(raw.run())
    push = next(f for f in received.frames if f.payload_type == "msg")
    result = decode_fetch_result(gzip.decompress(push.payload))  # plain gzip, as any gunzip reads it
    (batch,) = received.batches
    assert (result.cursor, [m.msg_id for m in result.messages]) == (batch.cursor, [e.msg_id for e in batch.events])
