"""Red-team regression for the dashboard (issue 13): a session id never reaches the ``error`` field of the page's
state, whatever the sign server answers when the client reconnects."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Final

import pytest
from aiohttp import web

from tests.hostile import HostileServer, abort, client_for, comment_frame, fetch_result
from tiktok_live import ReconnectPolicy, TikTokLiveClient
from tiktok_live.web import cli as web_cli
from tiktok_live.web.app import WebServer

SESSION: Final = "SESSION-ab12cd34ef56secret"
TIMEOUT = 30.0


async def test_a_sign_redirect_loop_on_reconnect_never_shows_the_session_id_on_the_dashboard(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("WHITELIST_AUTHENTICATED_SESSION_ID_HOST", "127.0.0.1")
    caplog.set_level(logging.DEBUG)
    signs = 0

    async def sign(request: web.Request) -> web.Response:
        nonlocal signs
        signs += 1
        if signs > 1:  # every reconnect: a redirect to itself, session id and all
            return web.Response(status=302, headers={"Location": f"/webcast/fetch?{request.query_string}"})
        body = fetch_result([], push_server=f"ws://{request.host}/ws", cursor="c0")
        return web.Response(body=body, content_type="application/protobuf", headers={"X-Set-TT-Cookie": "ttwid=1"})

    async def socket(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_bytes(comment_frame(1, "hi"))
        abort(request)  # a drop: the client reconnects, signing again
        return ws

    server = HostileServer({"/webcast/fetch": sign, "/ws": socket})
    server.serve_alive()
    async with server:

        def make_client() -> TikTokLiveClient:
            policy = ReconnectPolicy(base_delay=0.01, max_delay=0.05, max_attempts=2)
            return client_for(server, session_id=SESSION, reconnect=policy)

        dashboard = WebServer(unique_id="hostile")
        await asyncio.wait_for(web_cli.follow(dashboard, make_client), TIMEOUT)
    snapshot = dashboard.state.snapshot()
    assert signs > 1 and f"session_id={SESSION}" in server.requests_to("/webcast/fetch")[1].query
    assert snapshot["status"] == "failed" and snapshot["error"]
    assert SESSION not in json.dumps(snapshot)
    assert SESSION not in caplog.text
