"""Regressions found in review: sockets that break while sending, restarts, streams, odd pages, secrets."""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path

import pytest
from aiohttp import web

from tiktok_live import ReconnectPolicy, TikTokLiveClient, UserOfflineError
from tiktok_live._generated.pb import transport_pb2, webcast_pb2
from tiktok_live._http import safe_error as _safe
from tiktok_live.events import CommentEvent, ReconnectEvent
from tiktok_live.recording import Recorder, read_recording
from tiktok_live.testing import Faults, Simulator, comment, end

TIMEOUT = 20.0
FAST = ReconnectPolicy(base_delay=0.01, max_delay=0.05, max_attempts=3)


def _frame(index: int) -> bytes:
    result = webcast_pb2.ProtoMessageFetchResult(cursor=f"c{index}", need_ack=True, internal_ext=f"ext{index}")
    result.messages.add(method="WebcastNoSuchMessage", payload=b"", msg_id=1000 + index)
    frame = transport_pb2.PushFrame(payload_type="msg", payload_encoding="pb", log_id=index + 1)
    frame.payload = result.SerializeToString()
    return frame.SerializeToString()


async def test_a_socket_that_breaks_while_acking_reconnects_instead_of_crashing() -> None:
    connections = 0

    async def handler(request: web.Request) -> web.WebSocketResponse:
        nonlocal connections
        connections += 1
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.receive()  # enter-room
        if connections == 1:
            for index in range(200):
                await ws.send_bytes(_frame(index))
            assert request.transport is not None
            request.transport.abort()  # the client is still acking buffered frames
            return ws
        await ws.send_bytes(_frame(500))
        await ws.close(code=1000)
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        async with Simulator() as sim:
            client = sim.client(reconnect=FAST)
            client._connection.url = lambda bundle: f"ws://127.0.0.1:{port}/ws"  # type: ignore[method-assign]
            reconnects: list[ReconnectEvent] = []
            client.add_listener(ReconnectEvent, reconnects.append)
            with pytest.raises(Exception) as raised:  # the test server never ends the LIVE: reconnects run out
                await asyncio.wait_for(client.connect(), TIMEOUT)
            assert "aiohttp" not in type(raised.value).__module__
            assert reconnects and connections >= 2
    finally:
        await runner.cleanup()


async def test_a_restarted_client_gets_a_fresh_reconnect_budget_and_room_lookup() -> None:
    async with Simulator(ping_interval=0.05, faults=Faults(drop_after=1)) as sim:
        sim.script(comment("a", "0"), comment("a", "1"), comment("a", "2"), end())
        client = sim.client(reconnect=ReconnectPolicy(base_delay=0.01, max_delay=0.02, max_attempts=2))
        reconnects: list[ReconnectEvent] = []
        client.add_listener(ReconnectEvent, reconnects.append)
        for _ in range(2):  # every connection drops after one frame: each session uses its own two attempts
            with pytest.raises(Exception, match="kept dropping"):
                await asyncio.wait_for(client.connect(), TIMEOUT)
        assert [event.attempt for event in reconnects] == [1, 2, 1, 2]


async def test_streams_end_when_the_connect_fails() -> None:
    async with Simulator(offline=True) as sim:
        client = sim.client()
        stream = client.stream(CommentEvent)
        with pytest.raises(UserOfflineError):
            await asyncio.wait_for(client.connect(), TIMEOUT)
        assert [event async for event in stream] == []


async def test_a_stream_left_early_unsubscribes() -> None:
    async with Simulator(ping_interval=0.05) as sim:
        sim.script(*(comment("a", str(i)) for i in range(5)), end())
        client = sim.client()
        async with client.stream(CommentEvent) as stream:
            pass
        assert stream.closed and client._dispatch.streams == []
        await asyncio.wait_for(client.connect(), TIMEOUT)
        assert client.decoded_messages == 1  # only the control message: nobody wanted the comments


async def test_a_page_that_is_not_utf8_falls_back_to_the_api() -> None:
    async def latin1(_: web.Request) -> web.Response:
        return web.Response(body="<html>Vérification</html>".encode("latin-1"), content_type="text/html")

    async with Simulator("host", ping_interval=0.05) as sim:
        sim.script(comment("a", "hi"), end())
        app = web.Application()
        app.router.add_get("/@host/live", latin1)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        page = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            client = TikTokLiveClient("@host", web_url=page, webcast_url=sim.url, sign_url=sim.url)
            with pytest.raises(Exception) as raised:  # the page server has no room API: a typed error, not Unicode
                await asyncio.wait_for(client.connect(), TIMEOUT)
            assert not isinstance(raised.value, UnicodeDecodeError)
            assert type(raised.value).__module__.startswith("tiktok_live")
        finally:
            await runner.cleanup()


def test_url_credentials_are_stripped_from_error_text() -> None:
    error = RuntimeError("407, message='Proxy Authentication Required', url='http://user:PROXYPW@127.0.0.1:3128'")
    assert "PROXYPW" not in _safe(error) and "user:" not in _safe(error) and "127.0.0.1:3128" in _safe(error)


async def test_a_recording_cut_off_by_a_crash_keeps_its_complete_lines(tmp_path: Path) -> None:
    path = tmp_path / "cut.gz"
    async with Simulator("streamer", ping_interval=0.05) as sim:
        sim.script(comment("alice", "hi"), end())
        with Recorder(path, unique_id="streamer") as recorder:
            await asyncio.wait_for(sim.client(recorder=recorder).connect(), TIMEOUT)
    data = gzip.decompress(path.read_bytes())
    cut = tmp_path / "crashed.gz"
    compressor = gzip.GzipFile(cut, "wb")
    compressor.write(data)
    compressor.flush()  # what Recorder's sync flush leaves on disk
    raw = cut.read_bytes()
    compressor.close()
    cut.write_bytes(raw)  # no gzip trailer, as after a crash
    recording = read_recording(cut)
    assert len(recording.records) == len(read_recording(path).records)


async def test_the_simulator_page_escapes_hostile_nicknames() -> None:
    hostile = '</title><script id="SIGI_STATE" type="application/json">{"LiveRoom": {}}</script>'
    async with Simulator("host", nickname=hostile, ping_interval=0.05) as sim:
        sim.script(end())
        client = sim.client()
        await asyncio.wait_for(client.connect(), TIMEOUT)
        assert client.room_id == sim.room_id
