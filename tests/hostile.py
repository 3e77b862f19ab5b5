"""Hostile servers for the red-team regression tests: aiohttp applications on 127.0.0.1 that misbehave on purpose.

:class:`HostileServer` serves whatever routes a test gives it, records every request, and offers the pieces of
TikTok's protocol a misbehaving server needs (a sign bundle pointing at its own WebSocket, ``msg`` push frames with
comments and the stream's end, a live check). Nothing here contacts any host but loopback.
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Final, Self

from aiohttp import WSMsgType, web

from tiktok_live import TikTokLiveClient
from tiktok_live._generated.pb import transport_pb2, webcast_pb2
from tiktok_live.testing import comment, end

__all__ = [
    "ROOM_ID",
    "Handler",
    "HostileServer",
    "Seen",
    "Sent",
    "abort",
    "client_for",
    "comment_frame",
    "end_frame",
    "fetch_result",
    "payload_type",
    "stream_body",
    "websocket",
]

ROOM_ID: Final = 7_300_000_000_000_000_123
"""The room every hostile server serves."""
COOKIES: Final = "ttwid=1%7Chostile%7C0; tt_chain_token=hostile"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Play = Callable[[web.Request, web.WebSocketResponse], Awaitable[None]]
_Message = webcast_pb2.ProtoMessageFetchResult.BaseProtoMessage


@dataclass(frozen=True, slots=True)
class Seen:
    """One request a hostile server received: path, query string and headers (as sent)."""

    path: str
    query: str
    headers: dict[str, str] = field(default_factory=dict)


class HostileServer:
    """An aiohttp application on ``127.0.0.1:<free port>`` serving ``routes`` (path -> handler); every request is
    recorded in :attr:`seen`. :meth:`serve_sign` and :meth:`serve_alive` add a working sign server (its bundle
    points at ``ws_path`` on this server) and live check."""

    def __init__(self, routes: dict[str, Handler] | None = None) -> None:
        self.routes: dict[str, Handler] = dict(routes or {})
        self.seen: list[Seen] = []
        self._runner: web.AppRunner | None = None
        self._port = 0

    async def __aenter__(self) -> Self:
        @web.middleware
        async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
            self.seen.append(Seen(request.path, request.query_string, dict(request.headers)))
            return await handler(request)

        app = web.Application(middlewares=[record])
        for path, handler in self.routes.items():
            app.router.add_get(path, handler)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        address = runner.addresses[0]
        self._port = int(address[1])
        self._runner = runner
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self._port}"

    def requests_to(self, path: str) -> list[Seen]:
        """The recorded requests for ``path``."""
        return [seen for seen in self.seen if seen.path == path]

    def serve_sign(self, ws_path: str = "/ws", *, history: Sequence[_Message] = ()) -> None:
        """Add ``/webcast/fetch``: a valid bundle whose ``push_server`` is ``ws_path`` on this server."""

        async def sign(request: web.Request) -> web.Response:
            body = fetch_result(list(history), push_server=f"ws://127.0.0.1:{self._port}{ws_path}", cursor="c0")
            return web.Response(body=body, content_type="application/protobuf", headers={"X-Set-TT-Cookie": COOKIES})

        self.routes["/webcast/fetch"] = sign

    def serve_page(self, user: str = "hostile") -> None:
        """Add ``/@<user>/live``: a live page naming :data:`ROOM_ID`."""

        async def page(request: web.Request) -> web.Response:
            user_info = {"user": {"roomId": str(ROOM_ID), "status": 2}}
            state = json.dumps({"LiveRoom": {"liveRoomUserInfo": user_info}})
            html = f'<script id="SIGI_STATE" type="application/json">{state}</script>'
            return web.Response(text=html, content_type="text/html")

        self.routes[f"/@{user}/live"] = page

    def serve_alive(self) -> None:
        """Add ``/webcast/room/check_alive/``: every room asked about is live."""

        async def alive(request: web.Request) -> web.Response:
            ids = [part for part in request.query.get("room_ids", "").split(",") if part]
            return web.json_response({"data": [{"room_id": int(i), "alive": True} for i in ids], "status_code": 0})

        self.routes["/webcast/room/check_alive/"] = alive


_msg_ids = itertools.count(1)


def fetch_result(messages: list[_Message], *, push_server: str = "", cursor: str = "", need_ack: bool = False) -> bytes:
    """A serialized ``ProtoMessageFetchResult``."""
    result = webcast_pb2.ProtoMessageFetchResult(
        messages=messages,
        cursor=cursor or f"c{next(_msg_ids)}",
        internal_ext="internal_src:hostile",
        push_server=push_server,
        need_ack=need_ack,
        heartbeat_duration=10_000,
    )
    return result.SerializeToString()


def _push(result: bytes, *, compress: bool) -> bytes:
    frame = transport_pb2.PushFrame(
        seq_id=1, log_id=next(_msg_ids), payload_encoding="pb", payload_type="msg", payload=result
    )
    if compress:
        frame.payload = gzip.compress(result, mtime=0)
        frame.headers.add(key="compress_type", value="gzip")
    return frame.SerializeToString()


def comment_frame(msg_id: int, text: str, *, compress: bool = False) -> bytes:
    """One ``msg`` push frame (no ack needed) carrying one comment ``text`` with ``msg_id``."""
    spec = comment("viewer", text)
    payload = spec.render(msg_id=msg_id, room_id=ROOM_ID, create_time=1_700_000_000_000)
    message = _Message(method=spec.method, payload=payload, msg_id=msg_id)
    return _push(fetch_result([message]), compress=compress)


def end_frame(msg_id: int) -> bytes:
    """One ``msg`` push frame carrying the stream's end (``WebcastControlMessage`` action 3)."""
    spec = end()
    payload = spec.render(msg_id=msg_id, room_id=ROOM_ID, create_time=1_700_000_000_000)
    return _push(fetch_result([_Message(method=spec.method, payload=payload, msg_id=msg_id)]), compress=False)


