"""The web app of ``tiktok-live serve``: the dashboard, the OBS overlays and their event stream, on aiohttp.

Routes:

- ``GET /``: the dashboard; ``GET /overlay/chat``, ``/overlay/gifts``, ``/overlay/goal``: the overlays (static
  HTML; options in the query string, read by the page's script);
- ``GET /events``: the Server-Sent Events stream (see :mod:`tiktok_live.web.hub`). Query: ``types`` (comma-separated
  event type names; empty: none; absent: all), ``backlog`` (how many held events a fresh page gets; default all
  held), ``state=0`` (no ``state`` messages), ``last_id`` (resume point, as ``Last-Event-ID``);
- ``GET /api/state``: the room's totals and connection state (:meth:`RoomState.snapshot`) as JSON;
- ``GET /static/...``: the pages' scripts and styles (shipped in the package: no CDN, no build step);
- ``GET /assets/...``: the files of ``assets_dir`` when given (your own CSS, for ``?css=/assets/mine.css``).

The app runs on the client's event loop. Every response carries a strict Content-Security-Policy (scripts and
styles from this origin only), and when bound to a loopback address only loopback ``Host`` names are answered,
which stops DNS-rebinding pages from reading the stream.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Final, Self

from aiohttp import web
from aiohttp.typedefs import Handler

from tiktok_live import events
from tiktok_live._base import BaseEvent
from tiktok_live._generated.names import EVENT_SETS
from tiktok_live.jsonl import event_to_json
from tiktok_live.web._config import DEFAULT_DISPLAY_TIME, DEFAULT_HOST, DEFAULT_PORT, is_loopback
from tiktok_live.web.hub import (
    DEFAULT_BACKLOG,
    DEFAULT_BACKLOG_BYTES,
    KEEPALIVE,
    EventHub,
    compact_json,
    state_chunk,
)
from tiktok_live.web.state import RoomState

if TYPE_CHECKING:
    from tiktok_live.client import TikTokLiveClient

__all__ = [
    "DEFAULT_DISPLAY_TIME",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "EVENT_TYPES",
    "PAGES",
    "STATIC_DIR",
    "WebServer",
    "is_loopback",
]

logger = logging.getLogger(__name__)

STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
"""The pages, scripts and styles shipped in the package."""
PAGES: Final = {
    "/": "dashboard.html",
    "/overlay/chat": "chat.html",
    "/overlay/gifts": "gifts.html",
    "/overlay/goal": "goal.html",
}
"""Page routes and the static HTML file each serves."""
EVENT_TYPES: Final[tuple[type[BaseEvent], ...]] = tuple(
    getattr(events, name) for name in (*EVENT_SETS["core"], *EVENT_SETS["dashboard_connection"])
)
"""The events the server subscribes to and streams: codegen/events.toml's ``core`` and ``dashboard_connection``
sets (``ErrorEvent`` is left out: it carries exception reprs)."""
STATE_INTERVAL: Final = 0.25
"""Seconds between two ``state`` messages to one browser (changes in between are coalesced)."""
WRITE_TIMEOUT: Final = 10.0
"""Seconds one write to a browser may take before the browser is dropped as stuck."""
MAX_WRITE: Final = 256 * 1024
"""Bytes of events joined into one write to a browser (or one event, if larger): a new page's backlog goes out in
pieces this size, so neither the joined copy nor the socket's send buffer holds the whole backlog per page."""
_LOOPBACK_NAMES: Final = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
_CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: http: data:; "
    "connect-src 'self'; font-src 'self' data:; base-uri 'none'; form-action 'none'"
)


def _types(value: str | None) -> frozenset[str] | None:
    if value is None:
        return None
    return frozenset(part.strip() for part in value.split(",") if part.strip())


def _int(value: str | None) -> int | None:
    digits = value.strip().removeprefix("-") if value is not None else ""
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 19):  # "²" is a digit that int() refuses
        return None
    return int(value or "")


