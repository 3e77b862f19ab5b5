"""The live client: connect to a TikTok LIVE room and dispatch its messages as typed events.

Connect sequence (protocol.md §1): resolve the room id (live page, then the room API), check the room is live,
fetch room info, ask the sign server for the connection bundle, open the WebSocket with its cookies, enter the
room, then read push frames: ack those that need it, decode only what someone listens to, emit events and derived
events, send heartbeats, and reconnect (signing again) when the socket drops or goes silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol, Self, TypeVar, overload
from urllib.parse import quote, urlencode, urlsplit

import aiohttp
from google.protobuf.message import DecodeError

from tiktok_live._base import BaseEvent, UnknownEvent
from tiktok_live._buffer import DropOldestBuffer
from tiktok_live._connection import ConnectEvent, DisconnectEvent, ReconnectEvent, WebsocketResponseEvent
from tiktok_live._derived import DERIVED, LiveEndEvent, derive
from tiktok_live._emitter import E, Emitter, Handler
from tiktok_live._generated.events import ControlEvent
from tiktok_live._generated.pb import transport_pb2, webcast_pb2
from tiktok_live._generated.registry import REGISTRY
from tiktok_live._protocol import (
    DEFAULT_MAX_DECOMPRESSED_SIZE,
    decode_fetch_result,
    decode_push_frame,
    frame_payload,
)
from tiktok_live.errors import (
    AgeRestrictedError,
    FrameDecodeError,
    RoomIdNotFoundError,
    SignAPIError,
    SignAPIKeyError,
    SignatureRateLimitError,
    TikTokLiveError,
    UserNotFoundError,
    UserOfflineError,
    WebcastBlockedError,
    WebSocketRejectedError,
)
from tiktok_live.recording import Recorder, RecordingError, SignRecord, read_recording

__all__ = ["EventStream", "ReconnectPolicy", "RoomInfo", "SignGate", "TikTokLiveClient"]

logger = logging.getLogger(__name__)

DEFAULT_WEB_URL: Final = "https://www.tiktok.com"
DEFAULT_WEBCAST_URL: Final = "https://webcast.tiktok.com"
DEFAULT_SIGN_URL: Final = "https://api.eulerstream.com"
DEFAULT_USER_AGENT: Final = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
SIGN_CLIENT: Final = "ttlive-python"
E1 = TypeVar("E1", bound=BaseEvent)
E2 = TypeVar("E2", bound=BaseEvent)
E3 = TypeVar("E3", bound=BaseEvent)
_UNIQUE_ID = re.compile(r"^[A-Za-z0-9._]{1,64}$")
_SIGI_STATE = re.compile(r'<script id="SIGI_STATE" type="application/json">(.*?)</script>', re.DOTALL)
_OFFLINE: Final = 4
_SESSION_COOKIES: Final = frozenset({"sessionid", "sessionid_ss", "sid_tt", "sid_guard"})
_SHUTDOWN_GRACE: Final = 0.1
_RATE_LIMIT_PAUSE: Final = 5.0
_YIELD_EVERY: Final = 0.02
_AGE_RESTRICTED_STATUS: Final = 4003110


class SignGate(Protocol):
    """Paces a client's sign requests (``TikTokLiveClient(sign_gate=...)``), e.g. one shared by many rooms.

    ``acquire`` is awaited before every sign request (connects and reconnects); ``pause`` is called when the sign
    server answers 429, with the seconds it asked to wait.
    """

    async def acquire(self) -> None:
        """Wait until a sign request may be sent."""

    def pause(self, seconds: float) -> None:
        """Hold every sign request for ``seconds`` (the server rate-limited us)."""


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """When and how the client reconnects after the socket drops or goes silent.

    Delays grow exponentially from ``base_delay`` to ``max_delay`` with ±``jitter`` (a fraction); after
    ``max_attempts`` failed attempts in a row (counting connections that die early — before ``reset_after``
    seconds and ``reset_after_frames`` frames — as failures) the client stops with the last error.
    ``enabled=False`` never reconnects. Sign-server rate limits (``Retry-After``) are honoured up to
    ``max_delay``.
    """

    enabled: bool = True
    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0
    jitter: float = 0.2
    reset_after: float = 60.0
    """A connection that lasted this long (seconds) resets the attempt count..."""
    reset_after_frames: int = 10
    """...as does one that delivered this many frames: only connections that die early count as failures."""

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The delay before reconnect attempt ``attempt`` (1-based)."""
        raw: float = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return max(0.0, raw * (1.0 + rng.uniform(-self.jitter, self.jitter)))


@dataclass(frozen=True, slots=True)
class RoomInfo:
    """The room as ``/webcast/room/info/`` describes it. ``raw`` holds the whole ``data`` object."""

    room_id: int
    title: str
    status: int
    user_count: int
    like_count: int
    total_user: int
    owner_unique_id: str
    owner_nickname: str
    raw: Mapping[str, object] = field(repr=False)

    @property
    def is_live(self) -> bool:
        """Whether the room is live (status 2) or paused (3), not offline (4)."""
        return self.status != _OFFLINE


class EventStream(DropOldestBuffer[E]):
    """An async iterator over some event classes, fed by the client through a bounded buffer.

    The reader never waits for a slow consumer: when the buffer is full the oldest event is dropped and counted
    in ``dropped`` (with a warning). Iteration ends when the client disconnects (after the buffered events).
    """

    _label = "event stream"

    def __init__(self, types: tuple[type[E], ...], maxsize: int, on_close: Callable[[EventStream[E]], None]) -> None:
        super().__init__(maxsize, on_close)
        self.types = types


