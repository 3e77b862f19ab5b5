"""The web app over real loopback HTTP (no browser): pages, the SSE stream, state, cleanup, bounds, secrets."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import aiohttp
import pytest
from aiohttp import web

from tests.support import wait_for_condition
from tiktok_live.testing import Simulator, comment, end, gift_streak, like
from tiktok_live.web.app import MAX_WRITE, PAGES, WebServer, is_loopback
from tiktok_live.web.cli import follow

from .conftest import SSEReader, make_events, within


async def open_stream(http: aiohttp.ClientSession, server: WebServer, query: str = "", **headers: str) -> SSEReader:
    response = await http.get(f"{server.url}events{query}", headers=headers)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/event-stream")
    return SSEReader(response)


async def wait_for(predicate: Callable[[], bool], seconds: float = 5.0) -> None:
    await wait_for_condition(predicate, seconds)


async def test_pages_and_static_files_are_served_with_a_strict_policy(
    web_server: WebServer, http: aiohttp.ClientSession
) -> None:
    for path in [*PAGES, "/static/live.js", "/static/dashboard.css", "/static/overlay.css"]:
        async with http.get(web_server.url.rstrip("/") + path) as response:
            assert response.status == 200, path
            policy = response.headers["Content-Security-Policy"]
            assert "script-src 'self'" in policy and "default-src 'none'" in policy
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            if not path.startswith("/static/"):
                assert "http" not in await response.text()  # no CDN: every asset comes from this server
    async with http.get(f"{web_server.url}static/../app.py") as response:
        assert response.status in (403, 404)


async def test_the_stream_sends_hello_then_schema_v1_events_then_state(
    web_server: WebServer, http: aiohttp.ClientSession
) -> None:
    stream = await open_stream(http, web_server)
    hello = await stream.next()
    assert hello.event == "hello" and hello.retry == 2000
    greeting = hello.json()
    assert greeting["server"] == web_server.hub.server_id and greeting["reset"] is True
    assert greeting["config"]["display_time"] == web_server.display_time
    assert greeting["state"]["unique_id"] == "host"
    for event in make_events(comment("alice", "hi <b>there</b>")):
        web_server.publish(event, room_id=7)
    message = await stream.until(lambda m: m.event == "message")
    record = message.json()
    assert message.id == f"{web_server.hub.server_id}.1"
    assert record["v"] == 1 and record["type"] == "CommentEvent" and record["method"] == "WebcastChatMessage"
    assert record["room_id"] == "7" and record["data"]["content"] == "hi <b>there</b>"
    assert record["data"]["user"]["unique_id"] == "alice"
    state = await stream.until(lambda m: m.event == "state")
    assert state.json()["comments"] == 1
    ping = await stream.until(lambda m: m.event == "ping", seconds=3)  # keepalive 0.5 s in the fixture
    assert ping.data == "{}"


async def test_types_and_state_filters(web_server: WebServer, http: aiohttp.ClientSession) -> None:
    stream = await open_stream(http, web_server, "?types=GiftEvent&state=0")
    hello = (await stream.next()).json()
    assert "state" not in hello
    for index, spec in enumerate([comment("alice", "hi"), *gift_streak("bob", repeats=2), like("carol", 3)]):
        for event in make_events(spec, index + 1):
            web_server.publish(event)
    seen = [(await stream.until(lambda m: m.event != "ping")) for _ in range(3)]
    assert [m.event for m in seen] == ["message"] * 3
    assert [m.json()["type"] for m in seen] == ["GiftEvent"] * 3
    assert [m.json()["derived"]["streaking"] for m in seen] == [True, True, False]


async def test_late_pages_get_the_bounded_backlog_and_reconnects_resume(http: aiohttp.ClientSession) -> None:
    server = WebServer(unique_id="host", backlog=5, keepalive=0.5)
    await server.start("127.0.0.1", 0)
    try:
        for index in range(12):
            server.publish(make_events(comment("alice", f"message {index}"), index + 1)[0])
        stream = await open_stream(http, server, "?state=0")
        assert (await stream.next()).event == "hello"
        backlog = [(await stream.next()).json()["data"]["content"] for _ in range(5)]
        assert backlog == [f"message {index}" for index in range(7, 12)]
        stream.response.close()

        resumed = await open_stream(http, server, "?state=0", **{"Last-Event-ID": f"{server.hub.server_id}.10"})
        hello = (await resumed.next()).json()
        assert hello["reset"] is False
        missed = [(await resumed.next()).json()["data"]["content"] for _ in range(2)]
        assert missed == ["message 10", "message 11"]
        resumed.response.close()

        fresh = await open_stream(http, server, "?state=0&backlog=1")
        assert (await fresh.next()).json()["reset"] is True
        assert (await fresh.next()).json()["data"]["content"] == "message 11"
        fresh.response.close()
    finally:
        await within(server.stop())


async def test_many_pages_watch_one_room_and_closed_pages_are_forgotten(
    web_server: WebServer, http: aiohttp.ClientSession
) -> None:
    streams = [await open_stream(http, web_server, "?state=0") for _ in range(20)]
    for stream in streams:
        assert (await stream.next()).event == "hello"
    assert web_server.hub.subscriber_count == 20
    web_server.publish(make_events(comment("alice", "to everyone"))[0])
    for stream in streams:
        message = await stream.until(lambda m: m.event == "message")
        assert message.json()["data"]["content"] == "to everyone"
    for stream in streams[:15]:
        stream.response.close()
    await wait_for(lambda: web_server.hub.subscriber_count == 5)
    for stream in streams[15:]:
        stream.response.close()
    await wait_for(lambda: web_server.hub.subscriber_count == 0)


async def test_too_many_streams_are_refused(http: aiohttp.ClientSession) -> None:
    server = WebServer(unique_id="host", keepalive=0.5)
    server.hub.max_subscribers = 2
    await server.start("127.0.0.1", 0)
    try:
        first, second = await open_stream(http, server), await open_stream(http, server)
        async with http.get(f"{server.url}events") as response:
            assert response.status == 503
            assert response.headers["Retry-After"] == "5"
        first.response.close()
        second.response.close()
    finally:
        await within(server.stop())


async def test_stop_ends_open_streams_promptly(http: aiohttp.ClientSession) -> None:
    server = WebServer(unique_id="host", keepalive=30)
    await server.start("127.0.0.1", 0)
    stream = await open_stream(http, server)
    assert (await stream.next()).event == "hello"
    await within(server.stop(), 3)  # not the 2 s shutdown timeout per open stream, nor the keepalive
    with pytest.raises((EOFError, aiohttp.ClientError)):
        await stream.until(lambda m: False, seconds=3)
    assert server.hub.subscriber_count == 0


async def test_state_endpoint_and_stream_never_carry_secrets(http: aiohttp.ClientSession) -> None:
    key = "sk-live-SECRET-4f1c9b"
    async with Simulator("host", speed=50) as simulator:
        simulator.script(comment("alice", "hi"), *gift_streak("bob", repeats=2), end())
        server = WebServer(unique_id="host", keepalive=0.5)
        await server.start("127.0.0.1", 0)
        try:
            stream = await open_stream(http, server)
            clients = []

            def make_client() -> object:
                client = simulator.client(sign_api_key=key)
                clients.append(client)
                return client

            await within(follow(server, make_client))  # type: ignore[arg-type]
            await stream.until(lambda m: m.event == "message" and m.json()["type"] == "DisconnectEvent")
            async with http.get(f"{server.url}api/state") as response:
                state_text = await response.text()
            assert '"status": "ended"' in state_text
            cookies = dict(clients[0]._cookies)
        finally:
            await within(server.stop())
    streamed = b"".join(stream.raw).decode()
    assert cookies and "ttwid" in cookies
    for text in (state_text, streamed):
        assert key not in text
        for name, value in cookies.items():
            assert value not in text, name
        assert "ttwid" not in text and "sign_api_key" not in text


async def test_only_loopback_host_names_are_answered_on_loopback(
    web_server: WebServer, http: aiohttp.ClientSession
) -> None:
    for host, status in [("evil.example", 421), (f"localhost:{web_server.port}", 200), ("127.0.0.1", 200)]:
        async with http.get(f"{web_server.url}api/state", headers={"Host": host}) as response:
            assert response.status == status, host


async def test_binds_to_loopback_by_default() -> None:
    server = WebServer(unique_id="host")
    await server.start(port=0)
    try:
        assert server.host == "127.0.0.1"
        assert server.url == f"http://127.0.0.1:{server.port}/"
        with socket.create_connection(("127.0.0.1", server.port), timeout=2):
            pass
    finally:
        await within(server.stop())
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", server.port), timeout=2):
        pass


def test_loopback_detection() -> None:
    assert all(is_loopback(host) for host in ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"])
    assert not any(is_loopback(host) for host in ["0.0.0.0", "::", "192.168.1.10", "example.com", ""])


async def test_new_pages_get_the_backlog_in_bounded_writes_even_if_they_never_read(
    http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--backlog 100000 with 20 pages that never read grew to 5.6 GB: each page's first write joined the whole
    backlog into one buffer. Writes are now at most MAX_WRITE bytes (or one event), and wait for the socket."""
    writes: list[int] = []
    original_write = web.StreamResponse.write

    async def counted_write(self: web.StreamResponse, data: bytes | bytearray | memoryview) -> None:
        writes.append(len(data))
        await original_write(self, data)

    monkeypatch.setattr(web.StreamResponse, "write", counted_write)
    server = WebServer(unique_id="host", backlog=100_000, keepalive=30)
    await server.start("127.0.0.1", 0)
    stuck: list[socket.socket] = []
    try:
        for index in range(300):
            server.hub.publish("CommentEvent", f'{{"n": {index}, "pad": "{"x" * 10_000}"}}')
        for _ in range(5):  # pages that never read: a tiny receive window, and nobody calling recv
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
            await asyncio.get_running_loop().sock_sendall(sock, b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            stuck.append(sock)
        await wait_for(lambda: server.hub.subscriber_count == 5 and len(writes) >= 5)
        reader = await open_stream(http, server, "?state=0")  # and one page that reads it all, in order
        assert (await reader.next()).event == "hello"
        numbers = [(await reader.next()).json()["n"] for _ in range(300)]
        assert numbers == list(range(300))
        assert max(writes) <= MAX_WRITE + len(_event_chunk(server, 10_000)), max(writes)
        assert len(writes) >= 5 + 300 * 10_000 // MAX_WRITE
        reader.response.close()
    finally:
        for sock in stuck:
            sock.close()
        await within(server.stop())


def _event_chunk(server: WebServer, pad: int) -> bytes:
    return f'id: {server.hub.server_id}.300\ndata: {{"n": 299, "pad": "{"x" * pad}"}}\n\n'.encode()