class WebServer:
    """The dashboard and overlays of one room: an :class:`EventHub`, a :class:`RoomState` and an aiohttp app.

    >>> server = WebServer(unique_id="someone")
    >>> server.attach(client)                 # the client's events now reach every page
    >>> await server.start("127.0.0.1", 8080)
    >>> ...
    >>> await server.stop()

    ``start`` and ``stop`` may alternate (a restart keeps the hub and its backlog); ``async with WebServer()`` listens
    on 127.0.0.1 and a free port (:attr:`port`). ``backlog`` events, at most ``backlog_bytes`` of them, are kept for
    pages that open late or reconnect. ``display_time`` is the overlays' default message time in seconds (0: keep);
    ``assets_dir`` is served at ``/assets/``; ``keepalive`` is the seconds between pings on an idle stream.
    """

    def __init__(
        self,
        *,
        unique_id: str = "",
        backlog: int = DEFAULT_BACKLOG,
        backlog_bytes: int = DEFAULT_BACKLOG_BYTES,
        display_time: float = DEFAULT_DISPLAY_TIME,
        assets_dir: Path | None = None,
        keepalive: float = 15.0,
        hub: EventHub | None = None,
    ) -> None:
        if display_time < 0:
            raise ValueError("display_time cannot be negative")
        if keepalive <= 0:
            raise ValueError("keepalive must be positive")
        if assets_dir is not None and not assets_dir.is_dir():
            raise ValueError(f"assets folder {assets_dir} does not exist")
        self.hub = hub if hub is not None else EventHub(backlog=backlog, backlog_bytes=backlog_bytes)
        self.state = RoomState(unique_id)
        self.display_time = display_time
        self.assets_dir = assets_dir
        self.keepalive = keepalive
        self._runner: web.AppRunner | None = None
        self._host = DEFAULT_HOST
        self._port = 0
        self._state_cache: tuple[int, bytes] = (-1, b"")

    # ── events in ────────────────────────────────────────────────────────────────────────────────────────────

    def attach(self, client: TikTokLiveClient) -> None:
        """Subscribe to ``client``'s :data:`EVENT_TYPES`: each event updates the state and goes to every page."""

        def handle(event: BaseEvent) -> None:
            if isinstance(event, events.ConnectEvent) and client.room_info is not None:
                info = client.room_info
                self.state.set_room(room_id=info.room_id, title=info.title, host_nickname=info.owner_nickname)
            self.publish(event, room_id=client.room_id)

        for event_type in EVENT_TYPES:
            client.add_listener(event_type, handle)

    def publish(self, event: BaseEvent, *, room_id: int | None = None) -> None:
        """Fold ``event`` into the state and send it (JSON Lines schema v1) to every subscribed page."""
        version = self.state.version
        self.state.apply(event)
        self.hub.publish(event.type, event_to_json(event, room_id=room_id))
        if self.state.version != version:
            self.hub.state_changed()

    def state_changed(self) -> None:
        """Tell the pages that :attr:`state` was changed directly (``set_status``, ``set_room``)."""
        self.hub.state_changed()

    def _state_chunk(self) -> bytes:
        version, chunk = self._state_cache
        if version != self.state.version:
            chunk = state_chunk(compact_json(self.state.snapshot()))
            self._state_cache = (self.state.version, chunk)
        return chunk

    # ── the app ──────────────────────────────────────────────────────────────────────────────────────────────

    def config(self) -> dict[str, object]:
        """What pages are told in the hello: the overlays' default display time, the keepalive period, the host."""
        return {"display_time": self.display_time, "keepalive": self.keepalive, "unique_id": self.state.unique_id}

    def app(self) -> web.Application:
        """A new aiohttp application serving the pages, the event stream and the state (one per start)."""
        app = web.Application(middlewares=[self._guard])
        for path, name in PAGES.items():
            app.router.add_get(path, self._page(name))
        app.router.add_get("/events", self._events)
        app.router.add_get("/api/state", self._api_state)
        app.router.add_static("/static/", STATIC_DIR, follow_symlinks=False)
        if self.assets_dir is not None:
            app.router.add_static("/assets/", self.assets_dir, follow_symlinks=False)
        app.on_response_prepare.append(self._headers)
        app.on_shutdown.append(self._on_shutdown)
        return app

    def _page(self, name: str) -> Handler:
        path = STATIC_DIR / name

        async def page(request: web.Request) -> web.StreamResponse:
            del request
            return web.FileResponse(path, headers={"Content-Type": "text/html; charset=utf-8"})

        return page

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if is_loopback(self._host):
            name = (request.url.host or "").lower()
            if name not in _LOOPBACK_NAMES and not is_loopback(name):
                # A page on another site that rebinds its DNS name to 127.0.0.1 lands here.
                return web.Response(status=421, text="this server only answers on localhost\n")
        return await handler(request)

    @staticmethod
    async def _headers(request: web.Request, response: web.StreamResponse) -> None:
        del request
        response.headers.setdefault("Content-Security-Policy", _CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Cache-Control", "no-cache")

    async def _on_shutdown(self, app: web.Application) -> None:
        del app
        self.hub.close_all()

    async def _api_state(self, request: web.Request) -> web.Response:
        del request
        return web.json_response(self.state.snapshot())

    async def _events(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        wants_state = query.get("state", "1") not in ("0", "false", "no")
        backlog = _int(query.get("backlog"))
        hello: dict[str, object] = {"config": self.config()}
        if wants_state:
            hello["state"] = self.state.snapshot()
        subscription = self.hub.subscribe(
            types=_types(query.get("types")),
            wants_state=wants_state,
            last_event_id=request.headers.get("Last-Event-ID") or query.get("last_id"),
            backlog=backlog,
            hello=hello,
        )
        if subscription is None:
            raise web.HTTPServiceUnavailable(text="too many event streams open\n", headers={"Retry-After": "5"})
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        sent_version = self.state.version
        last_state = last_write = time.monotonic()
        try:
            await response.prepare(request)
            while True:
                timeout = max(0.0, last_write + self.keepalive - time.monotonic())
                if subscription.state_dirty:
                    timeout = min(timeout, max(0.0, last_state + STATE_INTERVAL - time.monotonic()))
                await subscription.wait(timeout)
                now = time.monotonic()
                chunks = subscription.take(MAX_WRITE)
                if subscription.state_dirty and now - last_state >= STATE_INTERVAL:
                    subscription.state_dirty = False
                    if self.state.version != sent_version:
                        chunks.append(self._state_chunk())
                        sent_version = self.state.version
                        last_state = now
                if not chunks:
                    if subscription.closed:
                        break
                    if now - last_write < self.keepalive:
                        continue
                    chunks = [KEEPALIVE]
                await asyncio.wait_for(response.write(b"".join(chunks)), WRITE_TIMEOUT)
                last_write = now
        except (ConnectionError, TimeoutError) as error:
            logger.debug("event stream to %s ended: %s", request.remote, error)
        finally:
            subscription.close()
        if subscription.close_reason == "overflow":
            logger.warning(
                "dropped a page's event stream: it fell behind (more than %d events or %d bytes waiting); "
                "it reconnects and resumes",
                self.hub.queue_limit,
                self.hub.queue_bytes,
            )
        return response

    # ── running ──────────────────────────────────────────────────────────────────────────────────────────────

    async def start(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
        """Listen on ``host``:``port`` (0: any free port; see :attr:`port`). Raises OSError if it is taken."""
        if self._runner is not None:
            raise RuntimeError("the web server is already running")
        self._host = host
        runner = web.AppRunner(self.app(), handler_cancellation=True, shutdown_timeout=2.0, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        addresses = runner.addresses
        self._port = int(addresses[0][1]) if addresses else port
        logger.info("serving on %s", self.url)

    async def stop(self) -> None:
        """Close every event stream, then stop listening. Safe to call twice."""
        runner, self._runner = self._runner, None
        self.hub.close_all()
        if runner is not None:
            await runner.cleanup()

    @property
    def port(self) -> int:
        """The port listened on (after :meth:`start`)."""
        return self._port

    @property
    def host(self) -> str:
        """The address listened on."""
        return self._host

    @property
    def url(self) -> str:
        """The dashboard's URL (``0.0.0.0`` and ``::`` shown as this machine's loopback address)."""
        host = self._host
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self._port}/"

    async def __aenter__(self) -> Self:
        if self._runner is None:
            await self.start(self._host, self._port)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
