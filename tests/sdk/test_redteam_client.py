"""Red-team regressions for the lone client (issue 13): hostile servers on loopback that drop, flood, starve the
watchdog, race the heartbeat, redirect, rate-limit with absurd numbers, answer malformed or endless bodies.

Each test reproduces a finding as the issue describes it and checks what the user sees instead: a reconnect, a
typed error, a bounded wait. Waits are bounded; nothing asserts on timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from tests.hostile import Handler, HostileServer, abort, client_for, comment_frame, end_frame, websocket
from tiktok_live import ReconnectPolicy, WebSocketRejectedError
from tiktok_live._websocket import MAX_HEARTBEAT, MIN_HEARTBEAT
from tiktok_live.events import CommentEvent, DisconnectEvent, ErrorEvent, ReconnectEvent

TIMEOUT = 30.0
FAST = ReconnectPolicy(base_delay=0.01, max_delay=0.05, max_attempts=5)


def _busy_handler(event: CommentEvent) -> None:
    """A sync handler that holds the event loop a little per event (as the issue's repro did)."""
    time.sleep(0.001)


def _hostile(socket: Handler) -> HostileServer:
    """A hostile server with ``socket`` at ``/ws``, a sign server handing it out and a live check."""
    server = HostileServer({"/ws": socket})
    server.serve_sign()
    server.serve_alive()
    return server


class FloodThenAbort:
    """A WebSocket server announcing ``ping-interval``: each connection sends ``frames`` comments without need_ack,
    then aborts the TCP connection; the connection after ``drops`` aborted ones sends its comments and the end."""

    def __init__(self, drops: int, frames: int = 300, ping_interval: str = "0.01") -> None:
        self.drops = drops
        self.frames = frames
        self.connections = 0
        self.handler = websocket(self._play, ping_interval=ping_interval)

    async def _play(self, request: web.Request, ws: web.WebSocketResponse) -> None:
        self.connections += 1
        number = self.connections
        for index in range(self.frames):
            await ws.send_bytes(comment_frame(number * 100_000 + index, f"c{number}-{index}"))
        if number <= self.drops:
            abort(request)
        else:
            await ws.send_bytes(end_frame(number * 100_000 + self.frames))
            await ws.close()


async def _consume(stream: AsyncIterator[CommentEvent]) -> list[str]:
    return [event.comment async for event in stream]


# ── item 1: a drop racing the heartbeat never kills the client ───────────────────────────────────────────────


@pytest.mark.parametrize("run", range(3))
@pytest.mark.parametrize("heartbeat", ["announced", "explicit"])
async def test_a_drop_while_heartbeats_race_reconnects_and_resumes(
    heartbeat: str, run: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ws = FloodThenAbort(drops=3)
    async with _hostile(ws.handler) as server:
        # The user may choose any period (the server may not): the explicit one races the drop every 10 ms.
        client = client_for(server, reconnect=FAST, heartbeat_interval=0.01 if heartbeat == "explicit" else None)
        client.add_listener(CommentEvent, _busy_handler)
        reconnects: list[ReconnectEvent] = []
        disconnects: list[DisconnectEvent] = []
        errors: list[ErrorEvent] = []
        client.add_listener(ReconnectEvent, reconnects.append)
        client.add_listener(DisconnectEvent, disconnects.append)
        client.add_listener(ErrorEvent, errors.append)
        consumer = asyncio.create_task(_consume(client.stream(CommentEvent, maxsize=5_000)))
        await asyncio.wait_for(client.connect(), TIMEOUT)  # returns at the stream's end: nothing escapes
        texts = await asyncio.wait_for(consumer, TIMEOUT)  # the stream consumer ends
    assert ws.connections == 4
    assert [event.attempt for event in reconnects] == [1, 1, 1]  # each connection lived 300 frames: count resets
    assert len(disconnects) == 1 and disconnects[0].reason == "stream ended"
    assert texts[-1] == "c4-299" and texts.count("c4-0") == 1
    assert not errors, [event.exception for event in errors]
    del client
    gc.collect()
    assert "Unclosed" not in caplog.text
    assert "never retrieved" not in caplog.text
    assert "SocketClosed" not in caplog.text


async def test_a_socket_breaking_while_entering_the_room_is_a_typed_error(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    ws = FloodThenAbort(drops=0, frames=1)

    async def broken(self: aiohttp.ClientWebSocketResponse, data: bytes, compress: int | None = None) -> None:
        raise aiohttp.ClientConnectionResetError("Cannot write to closing transport")

    monkeypatch.setattr(aiohttp.ClientWebSocketResponse, "send_bytes", broken)
    async with _hostile(ws.handler) as server:
        client = client_for(server, reconnect=FAST)
        with pytest.raises(WebSocketRejectedError, match="while entering the room"):
            await asyncio.wait_for(client.connect(), TIMEOUT)
        assert not client.connected
    del client
    gc.collect()
    assert "Unclosed" not in caplog.text


# ── item 10: only data frames are life for the watchdog ─────────────────────────────────────────────────────


class AliveButSilent:
    """Sends one comment, then only ``kind`` frames (TEXT, PING or PONG) every few milliseconds: no data. The
    connection after the first sends a comment and the end."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.connections = 0
        self.keepalives = 0
        self.handler = websocket(self._play)

    async def _play(self, request: web.Request, ws: web.WebSocketResponse) -> None:
        self.connections += 1
        number = self.connections
        await ws.send_bytes(comment_frame(number * 10, f"c{number}"))
        if number > 1:
            await ws.send_bytes(end_frame(number * 10 + 1))
            await ws.close()
            return
        while not ws.closed:
            if self.kind == "text":
                await ws.send_str("keep-alive")
            elif self.kind == "ping":
                await ws.ping(b"x")
            else:
                await ws.pong(b"x")
            self.keepalives += 1
            await asyncio.sleep(0.02)  # the keep-alive's pace, not a wait for something to happen


@pytest.mark.parametrize("kind", ["text", "ping", "pong"])
async def test_non_data_frames_do_not_keep_a_silent_stream_alive(kind: str) -> None:
    silent = AliveButSilent(kind)
    async with _hostile(silent.handler) as server:
        client = client_for(server, reconnect=FAST, watchdog_timeout=0.3)
        reconnects: list[ReconnectEvent] = []
        texts: list[str] = []
        client.add_listener(ReconnectEvent, reconnects.append)
        client.add_listener(CommentEvent, lambda event: texts.append(event.comment))
        await asyncio.wait_for(client.connect(), TIMEOUT)
    assert silent.keepalives > 0
    assert len(reconnects) == 1 and "no data frame" in reconnects[0].reason
    assert texts == ["c1", "c2"] and silent.connections == 2


# ── item 11: the server cannot set a heartbeat storm ────────────────────────────────────────────────────────


class HeartbeatCounter:
    """Announces ``ping-interval``, sends one comment, counts the client's heartbeats until ``window`` seconds
    passed on its own loop clock (or ``limit`` heartbeats arrived), then ends the stream."""

    def __init__(self, ping_interval: str, window: float, limit: int) -> None:
        self.window = window
        self.limit = limit
        self.heartbeats = 0
        self._enough = asyncio.Event()
        self.handler = websocket(self._play, ping_interval=ping_interval, on_frame=self._count)

    def _count(self, payload_type: str) -> None:
        if payload_type == "hb":
            self.heartbeats += 1
            if self.heartbeats >= self.limit:
                self._enough.set()

    async def _play(self, request: web.Request, ws: web.WebSocketResponse) -> None:
        await ws.send_bytes(comment_frame(1, "hi"))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._enough.wait(), self.window)
        await ws.send_bytes(end_frame(2))
        await ws.close()


@pytest.mark.parametrize("announced", ["1e-9", "0.001"])
async def test_a_server_cannot_ask_for_a_heartbeat_storm(announced: str) -> None:
    counter = HeartbeatCounter(announced, window=1.5, limit=20)
    async with _hostile(counter.handler) as server:
        client = client_for(server, reconnect=FAST)
        await asyncio.wait_for(client.connect(), TIMEOUT)
    # 1.5 s at the clamped 1 s period is one or two beats; the storm sent thousands (and would hit the limit).
    assert counter.heartbeats <= 3
    assert client._connection.heartbeat_interval == MIN_HEARTBEAT


@pytest.mark.parametrize(
    ("announced", "expected"),
    [
        ("1e9", MAX_HEARTBEAT),
        ("0", 10.0),
        ("inf", 10.0),
        ("nan", 10.0),
        ("-5", 10.0),
        ("abc", 10.0),
        ("1" * 5000, 10.0),
    ],
)
async def test_absurd_announced_heartbeat_periods_are_clamped_or_ignored(announced: str, expected: float) -> None:
    counter = HeartbeatCounter(announced, window=0.0, limit=1)
    async with _hostile(counter.handler) as server:
        client = client_for(server, reconnect=FAST)
        await asyncio.wait_for(client.connect(), TIMEOUT)
    assert client._connection.heartbeat_interval == expected
