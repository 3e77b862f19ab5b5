"""Faults, bad input, soak and security: what the user sees when TikTok, the network or the sign server misbehave.

Everything runs against the embedded simulator on loopback, bounded in count and time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
from collections.abc import AsyncIterator

import pytest

from tiktok_live import (
    ReconnectPolicy,
    RequestError,
    SignAPIError,
    TikTokLiveClient,
    TikTokLiveError,
    UserOfflineError,
)
from tiktok_live.client import normalize_unique_id
from tiktok_live.events import CommentEvent, DisconnectEvent, ReconnectEvent
from tiktok_live.testing import Faults, Simulator, comment, end, frame

TIMEOUT = 20.0
FAST = ReconnectPolicy(base_delay=0.01, max_delay=0.05, max_attempts=3)


def _sim(**options: object) -> Simulator:
    return Simulator(ping_interval=0.05, ack_grace=0.5, enter_room_timeout=1.0, **options)  # type: ignore[arg-type]


def _texts(client: TikTokLiveClient) -> list[str]:
    texts: list[str] = []
    client.add_listener(CommentEvent, lambda event: texts.append(event.comment))
    return texts


@pytest.mark.parametrize("code", [None, 1000, 1001, 1006, 1011, 4001])
async def test_every_close_code_reconnects_and_loses_nothing(code: int | None) -> None:
    faults = Faults(drop_after=2, drop_code=code, first_connections=1)
    async with _sim(faults=faults) as sim:
        sim.script(*(comment("a", str(i)) for i in range(5)), end())
        client = sim.client(reconnect=FAST)
        texts = _texts(client)
        reconnects: list[ReconnectEvent] = []
        client.add_listener(ReconnectEvent, reconnects.append)
        await asyncio.wait_for(client.connect(), TIMEOUT)
    assert texts == ["0", "1", "2", "3", "4"]
    assert len(reconnects) == 1
    assert f"code {code}" in reconnects[0].reason if code is not None else "code" in reconnects[0].reason


async def test_a_reset_in_the_middle_of_a_frame_reconnects_and_loses_nothing() -> None:
    faults = Faults(drop_after=2, reset_mid_frame=True, first_connections=1)
    async with _sim(faults=faults) as sim:
        sim.script(*(comment("a", str(i)) for i in range(5)), end())
        client = sim.client(reconnect=FAST)
        texts = _texts(client)
        reconnects: list[ReconnectEvent] = []
        client.add_listener(ReconnectEvent, reconnects.append)
        await asyncio.wait_for(client.connect(), TIMEOUT)
    assert texts == ["0", "1", "2", "3", "4"]
    assert len(reconnects) == 1 and sim.connections == 2


async def test_a_reconnect_storm_is_capped_by_the_backoff_policy() -> None:
    async with _sim(faults=Faults(drop_after=1)) as sim:  # every connection drops after one frame
        sim.script(*(comment("a", str(i)) for i in range(50)), end())
        client = sim.client(reconnect=ReconnectPolicy(base_delay=0.01, max_delay=0.04, max_attempts=4))
        reconnects: list[ReconnectEvent] = []
        disconnects: list[DisconnectEvent] = []
        client.add_listener(ReconnectEvent, reconnects.append)
        client.add_listener(DisconnectEvent, disconnects.append)
        with pytest.raises(TikTokLiveError, match="kept dropping"):
            await asyncio.wait_for(client.connect(), TIMEOUT)
    assert [event.attempt for event in reconnects] == [1, 2, 3, 4]
    assert [round(event.delay, 3) <= 0.04 * 1.2 for event in reconnects] == [True] * 4
    assert len(disconnects) == 1 and sim.connections == 5


async def test_user_offline_mid_session_stops_with_a_typed_error() -> None:
    async with _sim(faults=Faults(drop_after=1, first_connections=1)) as sim:
        sim.script(comment("a", "0"), frame(comment("a", "1"), delay=0.2), end())
        client = sim.client(reconnect=FAST)
        texts = _texts(client)
        await client.start()
        sim.offline = True  # the host ends the LIVE while the socket is down
        with pytest.raises(UserOfflineError):
            await asyncio.wait_for(_wait(client), TIMEOUT)
    assert texts == ["0"]


async def _wait(client: TikTokLiveClient) -> None:
    reader = client._runner.reader
    assert reader is not None
    try:
        await reader
    finally:
        await client.disconnect()


async def test_sign_timeout_is_retried_then_reported() -> None:
    async with _sim(sign_delay=5.0) as sim:
        client = sim.client(reconnect=FAST, http_timeout=0.3)
        with pytest.raises(SignAPIError, match=r"timed out after 0\.3 s"):
            await asyncio.wait_for(client.connect(), TIMEOUT)


async def test_malformed_sign_bundle_is_a_typed_error() -> None:
    async with _sim(sign_malformed=True) as sim:
        client = sim.client(reconnect=FAST)
        with pytest.raises(SignAPIError, match="bundle"):
            await asyncio.wait_for(client.connect(), TIMEOUT)


async def test_profile_page_and_api_both_changed_give_room_id_not_found_with_a_hint() -> None:
    async with _sim(page_layout_changed=True) as sim:
        client = TikTokLiveClient("@nobody_known", web_url=sim.url, webcast_url=sim.url, sign_url=sim.url)
        with pytest.raises(TikTokLiveError) as raised:
            await asyncio.wait_for(client.connect(), TIMEOUT)
    assert "room" in str(raised.value).lower() or "not found" in str(raised.value).lower()


async def test_duplicate_msg_ids_are_delivered_once() -> None:
    async with _sim(faults=Faults(duplicate_msg_ids_at=1)) as sim:
        sim.script(*(comment("a", str(i)) for i in range(4)), end())
        client = sim.client()
        texts = _texts(client)
        await asyncio.wait_for(client.connect(), TIMEOUT)
    assert texts == ["0", "1", "2", "3"]
    assert sim.violations == []  # the duplicate frame was acked too


async def test_oversized_frames_are_refused_and_the_client_recovers() -> None:
    async with _sim(faults=Faults(first_connections=1)) as sim:
        noise = random.Random(1).randbytes(12_000).hex()  # incompressible: the gzip frame stays over the limit
        sim.script(comment("a", "small"), comment("a", noise), comment("a", "after"), end())
        client = sim.client(reconnect=FAST, max_frame_size=8192)
        texts = _texts(client)
        reconnects: list[ReconnectEvent] = []
        client.add_listener(ReconnectEvent, reconnects.append)
        with contextlib.suppress(TikTokLiveError):
            await asyncio.wait_for(client.connect(), TIMEOUT)
    assert texts[0] == "small"
    assert noise not in texts
    assert reconnects  # the oversized frame closed that socket (1009); the client reconnected


async def test_a_slow_async_handler_does_not_delay_acks_or_heartbeats() -> None:
    async with _sim() as sim:
        sim.script(*(frame(comment("a", str(i)), delay=0.05) for i in range(10)), end())
        client = sim.client()
        finished: list[str] = []

        async def slow(event: CommentEvent) -> None:
            await asyncio.sleep(0.5)
            finished.append(event.comment)

        client.add_listener(CommentEvent, slow)
        await asyncio.wait_for(client.connect(), TIMEOUT)
        await asyncio.wait_for(sim.wait_idle(), TIMEOUT)
    assert sim.violations == []
    assert sorted(finished, key=int) == [str(i) for i in range(10)]  # connect() waited for running handlers


async def test_soak_with_random_drops_delivers_everything_once_in_order() -> None:
    rng = random.Random(7)
    count = 400
    async with _sim(faults=Faults(drop_after=37, first_connections=6)) as sim:
        sim.script(*(comment(f"user{rng.randrange(50)}", str(i)) for i in range(count)), end())
        client = sim.client(reconnect=FAST, dedupe_size=64)
        texts = _texts(client)
        reconnects: list[ReconnectEvent] = []
        client.add_listener(ReconnectEvent, reconnects.append)
        await asyncio.wait_for(client.connect(), 60)
        seen_memory = len(client.session.snapshot()["seen"])  # type: ignore[arg-type]
    assert texts == [str(i) for i in range(count)]
    assert len(reconnects) == 6
    assert seen_memory <= 64


@pytest.mark.parametrize(
    "handle",
    ["../../etc/passwd", "a/b", "user?x=1", "user#frag", "a b", "", "@", "x" * 65, "user%2F..", "us\ner"],
)
def test_bad_handles_are_rejected_before_any_request(handle: str) -> None:
    with pytest.raises(ValueError, match="not a TikTok @handle"):
        normalize_unique_id(handle)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("@alice", "alice"), ("alice", "alice"), ("https://www.tiktok.com/@a.b_c/live", "a.b_c"), (" @x ", "x")],
)
def test_handles_are_normalised(value: str, expected: str) -> None:
    assert normalize_unique_id(value) == expected


async def test_secrets_never_reach_logs_reprs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    key, session = "KEY-0123456789", "SESSION-abcdef"
    with caplog.at_level(logging.DEBUG):
        async with _sim(required_api_key=key) as sim:
            sim.script(comment("a", "x"), end())
            client = sim.client(sign_api_key=key, session_id=session)
            await asyncio.wait_for(client.connect(), TIMEOUT)
            cookies = {name for request in sim.sign_requests for name in request.query}
            texts = [repr(client), repr(client.room_info)]
            bad = sim.client(sign_api_key="WRONG-" + key, session_id=session, reconnect=FAST)
            with pytest.raises(SignAPIError) as raised:
                await asyncio.wait_for(bad.connect(), TIMEOUT)
            texts.append(str(raised.value))
    texts.extend(record.getMessage() for record in caplog.records)
    for text in texts:
        assert key not in text and session not in text
    assert "session_id" not in cookies  # not whitelisted: the session never went to the sign server


async def test_session_goes_to_a_whitelisted_sign_server_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHITELIST_AUTHENTICATED_SESSION_ID_HOST", "127.0.0.1")
    async with _sim() as sim:
        sim.script(end())
        client = sim.client(session_id="SESSION-abcdef")
        await asyncio.wait_for(client.connect(), TIMEOUT)
        assert sim.sign_requests[0].query.get("session_id") == "<redacted>"


@contextlib.asynccontextmanager
async def _forward_proxy() -> AsyncIterator[tuple[str, list[str]]]:
    """A minimal HTTP forward proxy (absolute-form requests, WebSocket upgrades included) that logs request lines."""
    seen: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            line, _, rest = head.partition(b"\r\n")
            method, target, version = line.decode().split(" ")
            seen.append(f"{method} {target}")
            scheme_host, _, path = target.partition("://")[2].partition("/")
            host, _, port = scheme_host.partition(":")
            upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port or 80))
            upstream_writer.write(f"{method} /{path} {version}\r\n".encode() + rest)

            async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter, log: bool) -> None:
                with contextlib.suppress(ConnectionError):
                    while data := await source.read(65536):
                        if log:  # later requests on this kept-alive connection, also in absolute form
                            seen.extend(m.decode() for m in re.findall(rb"(?:GET|POST|CONNECT) \S+ HTTP/1", data))
                        sink.write(data)
                        await sink.drain()
                sink.close()

            await asyncio.gather(pump(reader, upstream_writer, True), pump(upstream_reader, writer, False))
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        server.close()


async def test_a_proxy_carries_http_and_websocket_alike() -> None:
    async with _forward_proxy() as (proxy, seen), _sim() as sim:
        sim.script(comment("a", "via proxy"), end())
        client = sim.client(proxy=proxy)
        texts = _texts(client)
        await asyncio.wait_for(client.connect(), TIMEOUT)
    assert texts == ["via proxy"]
    assert any("/webcast/fetch" in line for line in seen), seen
    assert any("/webcast/im/ws_proxy/" in line for line in seen), seen
    assert any("/@simulator/live" in line for line in seen)


async def test_an_unreachable_proxy_is_a_typed_error() -> None:
    async with _sim() as sim:
        client = sim.client(proxy="http://127.0.0.1:9", reconnect=FAST)
        with pytest.raises(RequestError) as raised:  # the first request (the live page) already fails
            await asyncio.wait_for(client.connect(), TIMEOUT)
        assert raised.value.status is None and raised.value.retryable


async def test_captcha_pages_and_malformed_json_give_room_id_not_found_with_a_hint() -> None:
    from aiohttp import web

    from tiktok_live import RoomIdNotFoundError

    async def captcha(_: web.Request) -> web.Response:
        return web.Response(text="<html>verify you are human</html>")

    async def broken_json(_: web.Request) -> web.Response:
        return web.Response(text="{not json", content_type="text/html")

    app = web.Application()
    app.router.add_get("/@someone/live", captcha)
    app.router.add_get("/api-live/user/room/", broken_json)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        url = f"http://127.0.0.1:{port}"
        client = TikTokLiveClient("@someone", web_url=url, webcast_url=url, sign_url=url)
        with pytest.raises(RoomIdNotFoundError, match="captcha") as raised:
            await asyncio.wait_for(client.connect(), TIMEOUT)
        assert "room_id=" in str(raised.value)  # the hint: pass the room id directly
    finally:
        await runner.cleanup()
