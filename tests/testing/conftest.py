"""Helpers for the simulator's own tests: a raw aiohttp client that plays (or skips) the client's duties.

These tests drive the simulator with plain aiohttp on 127.0.0.1 (never the tiktok_live client). Every frame they
receive goes through a :class:`~tiktok_live.protocol.Session`, which also builds the dutiful client's enter-room,
heartbeat and ack frames. Every network wait is bounded (:func:`within`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass, field
from typing import TypedDict, TypeVar

import aiohttp
import pytest

from tiktok_live import protocol
from tiktok_live._base import BaseEvent
from tiktok_live._generated.pb import transport_pb2, webcast_pb2
from tiktok_live._protocol import decode_fetch_result, decode_push_frame
from tiktok_live.errors import FrameDecodeError
from tiktok_live.events import CommentEvent
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


async def within(awaitable: Awaitable[T], seconds: float = TIMEOUT) -> T:
    """``awaitable``, failing the test if it takes longer than ``seconds``."""
    return await asyncio.wait_for(awaitable, seconds)


@dataclass
class Received:
    """What a raw client saw on one connection: every binary message as its protocol session read it."""

    session: protocol.Session
    """The session that read the connection; pass it to the next ``run`` to resume as a client does."""
    results: list[protocol.Received] = field(default_factory=list)
    """What the session made of each binary message, in order (``msg`` and other frames, unreadable ones too)."""
    frames: list[transport_pb2.PushFrame] = field(default_factory=list)
    """Every binary message that parses as a push frame, as sent (for checks of the simulator's frame layout)."""
    unreadable: list[bytes] = field(default_factory=list)
    """Binary messages the session could not read (garbage, truncated gzip), as received."""
    close_code: int | None = None
    handshake_options: str = ""

    @property
    def events(self) -> list[BaseEvent]:
        """Every event of every frame, in order (the session dropped duplicates)."""
        return [event for result in self.results for event in result.events]

    @property
    def batches(self) -> list[protocol.Received]:
        """The results of the readable ``msg`` frames, in order."""
        return [result for result in self.results if result.error is None and result.payload_type == "msg"]

    @property
    def messages(self) -> int:
        """Messages the readable ``msg`` frames carried, duplicates included."""
        return sum(result.messages for result in self.batches)

    @property
    def types(self) -> list[str]:
        """The payload_type of every readable frame, in order."""
        return [result.payload_type for result in self.results if result.error is None]

    @property
    def texts(self) -> list[str]:
        """The text of every comment event, in order."""
        return [event.comment for event in self.events if isinstance(event, CommentEvent)]


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
    wanted: frozenset[type[BaseEvent]] | None = None
    """The event classes a new protocol session decodes (None: every class, derived events included)."""

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
        session: protocol.Session | None = None,
        stop_after_messages: int | None = None,
        **extra: str,
    ) -> Received:
        """Connect with ``result`` (signing first if None), do the enabled duties and read until the server
        closes, or close ourselves after ``stop_after_messages`` messages. Frames go through ``session`` (a new
        one if None): pass the previous connection's to resume with its duplicate window, as a client does."""
        bundle = result if result is not None else (await within(self.sign()))[0]
        received = Received(session if session is not None else protocol.Session(self.wanted))
        ws = await within(
            self.session.ws_connect(
                bundle.push_server, params=self.ws_params(bundle, **extra), headers={"User-Agent": self.user_agent}
            )
        )
        received.handshake_options = ws._response.headers.get("Handshake-Options", "")
        beats: asyncio.Task[None] | None = None
        try:
            if self.enter:
                await ws.send_bytes(received.session.enter_room(self.sim.room_id))
            if self.heartbeat:
                beats = asyncio.create_task(self._beat(ws, received.session))
            await within(self._read(ws, received, stop_after_messages))
        finally:
            if beats is not None:
                beats.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await beats
            await ws.close()
        received.close_code = ws.close_code
        return received

    async def _beat(self, ws: aiohttp.ClientWebSocketResponse, session: protocol.Session) -> None:
        interval = self.heartbeat_interval or self.sim.ping_interval
        while not ws.closed:
            await ws.send_bytes(session.heartbeat(self.sim.room_id))
            await asyncio.sleep(interval)  # the heartbeat period (a duty), not a wait for something to happen

    async def _read(self, ws: aiohttp.ClientWebSocketResponse, received: Received, stop_after: int | None) -> None:
        async for message in ws:
            assert message.type is aiohttp.WSMsgType.BINARY, message
            data: bytes = message.data
            with contextlib.suppress(FrameDecodeError):
                received.frames.append(decode_push_frame(data))
            result = received.session.receive(data)
            received.results.append(result)
            if result.error is not None:
                received.unreadable.append(data)
                continue
            if result.ack is not None and self.ack:
                await ws.send_bytes(result.ack)
            if stop_after is not None and received.messages >= stop_after:
                return


def enter_room_frame(room_id: int, **fields: object) -> bytes:
    """A hand-built enter-room frame, for provoking violations (a dutiful client uses ``Session.enter_room``);
    ``fields`` override the EnterRoomMessage."""
    values: dict[str, object] = {"room_id": room_id, "live_id": 12, "identity": "audience", "filter_welcome_msg": "0"}
    values.update(fields)
    enter = transport_pb2.EnterRoomMessage(**values)  # type: ignore[arg-type]
    frame = transport_pb2.PushFrame(
        payload_type="im_enter_room", payload_encoding="pb", payload=enter.SerializeToString()
    )
    return frame.SerializeToString()


def heartbeat_frame(room_id: int, seq: int) -> bytes:
    """A hand-built heartbeat frame with any sequence number, for provoking violations."""
    beat = transport_pb2.HeartbeatMessage(room_id=room_id, send_packet_seq_id=seq)
    return transport_pb2.PushFrame(
        payload_type="hb", payload_encoding="pb", payload=beat.SerializeToString()
    ).SerializeToString()


def ack_frame(log_id: int, payload: bytes) -> bytes:
    """A hand-built ack frame with any log id and payload, for provoking violations."""
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