def sign_settings(sign_url: str | None, sign_api_key: str | None) -> tuple[str, str | None]:
    """The sign server origin and API key a client uses: the arguments, else ``$SIGN_API_URL`` and
    ``$SIGN_API_KEY``, else Euler Stream's public server and no key."""
    key = sign_api_key if sign_api_key is not None else os.environ.get("SIGN_API_KEY") or None
    return (sign_url or os.environ.get("SIGN_API_URL") or DEFAULT_SIGN_URL).rstrip("/"), key


def normalize_unique_id(value: str) -> str:
    """``"@user"``, ``"user"`` or ``"https://www.tiktok.com/@user/live"`` -> ``"user"``; ValueError if invalid."""
    text = value.strip()
    text = re.sub(r"^https?://(www\.)?tiktok\.com/", "", text)
    text = text.removesuffix("/").removesuffix("/live").removeprefix("@").strip()
    if not _UNIQUE_ID.fullmatch(text):
        raise ValueError(f"not a TikTok @handle: {value!r} (letters, digits, '.' and '_', at most 64)")
    return text


@dataclass(slots=True)
class _Bundle:
    """What the sign server returned: the first fetch result and the cookies for the WebSocket."""

    result: webcast_pb2.ProtoMessageFetchResult
    cookies: dict[str, str]


class _SocketClosed(Exception):
    """The socket ended; ``code`` is its close code (None: no close frame), ``silent`` if the watchdog fired."""

    def __init__(self, code: int | None, reason: str, silent: bool = False) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.silent = silent


