"""Red-team regressions for the client's HTTP side (issue 13): redirects that would carry the API key or session
to another host, rate limits with absurd numbers, secrets in error text, malformed TikTok answers, endless bodies.

Every server is an aiohttp application (or a raw TCP server) on loopback. Waits are bounded; nothing asserts on
timing.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import sys
import traceback
from collections.abc import Callable
from typing import Final

import pytest
from aiohttp import web

from tests.hostile import ROOM_ID, Handler, HostileServer, Sent, client_for, stream_body
from tiktok_live import (
    ReconnectPolicy,
    RequestError,
    RoomIdNotFoundError,
    SignAPIError,
    SignatureRateLimitError,
    TikTokLiveClient,
    TikTokLiveError,
)

TIMEOUT = 30.0
FAST = ReconnectPolicy(base_delay=0.01, max_delay=0.05, max_attempts=3)
KEY: Final = "KEY-sk_live_5ecret0123456789"
SESSION: Final = "SESSION-ab12cd34ef56secret"
SECRETS: Final = (KEY, SESSION, "5ecret0123456789", "ab12cd34ef56secret")
BIG: Final = 64 * 1024 * 1024


def _texts(error: BaseException, caplog: pytest.LogCaptureFixture) -> str:
    """Everything a user could read about ``error``: its text, repr, full traceback (causes included) and every
    log record (message and traceback)."""
    parts = [str(error), repr(error), "".join(traceback.format_exception(error))]
    handler = logging.Handler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    parts.extend(handler.format(record) for record in caplog.records)
    return "\n".join(parts)


def _leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def _redirect(location: Callable[[web.Request], str], status: int = 302) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": location(request)})

    return handler


# ── item 3: the API key never follows a redirect to another host ────────────────────────────────────────────


async def test_a_sign_redirect_to_another_origin_never_carries_the_key() -> None:
    async def empty(request: web.Request) -> web.Response:
        return web.Response(body=b"", content_type="application/protobuf")

    async with HostileServer({"/webcast/fetch": empty}) as other:
        sign = HostileServer({"/webcast/fetch": _redirect(lambda r: f"{other.url}/webcast/fetch?{r.query_string}")})
        sign.serve_alive()
        async with sign:
            client = client_for(sign, sign_api_key=KEY, reconnect=FAST)
            with pytest.raises(SignAPIError, match="redirect") as info:
                await asyncio.wait_for(client.connect(), TIMEOUT)
    assert other.seen == []  # not once, not per retry
    assert "not followed" in str(info.value) and "API key" in str(info.value)
    assert not _leaks(str(info.value))
    assert len(sign.requests_to("/webcast/fetch")) == 1  # a redirect is not worth retrying


async def test_a_sign_redirect_within_the_origin_is_not_followed_either() -> None:
    sign = HostileServer({"/webcast/fetch": _redirect(lambda r: f"/elsewhere/fetch?{r.query_string}", 307)})
    sign.serve_alive()
    async with sign:
        client = client_for(sign, sign_api_key=KEY, reconnect=FAST)
        with pytest.raises(SignAPIError, match="set sign_url to the server's final address"):
            await asyncio.wait_for(client.connect(), TIMEOUT)
    assert sign.requests_to("/elsewhere/fetch") == []


async def test_tiktok_redirects_are_followed_within_the_origin_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The live page and room API carry the session cookie: same-origin redirects are fine, others are refused."""
    async with HostileServer({"/@hostile/live": _redirect(lambda r: "/moved")}) as other:
        page = (
            '<script id="SIGI_STATE" type="application/json">'
            '{"LiveRoom": {"liveRoomUserInfo": {"user": {"roomId": "7300000000000000999", "status": 2}}}}</script>'
        )

        async def moved(request: web.Request) -> web.Response:
            return web.Response(text=page, content_type="text/html")

        tiktok = HostileServer(
            {
                "/@hostile/live": _redirect(lambda r: "/moved"),  # same origin: followed
                "/moved": moved,
                "/api-live/user/room/": _redirect(lambda r: f"{other.url}/@hostile/live"),
            }
        )
        tiktok.serve_alive()
        async with tiktok:
            client = client_for(tiktok, room_id=None, session_id=SESSION, reconnect=FAST)
            with pytest.raises(SignAPIError):  # no sign server here: the lookup itself succeeded
                await asyncio.wait_for(client.connect(), TIMEOUT)
            assert client.room_id == 7300000000000000999

            hostile = HostileServer({"/@hostile/live": _redirect(lambda r: f"{other.url}/@hostile/live")})
            hostile.routes["/api-live/user/room/"] = _redirect(lambda r: f"{other.url}/api")
            async with hostile:
                client = client_for(hostile, room_id=None, session_id=SESSION, reconnect=FAST)
                with pytest.raises(RequestError, match="another origin") as info:
                    await asyncio.wait_for(client.connect(), TIMEOUT)
    assert other.seen == []  # the session cookie never reached the other host
    assert not _leaks(str(info.value))


