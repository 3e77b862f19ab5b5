"""Helpers for the simulator's own tests: a raw aiohttp client that plays (or skips) the client's duties.

These tests drive the simulator with plain aiohttp on 127.0.0.1 (never the tiktok_live client) and decode frames
with ``tiktok_live._protocol``. Every network wait is bounded (:func:`within`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass, field
from typing import TypedDict, TypeVar

import aiohttp
import pytest

from tiktok_live._generated.pb import transport_pb2, webcast_pb2
from tiktok_live._protocol import decode_fetch_result, decode_push_frame, frame_payload
from tiktok_live.errors import FrameDecodeError
from tiktok_live.testing import Simulator

T = TypeVar("T")
UA = "Mozilla/5.0 (X11; Linux x86_64) simulator-tests/1.0"
TIMEOUT = 10.0


class FastOptions(TypedDict):
    """Simulator options that make the duty deadlines short."""

    ping_interval: float
    heartbeat_grace: float
    ack_grace: float
    enter_room_timeout: float


FAST: FastOptions = {"ping_interval": 0.05, "heartbeat_grace": 0.5, "ack_grace": 1.0, "enter_room_timeout": 0.5}
"""Simulator options that make the duty deadlines short, for tests."""

Message = webcast_pb2.ProtoMessageFetchResult.BaseProtoMessage


async def within(awaitable: Awaitable[T], seconds: float = TIMEOUT) -> T:
    """``awaitable``, failing the test if it takes longer than ``seconds``."""
    return await asyncio.wait_for(awaitable, seconds)


@dataclass
class Received:
    """What a raw client saw on one connection."""

    frames: list[transport_pb2.PushFrame] = field(default_factory=list)
    results: list[webcast_pb2.ProtoMessageFetchResult] = field(default_factory=list)
    garbage: list[bytes] = field(default_factory=list)
    broken: list[transport_pb2.PushFrame] = field(default_factory=list)
    close_code: int | None = None
    handshake_options: str = ""

    @property
    def messages(self) -> list[Message]:
        """Every message of every decoded ``msg`` frame, in order."""
        return [message for result in self.results for message in result.messages]

    @property
    def types(self) -> list[str]:
        """The payload_type of every frame, in order."""
        return [frame.payload_type for frame in self.frames]


@dataclass
class RawClient:
    """A hand-rolled TikTok client on plain aiohttp; each duty can be switched off to provoke violations."""

    session: aiohttp.ClientSession
    sim: Simulator
    user_agent: str = UA
    enter: bool = True
    heartbeat: bool = True
    ack: bool = True
    heartbeat_interval: float | None = None

    async def sign(self, **params: str) -> tuple[webcast_pb2.ProtoMessageFetchResult, Mapping[str, str]]:
        """Ask the sign server for a bundle; returns the parsed result and the response headers."""
        query = {"client": "ttlive-test", "room_id": str(self.sim.room_id), "user_agent": self.user_agent}
        query.update(params)
        async with self.session.get(f"{self.sim.url}/webcast/fetch", params=query) as response:
            assert response.status == 200, await response.text()
            assert response.content_type == "application/protobuf"
            return decode_fetch_result(await response.read()), dict(response.headers)

    def ws_params(self, result: webcast_pb2.ProtoMessageFetchResult, **extra: str) -> dict[str, str]:
        """The WebSocket query for ``result``: room id, route params, and ``extra`` (cursor, internal_ext, …)."""
        return {"room_id": str(self.sim.room_id), **dict(result.route_params), **extra}

    async def run(
        self,
        result: webcast_pb2.ProtoMessageFetchResult | None = None,
        *,
        stop_after_messages: int | None = None,
        **extra: str,
    ) -> Received:
        """Connect with ``result`` (signing first if None), do the enabled duties and read until the server
        closes, or close ourselves after ``stop_after_messages`` messages."""
        bundle = result if result is not None else (await within(self.sign()))[0]
        received = Received()
        ws = await within(
            self.session.ws_connect(
                bundle.push_server, params=self.ws_params(bundle, **extra), headers={"User-Agent": self.user_agent}
            )
        )
        received.handshake_options = ws._response.headers.get("Handshake-Options", "")
        beats: asyncio.Task[None] | None = None
        try:
            if self.enter:
                await ws.send_bytes(enter_room_frame(self.sim.room_id))
            if self.heartbeat:
                beats = asyncio.create_task(self._beat(ws))
            await within(self._read(ws, received, stop_after_messages))
        finally:
            if beats is not None:
                beats.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await beats
            await ws.close()
        received.close_code = ws.close_code
        return received

    async def _beat(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        interval = self.heartbeat_interval or self.sim.ping_interval
        seq = 0
        while not ws.closed:
            seq += 1
            await ws.send_bytes(heartbeat_frame(self.sim.room_id, seq))
            await asyncio.sleep(interval)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse, received: Received, stop_after: int | None) -> None:
        async for message in ws:
            assert message.type is aiohttp.WSMsgType.BINARY, message
            data: bytes = message.data
            try:
                frame = decode_push_frame(data)
            except FrameDecodeError:
                received.garbage.append(data)
                continue
            received.frames.append(frame)
            if frame.payload_type != "msg":
                continue
            try:
                result = decode_fetch_result(frame_payload(frame))
            except FrameDecodeError:
                received.broken.append(frame)
                continue
            if result.need_ack and self.ack:
                await ws.send_bytes(ack_frame(frame.log_id, result.internal_ext.encode()))
            received.results.append(result)
            if stop_after is not None and len(received.messages) >= stop_after:
                return


def enter_room_frame(room_id: int, **fields: object) -> bytes:
    """A client enter-room frame (protocol.md §6.1); ``fields`` override the EnterRoomMessage."""
    values: dict[str, object] = {"room_id": room_id, "live_id": 12, "identity": "audience", "filter_welcome_msg": "0"}
    values.update(fields)
    enter = transport_pb2.EnterRoomMessage(**values)  # type: ignore[arg-type]
    frame = transport_pb2.PushFrame(
        payload_type="im_enter_room", payload_encoding="pb", payload=enter.SerializeToString()
    )
    return frame.SerializeToString()


def heartbeat_frame(room_id: int, seq: int) -> bytes:
    """A client heartbeat frame (protocol.md §6.2)."""
    beat = transport_pb2.HeartbeatMessage(room_id=room_id, send_packet_seq_id=seq)
    return transport_pb2.PushFrame(
        payload_type="hb", payload_encoding="pb", payload=beat.SerializeToString()
    ).SerializeToString()


def ack_frame(log_id: int, payload: bytes) -> bytes:
    """A client ack frame (protocol.md §6.3)."""
    return transport_pb2.PushFrame(
        payload_type="ack", payload_encoding="pb", log_id=log_id, payload=payload
    ).SerializeToString()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session (no cookies kept between tests)."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as client_session:
        yield client_session


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """A started simulator with fast duty deadlines and an empty script."""
    async with Simulator(**FAST) as simulator:
        yield simulator


@pytest.fixture
def raw(session: aiohttp.ClientSession, sim: Simulator) -> RawClient:
    """A dutiful raw client for ``sim``."""
    return RawClient(session, sim)