class TikTokLiveClient:
    """Connects to one TikTok LIVE room and emits its events.

    >>> client = TikTokLiveClient("@someone")
    >>> @client.on(CommentEvent)
    ... async def on_comment(event: CommentEvent) -> None:
    ...     print(event.user.nickname, event.comment)
    >>> client.run()

    The three base URLs are origins; the client appends TikTok's paths, so a simulator or a recording proxy that
    serves those paths on one origin works unchanged. ``sign_api_key`` defaults to ``$SIGN_API_KEY`` and
    ``sign_url`` to ``$SIGN_API_URL`` (else Euler Stream's public sign server). ``proxy`` applies to every
    request and the WebSocket. ``session_id`` (a logged-in ``sessionid`` cookie) goes with TikTok's own requests,
    and to the sign server only when ``$WHITELIST_AUTHENTICATED_SESSION_ID_HOST`` names its host. TLS is always
    verified; the API key and cookies never appear in logs, reprs or errors.
    """

    def __init__(
        self,
        unique_id: str,
        *,
        room_id: int | None = None,
        sign_api_key: str | None = None,
        sign_url: str | None = None,
        web_url: str = DEFAULT_WEB_URL,
        webcast_url: str = DEFAULT_WEBCAST_URL,
        session: aiohttp.ClientSession | None = None,
        proxy: str | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        fetch_room_info: bool = True,
        process_initial_messages: bool = True,
        reconnect: ReconnectPolicy | None = None,
        watchdog_timeout: float = 30.0,
        heartbeat_interval: float | None = None,
        http_timeout: float = 10.0,
        max_frame_size: int = 8 * 1024 * 1024,
        max_decompressed_size: int = DEFAULT_MAX_DECOMPRESSED_SIZE,
        dedupe_size: int = 10_000,
        recorder: Recorder | None = None,
        session_id: str | None = None,
        tt_target_idc: str = "useast1a",
        sign_gate: SignGate | None = None,
    ) -> None:
        self.unique_id = normalize_unique_id(unique_id)
        self._room_id = room_id
        self._room_id_given = room_id is not None
        self._sign_url, self._sign_api_key = sign_settings(sign_url, sign_api_key)
        self._web_url = web_url.rstrip("/")
        self._webcast_url = webcast_url.rstrip("/")
        self._session = session
        self._owns_session = session is None
        self._proxy = proxy
        self._user_agent = user_agent
        self._fetch_room_info = fetch_room_info
        self._process_initial = process_initial_messages
        self.reconnect_policy = reconnect or ReconnectPolicy()
        self._watchdog = watchdog_timeout
        self._heartbeat_override = heartbeat_interval
        self._http_timeout = http_timeout
        self._max_frame_size = max_frame_size
        self._max_decompressed = max_decompressed_size
        self._rng = random.Random()
        self._recorder = recorder
        self._sign_gate = sign_gate

        self._emitter = Emitter()
        self._emitter.on_change = self._recompute
        self._streams: list[EventStream[BaseEvent]] = []
        self._stream_types: dict[type[BaseEvent], list[EventStream[BaseEvent]]] = {}
        self._wanted: frozenset[type[BaseEvent]] = frozenset({ControlEvent})
        self._targets: frozenset[type[BaseEvent]] = frozenset()

        self._seen: OrderedDict[int, None] = OrderedDict()
        self._dedupe_size = dedupe_size
        self._cookies: dict[str, str] = {"tt-target-idc": tt_target_idc}
        self._session_id = session_id
        self._tt_target_idc = tt_target_idc
        self._warned_session = False
        if session_id:
            # A logged-in session: TikTok's own requests carry it (18+ rooms, all comments)...
            self._cookies.update(sessionid=session_id, sessionid_ss=session_id, sid_tt=session_id)
        self._cursor = ""
        self._internal_ext = ""
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._heartbeat_seq = 0
        self._ended = False
        self._closing = False
        self._last_frame = 0.0
        self._opened_at = 0.0
        self._frames = 0
        self._attempts = 0
        self._close_code: int | None = None
        self._close_reason = ""
        self.room_info: RoomInfo | None = None
        """Room information fetched while connecting (None until then, or when fetch_room_info=False)."""
        self.decoded_messages = 0
        """How many message payloads this client decoded (lazy dispatch skips unsubscribed ones)."""

    # ── public API ────────────────────────────────────────────────────────────────────────────────────────────

    @property
    def room_id(self) -> int | None:
        """The room id: given, or resolved while connecting."""
        return self._room_id

    @property
    def connected(self) -> bool:
        """Whether the WebSocket is open right now."""
        return self._ws is not None and not self._ws.closed

    def on(self, event_type: type[E]) -> Callable[[Handler[E]], Handler[E]]:
        """Decorator: call the decorated sync or async function for every ``event_type`` event."""

        def register(handler: Handler[E]) -> Handler[E]:
            self._emitter.add_listener(event_type, handler)
            return handler

        return register

    def add_listener(self, event_type: type[E], handler: Handler[E]) -> None:
        """Call ``handler`` (sync or async) for every ``event_type`` event."""
        self._emitter.add_listener(event_type, handler)

    def remove_listener(self, event_type: type[E], handler: Handler[E]) -> None:
        """Stop calling ``handler`` for ``event_type``."""
        self._emitter.remove_listener(event_type, handler)

    @overload
    def stream(self, first: type[E1], /, *, maxsize: int = 1000) -> EventStream[E1]: ...
    @overload
    def stream(self, first: type[E1], second: type[E2], /, *, maxsize: int = 1000) -> EventStream[E1 | E2]: ...
    @overload
    def stream(
        self, first: type[E1], second: type[E2], third: type[E3], /, *, maxsize: int = 1000
    ) -> EventStream[E1 | E2 | E3]: ...
    @overload
    def stream(self, *event_types: type[E], maxsize: int = 1000) -> EventStream[E]: ...
    def stream(self, *event_types: type[BaseEvent], maxsize: int = 1000) -> EventStream[Any]:
        """An async iterator over events of ``event_types``, buffered up to ``maxsize`` (oldest dropped beyond).

        Typed as the union of the classes: ``client.stream(CommentEvent, GiftEvent)`` yields
        ``CommentEvent | GiftEvent``. Iteration ends when the client disconnects.

        >>> async for event in client.stream(CommentEvent, GiftEvent): ...
        """
        if not event_types:
            raise ValueError("stream() needs at least one event class")
        stream: EventStream[BaseEvent] = EventStream(event_types, maxsize, self._close_stream)
        self._streams.append(stream)
        self._recompute()
        return stream

    async def start(self) -> asyncio.Task[None]:
        """Connect (room id, checks, sign, WebSocket, enter room) and return the running reader task.

        Raises the typed error of the first step that fails (UserNotFoundError, UserOfflineError, SignAPIError, ...).
        """
        if self._reader is not None and not self._reader.done():
            raise RuntimeError("this client is already connected; call disconnect() first")
        self._ended = self._closing = False
        self._close_code, self._close_reason = None, ""
        # A new session: a fresh reconnect budget and stream position, and the room looked up again (the host's
        # next LIVE has a new room id) unless the caller gave one.
        self._attempts = 0
        self._cursor = self._internal_ext = ""
        if not self._room_id_given:
            self._room_id = None
        try:
            if self._session is None:
                # No cookie jar: the client sends exactly the cookies it chose (a jar would merge whatever TikTok
                # sets, session cookies included, into the WebSocket request and across rooms).
                self._session = aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(total=self._http_timeout), cookie_jar=aiohttp.DummyCookieJar()
                )
            if self._room_id is None:
                self._room_id = await self._resolve_room_id()
            await self._check_live()
            if self._fetch_room_info:
                self.room_info = await self._load_room_info()
            await self._open(await self._sign_with_retry())
        except BaseException:
            await self._release()
            self._close_streams()
            raise
        self._reader = asyncio.create_task(self._run(), name=f"tiktok-live reader @{self.unique_id}")
        return self._reader

    async def connect(self) -> None:
        """Connect and return when the stream ends (or ``disconnect()`` is called); raises like :meth:`start`."""
        task = await self.start()
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if self._closing and task.cancelled() and (current is None or not current.cancelling()):
                return  # disconnect() from elsewhere (a handler, another task) ended the stream: a normal return
            raise
        finally:
            await self.disconnect()  # also on cancellation (task.cancel(), Ctrl-C): close everything cleanly

    def run(self) -> None:
        """Blocking form of :meth:`connect`: runs its own event loop until the stream ends or Ctrl-C."""

        async def main() -> None:
            try:
                await self.connect()
            finally:
                # The loop ends right after: give closed transports a moment to flush the WebSocket close frame
                # (aiohttp's graceful-shutdown advice), so the server sees a clean close.
                await asyncio.sleep(_SHUTDOWN_GRACE)

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(main())

    async def disconnect(self) -> None:
        """Stop reading, end the streams, close the socket and our session. Safe to call twice.

        Handlers already running go on as their own tasks (``connect()`` waits for them when the stream ends by
        itself); ``disconnect()`` does not wait for them, since a handler may be the one calling it."""
        self._closing = True
        reader = self._reader
        if reader is not None and not reader.done() and reader is not asyncio.current_task():
            reader.cancel()
            await asyncio.wait({reader})
        await self._release()
        self._close_streams()

    async def replay(self, path: str | Path, *, speed: float | None = 1.0) -> None:
        """Feed a recording (see :mod:`tiktok_live.recording`) through the same decode and dispatch path as a live
        room, emitting the same events; returns at its end or at the stream's end.

        ``speed`` scales the recorded timing (2.0: twice as fast); None replays as fast as possible. Nothing is
        sent anywhere: acks and heartbeats of a replay go nowhere. Raises RecordingError for a bad file.
        """
        if speed is not None and speed <= 0:
            raise ValueError("speed must be positive (or None for as fast as possible)")
        recording = read_recording(path)
        self._ended = self._closing = False
        self._room_id = recording.room_id or self._room_id
        started = time.monotonic()
        connected = False
        try:
            for record in recording.records:
                if self._ended or self._closing:
                    break
                if speed is not None:
                    delay = record.t / 1000 / speed - (time.monotonic() - started)
                    if delay > 0:
                        await asyncio.sleep(delay)
                if isinstance(record, SignRecord):
                    try:
                        result = decode_fetch_result(record.body)
                    except FrameDecodeError as error:
                        raise RecordingError(f"{path}: a sign record's bundle does not decode: {error}") from error
                    self._emit(ConnectEvent(self.unique_id, record.room_id))
                    connected = True
                    if self._process_initial:
                        self._dispatch(result)
                elif record.direction == "in":
                    await self._on_frame(record.data)
        finally:
            self._close_streams()
            if connected:
                self._emit(DisconnectEvent(None, "stream ended" if self._ended else "end of recording"))
            await self._emitter.drain()

    async def __aenter__(self) -> Self:
        _ = await self.start()  # the reader task stays referenced as self._reader
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.disconnect()

    def __repr__(self) -> str:
        return f"<TikTokLiveClient @{self.unique_id} room_id={self._room_id} connected={self.connected}>"

    # ── dispatch ──────────────────────────────────────────────────────────────────────────────────────────────

    def _recompute(self) -> None:
        """Precompute what to decode and whom to feed; runs when listeners or streams change, not per message."""
        stream_types: dict[type[BaseEvent], list[EventStream[BaseEvent]]] = {}
        for stream in self._streams:
            for event_type in stream.types:
                stream_types.setdefault(event_type, []).append(stream)
        self._stream_types = stream_types
        targets = self._emitter.listened | frozenset(stream_types)
        wanted = set(targets) | {ControlEvent}
        for source, derived in DERIVED.items():
            if any(event_type in targets for event_type in derived):
                wanted.add(source)
        self._targets = targets
        self._wanted = frozenset(wanted)

    def _close_streams(self) -> None:
        for stream in list(self._streams):
            stream.close()

    def _close_stream(self, stream: EventStream[BaseEvent]) -> None:
        with contextlib.suppress(ValueError):
            self._streams.remove(stream)
        self._recompute()

    def _emit(self, event: BaseEvent) -> None:
        event_type = type(event)
        if event_type not in self._targets:
            return
        self._emitter.emit(event)
        for stream in self._stream_types.get(event_type, ()):
            stream.put(event)

    def _dispatch(self, result: webcast_pb2.ProtoMessageFetchResult) -> None:
        """Decode and emit the messages of one fetch result; skips duplicates and unsubscribed methods."""
        wanted = self._wanted
        for message in result.messages:
            msg_id = message.msg_id
            if msg_id:
                if msg_id in self._seen:
                    continue
                self._seen[msg_id] = None
                if len(self._seen) > self._dedupe_size:
                    self._seen.popitem(last=False)
            method = message.method
            event_class = REGISTRY.get(method)
            if event_class is None:
                if UnknownEvent in self._targets:
                    self._emit(UnknownEvent(method, message.payload))
                continue
            if event_class not in wanted:
                continue
            payload = message.payload
            self.decoded_messages += 1
            try:
                event: BaseEvent = event_class.from_bytes(payload)
            except DecodeError as error:
                logger.warning("payload of %s (%d bytes) did not decode: %s", method, len(payload), error)
                self._emit(UnknownEvent(method, payload, error))
                continue
            self._emit(event)
            for derived in derive(event):
                self._emit(derived)
                if isinstance(derived, LiveEndEvent):
                    self._ended = True

    # ── connect steps ─────────────────────────────────────────────────────────────────────────────────────────

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("no HTTP session: call start() first")
        return self._session

    def _web_headers(self) -> dict[str, str]:
        return {
            "User-Agent": self._user_agent,
            "Referer": "https://www.tiktok.com/",
            "Origin": "https://www.tiktok.com",
            "Accept-Language": "en-US,en;q=0.9",
            "Accept": "text/html,application/json,application/protobuf",
        }

    def _browser_params(self) -> dict[str, str]:
        """The browser fingerprint both TikTok's HTTP requests and the WebSocket URL carry (from the UA)."""
        browser_name, _, browser_version = self._user_agent.partition("/")
        return {
            "aid": "1988",
            "app_language": "en",
            "app_name": "tiktok_web",
            "browser_language": "en-US",
            "browser_name": browser_name,
            "browser_online": "true",
            "browser_platform": "Win32",
            "browser_version": browser_version,
            "cookie_enabled": "true",
        }

    def _web_params(self) -> dict[str, str]:
        return {
            **self._browser_params(),
            "device_platform": "web_pc",
            "focus_state": "true",
            "from_page": "user",
            "is_fullscreen": "false",
            "is_page_visible": "true",
            "screen_height": "1080",
            "screen_width": "1920",
            "tz_name": "Europe/London",
            "webcast_language": "en",
        }

    async def _get_text(self, url: str, params: Mapping[str, str] | None = None) -> tuple[int, str]:
        try:
            async with self._http().get(
                url, params=params, headers=self._web_headers(), cookies=self._cookies, proxy=self._proxy
            ) as response:
                return response.status, await response.text(errors="replace")  # captcha pages need not be UTF-8
        except (aiohttp.ClientError, TimeoutError) as error:
            raise WebSocketRejectedError(f"request to {urlsplit(url).netloc} failed: {_safe(error)}") from error

    async def _get_json(self, url: str, params: Mapping[str, str]) -> dict[str, object]:
        status, text = await self._get_text(url, params)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise RoomIdNotFoundError(
                self.unique_id, f"{urlsplit(url).path} answered HTTP {status} with non-JSON (captcha?)"
            ) from error
        if not isinstance(data, dict):
            raise RoomIdNotFoundError(self.unique_id, f"{urlsplit(url).path} answered unexpected JSON")
        return data

    async def _resolve_room_id(self) -> int:
        """Room id from the live page, falling back to the room API (the page is often blocked or changed)."""
        try:
            return await self._room_id_from_page()
        except UserOfflineError:
            raise
        except TikTokLiveError as page_error:
            logger.info("room id from the live page failed (%s); trying the room API", page_error)
            try:
                return await self._room_id_from_api()
            except RoomIdNotFoundError:
                raise page_error from None

    async def _room_id_from_page(self) -> int:
        status, html = await self._get_text(f"{self._web_url}/@{quote(self.unique_id)}/live")
        match = _SIGI_STATE.search(html)
        if match is None:
            raise RoomIdNotFoundError(self.unique_id, f"no SIGI_STATE in the live page (HTTP {status})")
        try:
            state = json.loads(match.group(1))
        except json.JSONDecodeError as error:
            raise RoomIdNotFoundError(self.unique_id, "the live page's SIGI_STATE is not JSON (captcha?)") from error
        live_room = _get(state, "LiveRoom")
        if not isinstance(live_room, dict):
            raise UserNotFoundError(self.unique_id, "no LiveRoom on the live page")
        user = _get(live_room, "liveRoomUserInfo", "user")
        room_status = _int(_get(live_room, "liveRoomUserInfo", "liveRoom", "status"))
        if _OFFLINE in (_int(_get(user, "status")), room_status):
            raise UserOfflineError(self.unique_id)
        room_id = _int(_get(user, "roomId"))
        if not room_id:
            raise RoomIdNotFoundError(self.unique_id, "the live page has no roomId")
        return room_id

    async def _room_id_from_api(self) -> int:
        params = {**self._web_params(), "uniqueId": self.unique_id, "sourceType": "54"}
        data = await self._get_json(f"{self._web_url}/api-live/user/room/", params)
        if data.get("message") == "user_not_found":
            raise UserNotFoundError(self.unique_id, "the room API says user_not_found")
        if _int(data.get("statusCode")) == _AGE_RESTRICTED_STATUS:
            raise AgeRestrictedError(self.unique_id)
        if _OFFLINE in (_int(_get(data, "data", "user", "status")), _int(_get(data, "data", "liveRoom", "status"))):
            raise UserOfflineError(self.unique_id)
        room_id = _int(_get(data, "data", "user", "roomId"))
        if not room_id:
            raise RoomIdNotFoundError(self.unique_id, f"the room API answered without a roomId ({data.get('message')})")
        return room_id

    async def _check_live(self) -> None:
        params = {**self._web_params(), "room_ids": str(self._room_id)}
        try:
            data = await self._get_json(f"{self._webcast_url}/webcast/room/check_alive/", params)
        except TikTokLiveError as error:
            logger.warning("live check failed (%s); going on", error)
            return
        rooms = data.get("data")
        if isinstance(rooms, list) and rooms and isinstance(rooms[0], dict) and rooms[0].get("alive") is False:
            raise UserOfflineError(self.unique_id)

    async def _load_room_info(self) -> RoomInfo | None:
        params = {**self._web_params(), "room_id": str(self._room_id)}
        try:
            body = await self._get_json(f"{self._webcast_url}/webcast/room/info/", params)
        except TikTokLiveError as error:
            logger.warning("room info failed (%s); going on without it", error)
            return None
        data = body.get("data")
        if not isinstance(data, dict) or "prompts" in data or len(data) <= 1:
            raise AgeRestrictedError(self.unique_id)
        status = _int(data.get("status"))
        if status == _OFFLINE:
            raise UserOfflineError(self.unique_id)
        return RoomInfo(
            room_id=self._room_id or 0,
            title=str(data.get("title", "")),
            status=status,
            user_count=_int(data.get("user_count")),
            like_count=_int(_get(data, "stats", "like_count")),
            total_user=_int(_get(data, "stats", "total_user")),
            owner_unique_id=str(_get(data, "owner", "display_id") or ""),
            owner_nickname=str(_get(data, "owner", "nickname") or ""),
            raw=data,
        )

    async def _sign_with_retry(self) -> _Bundle:
        """Sign, retrying rate limits (after Retry-After), 5xx and timeouts within the reconnect policy."""
        policy = self.reconnect_policy
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._sign()
            except SignAPIKeyError:
                raise
            except SignatureRateLimitError as error:
                wait = error.retry_after if error.retry_after is not None else policy.delay(attempt, self._rng)
                if attempt >= policy.max_attempts or not policy.enabled or wait > policy.max_delay:
                    raise
                logger.warning("sign server rate limit: retrying in %.1f s", wait)
                await asyncio.sleep(wait)
            except SignAPIError as error:
                if attempt >= policy.max_attempts or not policy.enabled or not getattr(error, "retryable", False):
                    raise
                wait = policy.delay(attempt, self._rng)
                logger.warning("sign server failed (%s): retrying in %.1f s", error, wait)
                await asyncio.sleep(wait)

    async def _sign(self) -> _Bundle:
        if self._sign_gate is not None:
            await self._sign_gate.acquire()
        try:
            return await self._sign_once()
        except SignatureRateLimitError as error:
            if self._sign_gate is not None:
                self._sign_gate.pause(error.retry_after if error.retry_after is not None else _RATE_LIMIT_PAUSE)
            raise

    async def _sign_once(self) -> _Bundle:
        params = {
            "client": SIGN_CLIENT,
            "room_id": str(self._room_id),
            "user_agent": self._user_agent,
            "platform": "web",
            "client_enter": "true",
        }
        headers = {"User-Agent": "tiktok-live (Python)"}
        if self._sign_api_key:
            headers["X-Api-Key"] = self._sign_api_key
        if self._authenticated_signing():
            params.update(session_id=self._session_id or "", tt_target_idc=self._tt_target_idc)
        url = f"{self._sign_url}/webcast/fetch"
        try:
            async with self._http().get(url, params=params, headers=headers, proxy=self._proxy) as response:
                body = await response.read()
                status = response.status
                response_headers = response.headers
        except TimeoutError as error:
            raise _retryable(
                SignAPIError(f"sign server {urlsplit(url).netloc} timed out after {self._http_timeout:g} s")
            ) from error
        except aiohttp.ClientError as error:
            raise _retryable(SignAPIError(f"sign server {urlsplit(url).netloc} unreachable: {_safe(error)}")) from error
        if status == 429:
            raise SignatureRateLimitError(
                f"the sign server rate-limited this client ({_message(body)}): wait and retry, or use an API key "
                "(SIGN_API_KEY) for higher limits",
                retry_after=_float(response_headers.get("Retry-After")),
                reset_time=_float(response_headers.get("RateLimit-Reset") or response_headers.get("X-RateLimit-Reset")),
            )
        if status in (401, 402, 403):
            raise SignAPIKeyError(
                f"the sign server rejected the API key (HTTP {status}: {_message(body)}): check SIGN_API_KEY"
            )
        if status >= 500:
            raise _retryable(SignAPIError(f"the sign server failed (HTTP {status}); retry later"))
        if status != 200:
            raise SignAPIError(f"the sign server answered HTTP {status}: {_message(body)}")
        if not body:
            raise _retryable(SignAPIError("the sign server returned an empty bundle (are you being detected?)"))
        try:
            result = decode_fetch_result(body)
        except FrameDecodeError as error:
            raise _retryable(SignAPIError(f"the sign server returned an unreadable bundle: {error}")) from error
        if not result.push_server or not result.cursor:
            raise _retryable(SignAPIError("the sign server's bundle lacks push_server or cursor: retry later"))
        cookie_header = response_headers.get("X-Set-TT-Cookie", "")
        if not cookie_header:
            raise _retryable(SignAPIError("the sign server returned no cookies (X-Set-TT-Cookie)"))
        cookies = _parse_cookies(cookie_header)
        if self._recorder is not None:
            self._recorder.sign(self._room_id or 0, body, cookies)
        return _Bundle(result, cookies)

    def _authenticated_signing(self) -> bool:
        """Whether the session id may go to the sign server: only to the host the user named in
        ``$WHITELIST_AUTHENTICATED_SESSION_ID_HOST`` (the peers' rule), since it grants access to the account."""
        if not self._session_id:
            return False
        allowed = os.environ.get("WHITELIST_AUTHENTICATED_SESSION_ID_HOST", "").strip().lower()
        host = (urlsplit(self._sign_url).hostname or "").lower()
        if allowed and allowed == host:
            return True
        if not self._warned_session:
            self._warned_session = True
            logger.warning(
                "a session id is set but not sent to the sign server %s: set "
                "WHITELIST_AUTHENTICATED_SESSION_ID_HOST=%s to allow it; the WebSocket connects without the session",
                host,
                host,
            )
        return False

    def _ws_url(self, bundle: _Bundle) -> str:
        result = bundle.result
        params: dict[str, str] = {
            **self._browser_params(),
            "device_platform": "web",
            "did_rule": "3",
            "identity": "audience",
            "live_id": "12",
            "sup_ws_ds_opt": "1",
            "update_version_code": "2.0.0",
            "version_code": "180800",
            "client_enter": "1",
            "heartbeat_duration": "0",
            "resp_content_type": "protobuf",
            "history_comment_count": "6",
            "last_rtt": str(self._rng.randint(100, 200)),
            "room_id": str(self._room_id),
            "compress": "gzip",
            "cursor": self._cursor or result.cursor,
            "internal_ext": self._internal_ext or result.internal_ext,
        }
        params.update({key: value for key, value in result.route_params.items() if value})
        separator = "&" if "?" in result.push_server else "?"
        return f"{result.push_server}{separator}{urlencode(params)}&version_code=270000"

    async def _open(self, bundle: _Bundle) -> None:
        """Open the WebSocket for ``bundle``, enter the room, start heartbeats, dispatch the first messages."""
        self._cookies.update(bundle.cookies)
        # ...but the WebSocket carries it only when the bundle was signed with it (TikTok rejects a mismatch).
        session_cookies = set() if self._authenticated_signing() else _SESSION_COOKIES
        headers = {
            "User-Agent": self._user_agent,
            "Cookie": "; ".join(f"{k}={v}" for k, v in self._cookies.items() if k not in session_cookies),
        }
        url = self._ws_url(bundle)
        try:
            ws = await self._http().ws_connect(
                url,
                headers=headers,
                autoping=False,
                heartbeat=None,
                proxy=self._proxy,
                max_msg_size=self._max_frame_size,
            )
        except aiohttp.WSServerHandshakeError as error:
            message = error.headers.get("handshake-msg", "") if error.headers is not None else ""
            if error.status in (200, 400) and message:
                raise WebcastBlockedError(
                    f"TikTok rejected the WebSocket: {message} (HTTP {error.status}); often transient or regional — "
                    "retry later, check the user agent, or use a session",
                    handshake_msg=message,
                    status=error.status,
                ) from error
            raise WebSocketRejectedError(
                f"the WebSocket upgrade failed with HTTP {error.status}", status=error.status
            ) from error
        except (aiohttp.ClientError, TimeoutError) as error:
            raise WebSocketRejectedError(f"could not open the WebSocket: {_safe(error)}") from error
        self._ws = ws
        self._close_code, self._close_reason = None, ""  # a previous socket's close is history now
        self._last_frame = self._opened_at = time.monotonic()
        self._frames = 0
        self._cursor = bundle.result.cursor
        self._internal_ext = bundle.result.internal_ext
        await self._send(_frame("im_enter_room", _enter_room(self._room_id or 0)))
        self._heartbeat_seq = 0
        interval = self._heartbeat_override or _ping_interval(ws) or 10.0
        if self._heartbeat is not None:
            self._heartbeat.cancel()  # the old socket's beat (after a reconnect)
        self._heartbeat = asyncio.create_task(self._beat(interval), name="tiktok-live heartbeat")
        logger.info("connected to @%s (room %s)", self.unique_id, self._room_id)
        self._emit(ConnectEvent(self.unique_id, self._room_id or 0))
        if self._process_initial:
            self._dispatch(bundle.result)

    async def _send(self, frame: transport_pb2.PushFrame) -> None:
        """Send one frame; a socket that broke meanwhile becomes a _SocketClosed (reconnect), never a crash."""
        ws = self._ws
        if ws is not None and not ws.closed:
            data = frame.SerializeToString()
            if self._recorder is not None:
                self._recorder.frame("out", data)
            try:
                await ws.send_bytes(data)
            except (aiohttp.ClientError, ConnectionError) as error:
                raise _SocketClosed(ws.close_code, f"socket broke while sending ({type(error).__name__})") from error

    async def _beat(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            self._heartbeat_seq += 1
            beat = transport_pb2.HeartbeatMessage(room_id=self._room_id or 0, send_packet_seq_id=self._heartbeat_seq)
            try:
                await self._send(_frame("hb", beat.SerializeToString()))
            except (aiohttp.ClientError, ConnectionError) as error:
                logger.debug("heartbeat not sent: %s", error)

    # ── reading ───────────────────────────────────────────────────────────────────────────────────────────────

    async def _run(self) -> None:
        """The reader task: read until the stream ends; reconnect per the policy; emit DisconnectEvent last."""
        error: BaseException | None = None
        cancelled = False
        try:
            while True:
                try:
                    await self._read()
                except _SocketClosed as closed:
                    self._close_code, self._close_reason = closed.code, closed.reason
                    if self._ended or self._closing:
                        break
                    if not self.reconnect_policy.enabled:
                        logger.info("socket closed (%s); reconnect disabled", closed.reason)
                        break
                    await self._reconnect(closed)
                    continue
                break
        except asyncio.CancelledError:
            cancelled = True
            raise
        except Exception as failure:
            error = failure
            logger.error("the stream failed: %s", failure)
            self._emitter.report(failure)
            raise
        finally:
            await self._stop_socket()
            self._close_streams()
            reason = self._close_reason or ("stream ended" if self._ended else "disconnected")
            self._emit(DisconnectEvent(self._close_code, reason if error is None else str(error)))
            if not cancelled:
                # Let running async handlers finish. Not after a cancel: disconnect() may be awaited by one of them.
                await self._emitter.drain()

    async def _read(self) -> None:
        """Read frames until the socket closes (raises _SocketClosed) or the stream ends (returns)."""
        ws = self._ws
        if ws is None:
            raise _SocketClosed(None, "no socket")
        yielded = time.monotonic()
        while not self._ended:
            now = time.monotonic()
            if now - yielded > _YIELD_EVERY:
                # receive() does not suspend while frames are buffered: under a flood, let the heartbeat and
                # handler tasks run (TikTok drops sockets that miss heartbeats).
                await asyncio.sleep(0)
                yielded = now
            try:
                message = await ws.receive(timeout=self._watchdog)
            except TimeoutError:
                raise _SocketClosed(None, f"no frame for {self._watchdog:.0f} s", silent=True) from None
            if message.type == aiohttp.WSMsgType.BINARY:
                self._last_frame = time.monotonic()
                self._frames += 1
                if self._recorder is not None:
                    self._recorder.frame("in", message.data)
                await self._on_frame(message.data)
            elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                raise _SocketClosed(ws.close_code, f"socket closed (code {ws.close_code})")
            elif message.type == aiohttp.WSMsgType.ERROR:
                raise _SocketClosed(ws.close_code, f"socket error: {ws.exception()}")
            elif message.type == aiohttp.WSMsgType.PING:
                with contextlib.suppress(aiohttp.ClientError, ConnectionError):
                    await ws.pong(message.data)

    async def _on_frame(self, data: bytes) -> None:
        if WebsocketResponseEvent in self._targets:
            self._emit(WebsocketResponseEvent(data))
        try:
            frame = decode_push_frame(data)
            if frame.payload_type != "msg":
                return
            result = decode_fetch_result(frame_payload(frame, self._max_decompressed))
        except FrameDecodeError as error:
            logger.warning("skipped a bad frame (%d bytes): %s", len(data), error)
            self._emitter.report(error)
            return
        if result.need_ack:
            ack = _frame("ack", (result.internal_ext or "-").encode())
            ack.log_id = frame.log_id
            await self._send(ack)
        if result.cursor:
            self._cursor = result.cursor
        if result.internal_ext:
            self._internal_ext = result.internal_ext
        self._dispatch(result)

    async def _reconnect(self, closed: _SocketClosed) -> None:
        """Reconnect with backoff; raises the last error after ``max_attempts`` failures in a row.

        Attempts count across short-lived connections: one that dies within ``reset_after`` seconds and before
        ``reset_after_frames`` frames does not reset the count, so a server that accepts and drops at once cannot
        cause a reconnect storm.
        """
        await self._stop_socket()
        policy = self.reconnect_policy
        if time.monotonic() - self._opened_at >= policy.reset_after or self._frames >= policy.reset_after_frames:
            self._attempts = 0
        last_error: BaseException | None = None
        while self._attempts < policy.max_attempts:
            self._attempts += 1
            attempt = self._attempts
            delay = policy.delay(attempt, self._rng)
            gap = time.monotonic() - self._last_frame
            logger.warning("%s: reconnecting in %.1f s (attempt %d)", closed.reason, delay, attempt)
            self._emit(ReconnectEvent(attempt, delay, gap, closed.reason))
            await asyncio.sleep(delay)
            try:
                await self._check_live()  # the host may have ended the LIVE while we were away
                await self._open(await self._sign())
                return
            except (SignAPIKeyError, UserOfflineError, UserNotFoundError):
                raise
            except _SocketClosed as error:  # the new socket broke while entering the room
                last_error = WebSocketRejectedError(f"the new socket closed at once: {error.reason}")
                await self._stop_socket()
            except SignatureRateLimitError as error:
                last_error = error
                if error.retry_after and error.retry_after <= policy.max_delay:
                    await asyncio.sleep(error.retry_after)
            except TikTokLiveError as error:
                last_error = error
                logger.warning("reconnect attempt %d failed: %s", attempt, error)
        raise last_error or TikTokLiveError(
            f"the connection kept dropping ({policy.max_attempts} reconnects in a row): TikTok or the network is "
            "unstable; try again later"
        )

    async def _stop_socket(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None
        ws, self._ws = self._ws, None
        if ws is not None and not ws.closed:
            with contextlib.suppress(aiohttp.ClientError, ConnectionError, TimeoutError):
                await asyncio.wait_for(ws.close(), 2.0)

    async def _release(self) -> None:
        await self._stop_socket()
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None


# ── helpers ──────────────────────────────────────────────────────────────────────────────────────────────────


def _frame(payload_type: str, payload: bytes) -> transport_pb2.PushFrame:
    return transport_pb2.PushFrame(payload_encoding="pb", payload_type=payload_type, payload=payload)


def _enter_room(room_id: int) -> bytes:
    message = transport_pb2.EnterRoomMessage(
        room_id=room_id, live_id=12, identity="audience", filter_welcome_msg="0", enter_unique_id=0
    )
    return message.SerializeToString()


def _ping_interval(ws: aiohttp.ClientWebSocketResponse) -> float | None:
    # aiohttp keeps the handshake response private; TikTok announces the heartbeat period in Handshake-Options.
    response = getattr(ws, "_response", None)
    headers = getattr(response, "headers", None)
    options = headers.get("Handshake-Options", "") if headers is not None else ""
    for part in str(options).split(";"):
        key, _, value = part.strip().partition("=")
        if key == "ping-interval":
            interval = _float(value)
            if interval is not None and interval > 0:
                return interval
    return None


_USERINFO = re.compile(r"(\w+://)[^/@\s]*@")


def _safe(error: BaseException) -> str:
    """An error's text without URL credentials (a proxy URL's user:password, say)."""
    return _USERINFO.sub(r"\1***@", str(error)) or type(error).__name__


def _parse_cookies(header: str) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key:
            cookies[key] = value
    return cookies


def _get(data: object, *path: str) -> object:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _int(value: object) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return 0


def _float(value: object) -> float | None:
    try:
        return float(str(value)) if value is not None else None
    except ValueError:
        return None


def _message(body: bytes) -> str:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return body[:200].decode("utf-8", "replace")
    if isinstance(data, dict):
        return str(data.get("message") or data.get("error") or data)[:200]
    return str(data)[:200]


def _retryable(error: SignAPIError) -> SignAPIError:
    error.retryable = True  # type: ignore[attr-defined]
    return error