# ── item 4: absurd Retry-After values are never slept on ────────────────────────────────────────────────────


def _rate_limited(retry_after: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(
            {"message": "slow down"}, status=429, headers={"Retry-After": retry_after, "RateLimit-Reset": retry_after}
        )

    return handler


_RETRYING = re.compile(r"retrying in (\S+) s")


@pytest.mark.parametrize("retry_after", ["1e9", "inf", "nan", "-5", "1e400", "9" * 5000, "soon"])
async def test_absurd_retry_after_values_give_a_typed_error_with_a_sane_wait(
    retry_after: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    policy = ReconnectPolicy(base_delay=0.2, max_delay=0.4, max_attempts=3, jitter=0.0)
    server = HostileServer({"/webcast/fetch": _rate_limited(retry_after)})
    server.serve_alive()
    async with server:
        client = client_for(server, reconnect=policy)
        with pytest.raises(SignatureRateLimitError) as info:
            await asyncio.wait_for(client.connect(), TIMEOUT)
    error = info.value
    for value in (error.retry_after, error.reset_time):
        assert value is None or (math.isfinite(value) and value >= 0), value
    if retry_after == "1e9":  # a real (huge) wait: beyond max_delay, so not retried
        assert error.retry_after == 1e9 and len(server.requests_to("/webcast/fetch")) == 1
    else:  # not a usable number: the policy's backoff, as if the header were absent
        assert error.retry_after is None and len(server.requests_to("/webcast/fetch")) == 3
    waits = [float(match) for match in _RETRYING.findall(caplog.text)]
    assert all(math.isfinite(wait) and wait >= 0.2 for wait in waits), waits
    assert "nan" not in caplog.text and "inf " not in caplog.text


# ── item 5: no secret in any error text, log or traceback ───────────────────────────────────────────────────


async def test_a_sign_redirect_loop_never_shows_the_session_id(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("WHITELIST_AUTHENTICATED_SESSION_ID_HOST", "127.0.0.1")
    caplog.set_level(logging.DEBUG)
    sign = HostileServer({"/webcast/fetch": _redirect(lambda r: f"/webcast/fetch?{r.query_string}")})
    sign.serve_alive()
    async with sign:
        client = client_for(sign, session_id=SESSION, sign_api_key=KEY, reconnect=FAST)
        with pytest.raises(TikTokLiveError) as info:
            await asyncio.wait_for(client.connect(), TIMEOUT)
    assert f"session_id={SESSION}" in sign.requests_to("/webcast/fetch")[0].query  # whitelisted: it was sent
    assert not _leaks(_texts(info.value, caplog))


@pytest.mark.parametrize("status", [401, 429, 418])
async def test_a_sign_server_echoing_the_key_and_session_never_shows_them(
    status: int, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("WHITELIST_AUTHENTICATED_SESSION_ID_HOST", "127.0.0.1")
    caplog.set_level(logging.DEBUG)

    async def echo(request: web.Request) -> web.Response:
        sent = f"key {request.headers.get('X-Api-Key')} session {request.query.get('session_id')}"
        return web.json_response({"message": f"refused: {sent}"}, status=status)

    sign = HostileServer({"/webcast/fetch": echo})
    sign.serve_alive()
    async with sign:
        client = client_for(sign, session_id=SESSION, sign_api_key=KEY, reconnect=FAST)
        with pytest.raises(SignAPIError, match="refused: key \\*\\*\\* session \\*\\*\\*") as info:
            await asyncio.wait_for(client.connect(), TIMEOUT)
    assert not _leaks(_texts(info.value, caplog))


async def _garbage_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: not-a-number\r\n\r\n")
    await writer.drain()
    writer.close()


async def test_a_malformed_http_answer_never_shows_the_session_id(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """aiohttp's own errors (ClientResponseError) print the request URL, query included."""
    monkeypatch.setenv("WHITELIST_AUTHENTICATED_SESSION_ID_HOST", "127.0.0.1")
    caplog.set_level(logging.DEBUG)
    raw = await asyncio.start_server(_garbage_http, "127.0.0.1", 0)
    port = raw.sockets[0].getsockname()[1]
    try:
        alive = HostileServer()
        alive.serve_alive()
        async with alive:
            client = TikTokLiveClient(
                "@hostile",
                room_id=ROOM_ID,
                web_url=alive.url,
                webcast_url=alive.url,
                sign_url=f"http://127.0.0.1:{port}",
                fetch_room_info=False,
                session_id=SESSION,
                reconnect=FAST,
            )
            with pytest.raises(SignAPIError) as info:
                await asyncio.wait_for(client.connect(), TIMEOUT)
    finally:
        raw.close()
        await raw.wait_closed()
    assert not _leaks(_texts(info.value, caplog))


async def test_the_command_line_never_prints_secrets_from_a_redirect_loop() -> None:
    """A sign server that loops and echoes secret-looking values into its Location: stderr (with --debug) shows
    neither the key nor the values."""
    echo = _redirect(lambda r: f"/webcast/fetch?{r.query_string}&api_key={KEY}&session_id={SESSION}")
    sign = HostileServer({"/webcast/fetch": echo})
    sign.serve_page()
    sign.serve_alive()
    async with sign:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tiktok_live",
            "--debug",
            "watch",
            "@hostile",
            "--web-url",
            sign.url,
            "--webcast-url",
            sign.url,
            "--sign-url",
            sign.url,
            "--sign-api-key",
            KEY,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    text = stderr.decode()
    assert process.returncode == 4, text  # a sign server problem
    assert not _leaks(text), text[-2000:]


# ── item 6: malformed TikTok answers are typed errors ───────────────────────────────────────────────────────


def _page(state: str) -> str:
    return f'<html><script id="SIGI_STATE" type="application/json">{state}</script></html>'


def _user(room_id: str) -> str:
    return '{"LiveRoom": {"liveRoomUserInfo": {"user": {"roomId": ' + room_id + ', "status": 2}}}}'


def _api(room_id: str) -> str:
    return '{"data": {"user": {"roomId": ' + room_id + ', "status": 2}, "liveRoom": {"status": 2}}}'


DEEP: Final = "[" * 100_000 + "]" * 100_000
MALFORMED: Final = {
    "superscript-two": ('"²"', '"²"'),
    "5000-digit-number": ("9" * 5000, "9" * 5000),
    "5000-digit-string": ('"' + "9" * 5000 + '"', '"' + "9" * 5000 + '"'),
    "two-to-the-70": (str(2**70), str(2**70)),
    "negative": ("-5", '"-5"'),
    "deep-nesting": (DEEP, DEEP),
}


def _malformed_tiktok(case: str) -> HostileServer:
    room_id, api_room_id = MALFORMED[case]
    deep = case == "deep-nesting"

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=_page(DEEP if deep else _user(room_id)), content_type="text/html")

    async def api(request: web.Request) -> web.Response:
        return web.Response(text=DEEP if deep else _api(api_room_id), content_type="application/json")

    return HostileServer({"/@hostile/live": page, "/api-live/user/room/": api})


@pytest.mark.parametrize("case", list(MALFORMED))
async def test_malformed_room_ids_are_room_id_not_found(case: str) -> None:
    async with _malformed_tiktok(case) as server:
        client = client_for(server, room_id=None, reconnect=FAST)
        with pytest.raises(RoomIdNotFoundError, match="pass room_id="):
            await asyncio.wait_for(client.connect(), TIMEOUT)


async def test_deeply_nested_live_checks_and_room_info_are_handled() -> None:
    async def deep(request: web.Request) -> web.Response:
        return web.Response(text='{"data": ' + DEEP + "}", content_type="application/json")

    server = HostileServer({"/webcast/room/check_alive/": deep, "/webcast/room/info/": deep})
    async with server:
        client = client_for(server, reconnect=FAST)
        client_with_info = TikTokLiveClient(
            "@hostile", room_id=ROOM_ID, web_url=server.url, webcast_url=server.url, sign_url=server.url
        )
        for each in (client, client_with_info):
            with pytest.raises(SignAPIError, match="HTTP 404"):  # the lookups went on to signing, untroubled
                await asyncio.wait_for(each.connect(), TIMEOUT)
    assert len(server.requests_to("/webcast/room/info/")) == 1


@pytest.mark.parametrize("room_id", [2**70, 2**63, 0, -1])
def test_an_impossible_room_id_is_refused_when_given(room_id: int) -> None:
    with pytest.raises(ValueError, match="room_id"):
        TikTokLiveClient("@hostile", room_id=room_id)


@pytest.mark.parametrize("case", ["superscript-two", "5000-digit-number", "two-to-the-70", "deep-nesting"])
async def test_the_command_line_reports_malformed_answers_without_a_traceback(case: str) -> None:
    async with _malformed_tiktok(case) as server:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tiktok_live",
            "watch",
            "@hostile",
            "--web-url",
            server.url,
            "--webcast-url",
            server.url,
            "--sign-url",
            server.url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    text = stderr.decode()
    assert process.returncode == 5, text  # a connection problem (the room id), not a crash (1)
    assert "Traceback" not in text and "could not find the room id of @hostile" in text


# ── item 12: what is read from a body is capped ─────────────────────────────────────────────────────────────


@pytest.mark.parametrize("declare_length", [True, False])
async def test_an_endless_live_page_is_capped(declare_length: bool) -> None:
    page, api = Sent(), Sent()
    server = HostileServer(
        {
            "/@hostile/live": stream_body(BIG, page, declare_length=declare_length),
            "/api-live/user/room/": stream_body(BIG, api, declare_length=declare_length),
        }
    )
    async with server:
        client = client_for(server, room_id=None, reconnect=FAST)
        with pytest.raises(RequestError, match="over the limit"):
            await asyncio.wait_for(client.connect(), TIMEOUT)
        await asyncio.wait_for(asyncio.gather(page.done.wait(), api.done.wait()), TIMEOUT)
    assert not page.finished and not api.finished
    assert page.bytes < BIG // 2 and api.bytes < BIG // 2


@pytest.mark.parametrize("declare_length", [True, False])
async def test_an_endless_sign_body_is_capped(declare_length: bool) -> None:
    body = Sent()
    server = HostileServer({"/webcast/fetch": stream_body(BIG, body, declare_length=declare_length)})
    server.serve_alive()
    async with server:
        client = client_for(server, reconnect=FAST)
        with pytest.raises(SignAPIError, match="over the limit"):
            await asyncio.wait_for(client.connect(), TIMEOUT)
        await asyncio.wait_for(body.done.wait(), TIMEOUT)
    assert not body.finished and body.bytes < BIG // 2
    assert len(server.requests_to("/webcast/fetch")) == 1  # the same answer would come again: not retried


async def test_max_body_size_sets_the_cap() -> None:
    async def body(request: web.Request) -> web.Response:
        return web.Response(body=b"\xff" * 5_000, content_type="application/protobuf")

    server = HostileServer({"/webcast/fetch": body})
    server.serve_alive()
    async with server:
        with pytest.raises(SignAPIError, match="over the limit of 1000"):
            await asyncio.wait_for(client_for(server, max_body_size=1_000, reconnect=FAST).connect(), TIMEOUT)
        with pytest.raises(SignAPIError, match="unreadable bundle"):  # read whole, then found not to be protobuf
            await asyncio.wait_for(client_for(server, max_body_size=10_000, reconnect=FAST).connect(), TIMEOUT)