@dataclass(slots=True)
class Sent:
    """Bytes a streaming handler managed to write before the client went away."""

    bytes: int = 0
    finished: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)


def stream_body(total: int, sent: Sent, *, declare_length: bool, status: int = 200, chunk: int = 256 * 1024) -> Handler:
    """A handler writing ``total`` bytes (``'{"a":"xxx…'``: JSON-looking, never complete) in chunks, counting in
    ``sent`` how many the client took before it hung up; ``declare_length`` sends a Content-Length."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=status)
        response.content_type = "application/json"
        if declare_length:
            response.content_length = total
        try:
            await response.prepare(request)
            block = b'{"a":"' + b"x" * (chunk - 6)
            while sent.bytes < total:
                piece = block[: min(chunk, total - sent.bytes)]
                await response.write(piece)
                sent.bytes += len(piece)
            await response.write_eof()
            sent.finished = True
        except (ConnectionError, RuntimeError):
            pass  # the client hung up: what we count is what it took
        finally:
            sent.done.set()
        return response

    return handler


def client_for(server: HostileServer, *, room_id: int | None = ROOM_ID, **options: object) -> TikTokLiveClient:
    """A client of ``server`` (TikTok's site, webcast API and sign server all there), for room :data:`ROOM_ID`
    unless told otherwise, without the room info request."""
    url = server.url
    return TikTokLiveClient(
        "@hostile",
        room_id=room_id,
        web_url=url,
        webcast_url=url,
        sign_url=url,
        **{"fetch_room_info": False, **options},  # type: ignore[arg-type]
    )


def payload_type(data: bytes) -> str:
    """The payload type of a push frame the client sent (``hb``, ``ack``, ``im_enter_room``), or ``?``."""
    try:
        return transport_pb2.PushFrame.FromString(data).payload_type
    except Exception:  # noqa: BLE001 - anything the client sends that is not a frame
        return "?"


def abort(request: web.Request) -> None:
    """Abort the request's TCP connection: no close frame, as a reset would."""
    transport = request.transport
    assert transport is not None
    transport.abort()


def websocket(
    play: Play, *, ping_interval: str | None = None, on_frame: Callable[[str], None] | None = None
) -> Handler:
    """A WebSocket handler: accept (announcing ``Handshake-Options: ping-interval=…`` when given), read what the
    client sends in the background (``on_frame`` gets the payload type of each binary frame), and run ``play``; a
    connection the client broke ends it quietly."""

    async def read(ws: web.WebSocketResponse) -> None:
        async for message in ws:
            if message.type is WSMsgType.BINARY and on_frame is not None:
                on_frame(payload_type(message.data))

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=False)
        if ping_interval is not None:
            ws.headers["Handshake-Options"] = f"ping-interval={ping_interval}"
        await ws.prepare(request)
        reader = asyncio.create_task(read(ws))
        try:
            await play(request, ws)
        except ConnectionError:
            pass  # the client went away
        finally:
            reader.cancel()
            await asyncio.wait({reader})
        return ws

    return handler
