"""The live client: connect to a TikTok LIVE room and dispatch its messages as typed events.

Connect sequence: resolve the room id (the host's live page, then the room API), check the room is live, fetch
the room info, ask the sign server for the connection bundle, open the WebSocket with its cookies, enter the room,
then read push frames: ack those that need it, decode only what someone listens to, emit events and derived
events, send heartbeats, and reconnect (signing again) when the socket drops or goes silent.

This module is the façade: listeners, streams, lifecycle and replay. The parts live beside it: the protocol
(:mod:`tiktok_live.protocol`), the room lookup, the sign client and the WebSocket connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Self, TypeVar, Unpack, overload

import aiohttp

from tiktok_live._base import BaseEvent
from tiktok_live._buffer import DropOldestBuffer
from tiktok_live._config import (
    DEFAULT_SIGN_URL,
    DEFAULT_USER_AGENT,
    DEFAULT_WEB_URL,
    DEFAULT_WEBCAST_URL,
    ClientConfig,
    ClientOptions,
    ReconnectPolicy,
    normalize_unique_id,
)
from tiktok_live._connection import ConnectEvent, DisconnectEvent, WebsocketResponseEvent
from tiktok_live._emitter import E, Emitter, Handler
from tiktok_live._info import GiftInfo, RoomOwner, StreamURL
from tiktok_live._live import check_interval, poll_until_live
from tiktok_live._lookup import MAX_ROOM_ID, RoomInfo, RoomLookup
from tiktok_live._proxy import check_session, new_session
from tiktok_live._sign import SignClient, SignGate
from tiktok_live._websocket import Connection
from tiktok_live.errors import EventLoopRunningError, RequestError, TikTokLiveError, UserOfflineError
from tiktok_live.protocol import Received, Session
from tiktok_live.recording import Recorder, SignRecord, read_recording

if TYPE_CHECKING:
    from tiktok_live.video import VideoProgress, VideoRecording

__all__ = [
    "DEFAULT_SIGN_URL",
    "DEFAULT_USER_AGENT",
    "DEFAULT_WEBCAST_URL",
    "DEFAULT_WEB_URL",
    "ClientConfig",
    "ClientOptions",
    "EventStream",
    "GiftInfo",
    "ReconnectPolicy",
    "RoomInfo",
    "RoomOwner",
    "SignGate",
    "StreamURL",
    "TikTokLiveClient",
    "check_live",
    "normalize_unique_id",
]

logger = logging.getLogger(__name__)

E1 = TypeVar("E1", bound=BaseEvent)
E2 = TypeVar("E2", bound=BaseEvent)
E3 = TypeVar("E3", bound=BaseEvent)
_SHUTDOWN_GRACE: Final = 0.1
CHECK_BATCH: Final = 50
"""Room ids per ``/webcast/room/check_alive/`` request in :func:`check_live`."""


class EventStream(DropOldestBuffer[E]):
    """An async iterator over some event classes, fed by the client through a bounded buffer.

    The reader never waits for a slow consumer: when the buffer is full the oldest event is dropped and counted
    in ``dropped`` (with a warning). Iteration ends when the client disconnects (after the buffered events).
    """

    _label = "event stream"

    def __init__(self, types: tuple[type[E], ...], maxsize: int, on_close: Callable[[EventStream[E]], None]) -> None:
        super().__init__(maxsize, on_close)
        self.types = types


class TikTokLiveClient:
    """Connects to one TikTok LIVE room and emits its events.

    >>> client = TikTokLiveClient("@someone")
    >>> @client.on(CommentEvent)
    ... async def on_comment(event: CommentEvent) -> None:
    ...     print(event.user.nickname, event.comment)
    >>> client.run()

    Options are keyword arguments (:class:`ClientOptions`; each is described on :class:`ClientConfig`), or a
    whole ``config=ClientConfig(...)`` that keyword arguments then override. ``room_id`` skips the room lookup.
    ``session``: an aiohttp session to use (never closed by the client; give it no cookie jar; with a SOCKS
    ``proxy`` its connector must be aiohttp-socks' ``ProxyConnector``, else ValueError). ``recorder``
    saves every frame (:mod:`tiktok_live.recording`). ``sign_gate`` paces sign requests (a pool shares one).
    TLS is always verified; the API key, session id and proxy credentials never appear in logs, reprs or errors.

    Lookups need no connection (no sign server, no WebSocket) and work before :meth:`start`:
    :meth:`fetch_room_info`, :meth:`is_live`, :meth:`fetch_gifts`, :meth:`wait_until_live`. With ``follow=True``
    the client keeps watching the host across LIVEs. :meth:`stop` ends a run from any thread.
    """

    def __init__(
        self,
        unique_id: str,
        *,
        room_id: int | None = None,
        config: ClientConfig | None = None,
        session: aiohttp.ClientSession | None = None,
        recorder: Recorder | None = None,
        sign_gate: SignGate | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        self.unique_id = normalize_unique_id(unique_id)
        if room_id is not None and (type(room_id) is not int or not 0 < room_id <= MAX_ROOM_ID):
            raise ValueError(f"room_id must be a positive 64-bit integer (got {room_id!r}), or None to look it up")
        base = config if config is not None else ClientConfig()
        self.config: ClientConfig = base.replace(**options) if options else base
        """The connection options in effect (frozen)."""
        self._room_id = room_id
        self._room_id_given = room_id is not None
        if session is not None:
            check_session(session, self.config.proxy)
        self._session = session
        self._owns_session = session is None
        self._recorder = recorder
        self._emitter = Emitter(self.config.max_handlers_in_flight, strict=self.config.strict)
        self._emitter.on_change = self._recompute
        self._streams: list[EventStream[BaseEvent]] = []
        self._stream_types: dict[type[BaseEvent], list[EventStream[BaseEvent]]] = {}
        self._targets: frozenset[type[BaseEvent]] = frozenset()
        self._decode_everything = False  # a fleet worker exports every message, listened to or not
        self._cookies = _request_cookies(self.config)
        self._lookup = RoomLookup(self.unique_id, self.config, self._http, self._cookies)
        self._signer = SignClient(self.config, self._http, gate=sign_gate)
        self._connection = Connection(
            unique_id=self.unique_id,
            config=self.config,
            http=self._http,
            lookup=self._lookup,
            signer=self._signer,
            cookies=self._cookies,
            deliver=self._deliver,
            emit=self._emit,
            recorder=recorder,
        )
        self._reader: asyncio.Task[None] | None = None
        self._opening: asyncio.Task[None] | None = None
        self._closing = False
        self._active = False  # from start() to disconnect(): the session is the connection's, not a lookup's
        self._lookups = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested = False
        self._stop_tasks: set[asyncio.Task[None]] = set()
        self._ended_room: int | None = None
        self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self._decoded_before = 0
        self.room_info: RoomInfo | None = None
        """Room information fetched while connecting or by :meth:`fetch_room_info` (None until then)."""

    # ── public API ────────────────────────────────────────────────────────────────────────────────────────────

    @property
    def room_id(self) -> int | None:
        """The room id: given, or resolved while connecting."""
        return self._room_id

    @property
    def connected(self) -> bool:
        """Whether the WebSocket is open right now."""
        return self._connection.connected

    @property
    def reconnect_policy(self) -> ReconnectPolicy:
        """When and how this client reconnects (``config.reconnect``, or the default policy)."""
        return self.config.reconnect_policy

    @property
    def session(self) -> Session:
        """The protocol state of the current room (cursor, duplicate window); see :mod:`tiktok_live.protocol`."""
        return self._connection.session

    @property
    def dropped_handler_calls(self) -> int:
        """Async handler calls dropped because ``max_handlers_in_flight`` were running (each reported in an
        ``ErrorEvent`` carrying ``HandlerOverloadError``)."""
        return self._emitter.dropped

    @property
    def decoded_messages(self) -> int:
        """How many message payloads this client decoded (lazy dispatch skips unsubscribed ones)."""
        return self._decoded_before + self._connection.session.decoded

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

    async def start(self, *, wait_live: bool | None = None, resume: Session | None = None) -> asyncio.Task[None]:
        """Connect (room id, checks, room info, sign, WebSocket, enter room) and return the running reader task.

        Raises the typed error of the first step that fails (UserNotFoundError, UserOfflineError, SignAPIError, ...).
        ``wait_live=True`` (None: ``config.wait_live``; always, with ``follow``): while the host is offline, wait
        for them to go live (checking every ``live_poll_interval`` seconds, see :meth:`wait_until_live`) instead
        of raising UserOfflineError. With ``follow`` the task reads every LIVE to come. ``disconnect()`` or
        ``stop()`` while this waits or connects ends it quietly: the returned task is then already done.
        ``resume``: a session restored from a snapshot (:meth:`Session.restore`) of this host's room: the client
        reconnects to that room from its cursor, and drops the messages it had already seen.
        """
        if (self._reader is not None and not self._reader.done()) or (
            self._opening is not None and not self._opening.done()
        ):
            raise RuntimeError("this client is already connected; call disconnect() first")
        self._closing = False
        self._stop_requested = False  # a start is a new run: an earlier stop() is spent
        self._active = True
        self._loop = asyncio.get_running_loop()
        self._ended_room = None
        follow = self.config.follow
        waiting = follow or (self.config.wait_live if wait_live is None else wait_live)
        opening = asyncio.create_task(
            self._open(wait_live=waiting, resume=resume), name=f"tiktok-live connect @{self.unique_id}"
        )
        self._opening = opening
        try:
            await opening  # cancelling start() cancels the connect too
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not (opening.cancelled() and self._closing and (current is None or not current.cancelling())):
                raise
            # disconnect() or stop() from elsewhere while connecting or waiting: nothing to read.
            self._reader = asyncio.create_task(_nothing(), name=f"tiktok-live reader @{self.unique_id}")
            return self._reader
        except BaseException:
            self._active = False
            raise
        finally:
            self._opening = None
        reader = self._follow() if follow else self._run()
        self._reader = asyncio.create_task(reader, name=f"tiktok-live reader @{self.unique_id}")
        return self._reader

    async def connect(self, *, wait_live: bool | None = None, resume: Session | None = None) -> None:
        """Connect and return when the stream ends (or ``disconnect()`` / ``stop()`` is called); raises like
        :meth:`start`. ``wait_live=True`` (None: ``config.wait_live``): wait for the host to go live instead of
        raising UserOfflineError. With
        ``follow``, it returns only on ``disconnect()``, ``stop()`` or an error that waiting cannot fix. ``resume``:
        as for :meth:`start`.

        With ``strict`` (a test's client), the first exception a handler raised is raised here once the stream is
        over (the stream is not cut short by it)."""
        self._loop = asyncio.get_running_loop()
        if self._stop_requested:  # stop() came before this run began (another thread, say): it ends it
            self._stop_requested = False
            return
        try:
            task = await self.start(wait_live=wait_live, resume=resume)
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if not (self._closing and task.cancelled() and (current is None or not current.cancelling())):
                    raise
                # disconnect() from elsewhere (a handler, another task) ended the stream: a normal return
            finally:
                await self.disconnect()  # also on cancellation (task.cancel(), Ctrl-C): close everything cleanly
        finally:
            self._stop_requested = False
        self._emitter.raise_if_failed()  # strict (tests): a handler's exception fails the caller, after the stream

    def run(self, *, wait_live: bool | None = None) -> None:
        """Blocking form of :meth:`connect`: runs its own event loop until the stream ends, :meth:`stop` or Ctrl-C.

        Where an event loop already runs (a Jupyter notebook, an ``async def``) it raises EventLoopRunningError:
        use ``await client.connect()`` there.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass  # no loop here: the normal case
        else:
            raise EventLoopRunningError("client.run()")

        async def main() -> None:
            try:
                await self.connect(wait_live=wait_live)
            finally:
                # The loop ends right after: give closed transports a moment to flush the WebSocket close frame
                # (aiohttp's graceful-shutdown advice), so the server sees a clean close.
                await asyncio.sleep(_SHUTDOWN_GRACE)

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(main())

    def stop(self) -> None:
        """Disconnect from any thread or event loop, at once: the running :meth:`connect` / :meth:`run` returns
        normally soon after (a wait for the host to go live ends too). Returns immediately; safe to call twice.

        Thread-safe: it schedules :meth:`disconnect` on the client's own loop. A stop that comes before the client
        runs (a worker thread that has not reached ``run()`` yet) ends that next run at once.
        """
        self._stop_requested = True
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: the run is over anyway
            loop.call_soon_threadsafe(self._stop_now)

    def _stop_now(self) -> None:
        """On the client's loop: disconnect when something runs (else the stop waits for the next run)."""
        if not self._active:
            return
        task = asyncio.get_running_loop().create_task(self.disconnect(), name=f"tiktok-live stop @{self.unique_id}")
        self._stop_tasks.add(task)
        task.add_done_callback(self._stop_tasks.discard)

    async def disconnect(self) -> None:
        """Stop reading (or waiting, or connecting), end the streams, close the socket and our session. Safe to
        call twice.

        Handlers already running go on as their own tasks (``connect()`` waits for them when the stream ends by
        itself); ``disconnect()`` does not wait for them, since a handler may be the one calling it."""
        self._closing = True
        current = asyncio.current_task()
        for task in (self._opening, self._reader):
            if task is not None and not task.done() and task is not current:
                task.cancel()
                await asyncio.wait({task})
        await self._release()
        self._close_streams()
        self._active = False

    # ── lookups: no sign server, no WebSocket ─────────────────────────────────────────────────────────────────

    async def fetch_room_info(self) -> RoomInfo:
        """The room's information now (title, counts, owner, start time, cover, stream URLs by quality), also kept
        in :attr:`room_info`. Works before :meth:`start` and without ever connecting.

        Raises UserOfflineError when the host is not live (no room to describe), UserNotFoundError,
        AgeRestrictedError (pass a logged-in ``session_id``), RoomIdNotFoundError or RequestError.
        """
        async with self._lookup_scope():
            room_id = self._known_room_id() or await self._lookup.resolve_room_id()
            info = await self._lookup.room_info(room_id)
        self.room_info = info
        return info

    async def is_live(self) -> bool:
        """Whether the host is live now: their room id (given, or from the live page / room API), then TikTok's
        live check for it. One or two HTTP requests; no sign server. Raises UserNotFoundError for an unknown
        @handle, RequestError when TikTok cannot be asked."""
        async with self._lookup_scope():
            return await self._live_room_id() is not None

    async def fetch_gifts(self) -> list[GiftInfo]:
        """The gift catalogue (``/webcast/gift/list/``): the room's while the host is live, else the region's.
        Never part of connecting, so a failing catalogue cannot stop a connection. Raises RequestError."""
        async with self._lookup_scope():
            room_id = self._known_room_id()
            if room_id is None:
                try:
                    room_id = await self._lookup.resolve_room_id()
                except UserOfflineError:
                    room_id = None
            return await self._lookup.gifts(room_id)

    async def wait_until_live(self, poll_interval: float = 30.0) -> None:
        """Return as soon as the host is live, checking every ``poll_interval`` seconds (the live page or room API,
        then the live check; never the sign server). Checks that fail with a 429, a 5xx or a network error back
        off (doubling, up to 10 minutes; a ``Retry-After`` is honoured) and go on; an unknown @handle raises
        UserNotFoundError. Cancelling the call stops the wait at once; to give up after a while, wrap it in
        ``asyncio.timeout(seconds)``.

        TikTok may block clients that check very often: 30 s or more is polite.
        """
        interval = check_interval(poll_interval)
        async with self._lookup_scope():
            await self._wait_live(interval)

    async def replay(self, path: str | Path, *, speed: float | None = 1.0) -> None:
        """Feed a recording (see :mod:`tiktok_live.recording`) through the same protocol session and dispatch as
        a live room, emitting the same events; returns at its end or at the stream's end.

        ``speed`` scales the recorded timing (2.0: twice as fast); None replays as fast as possible. Nothing is
        sent anywhere: acks and heartbeats of a replay go nowhere. Raises RecordingError for a bad file; with
        ``strict``, the first exception a handler raised, once the recording is over.
        """
        if speed is not None and not speed > 0:
            raise ValueError("speed must be a positive number (or None for as fast as possible)")
        recording = read_recording(path)
        self._closing = False
        self._room_id = recording.room_id or self._room_id
        self._new_room(self._room_id or 0)
        session = self._connection.session
        started = time.monotonic()
        connected = False
        try:
            for record in recording.records:
                if session.ended or self._closing:
                    break
                if speed is not None:
                    delay = record.t / 1000 / speed - (time.monotonic() - started)
                    if delay > 0:
                        await asyncio.sleep(delay)
                if isinstance(record, SignRecord):
                    self._emit(ConnectEvent(self.unique_id, record.room_id))
                    connected = True
                    received = session.receive_fetch_result(record.body)
                    if self.config.process_initial_messages:
                        self._deliver(b"", received)
                elif record.direction == "in":
                    self._deliver(record.data, session.receive(record.data))
        finally:
            self._close_streams()
            if connected:
                self._emit(DisconnectEvent(None, "stream ended" if session.ended else "end of recording"))
            await self._emitter.drain()
        self._emitter.raise_if_failed()  # strict (tests): a handler's exception fails the caller

    async def record_video(
        self,
        path: str | os.PathLike[str],
        quality: str = "origin",
        duration: float | None = None,
        *,
        remux: bool = False,
        overwrite: bool = False,
        on_progress: Callable[[VideoProgress], object] | None = None,
    ) -> VideoRecording:
        """Record the host's LIVE video (the FLV stream, over HTTP: no ffmpeg needed) to ``path``; returns what was
        saved. Works whether or not the client is connected (and alongside :meth:`connect`).

        ``quality``: ``origin`` (the source; the best offered when the room has no origin stream), ``uhd``,
        ``hd``, ``sd``, ``ld``, ``ao`` (audio only), or a key of ``flv_pull_url`` such as ``FULL_HD1``; one the room
        does not offer raises :class:`~tiktok_live.errors.VideoQualityError` listing those it does. Stops when the
        LIVE ends, after ``duration`` seconds, or when the awaiting task is cancelled (the file is then finished
        properly and the cancellation propagates).

        Data goes to ``<path>.part`` and the file gets its name only once it is whole (cut after its last whole
        tag and flushed to disk), so a crash never leaves a file that looks complete. A dropped download resumes
        (per ``reconnect``) into the next numbered segment (``live.flv``, ``live.002.flv``, …) with a warning in
        the log; :class:`VideoRecording` lists the segments. ``remux=True`` copies each segment into an MP4 with
        ffmpeg (on PATH) afterwards. An existing file is an error unless ``overwrite=True``. ``on_progress`` is
        called with a :class:`VideoProgress` as data arrives. Raises UserOfflineError, AgeRestrictedError,
        VideoError (its ``recording`` holds what was saved), RequestError, ValueError for bad arguments.
        """
        from tiktok_live.video import record_video

        return await record_video(
            unique_id=self.unique_id,
            config=self.config,
            cookies=dict(self._cookies),
            session=None if self._owns_session else self._session,
            # A room id found by an earlier connect may belong to a LIVE that is over: look it up again then.
            room_id=self._room_id if self._room_id_given or self.connected else None,
            path=path,
            quality=quality,
            duration=duration,
            remux=remux,
            overwrite=overwrite,
            on_progress=on_progress,
        )

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
        self._targets = self._emitter.listened | frozenset(stream_types)
        self._connection.session.wanted = None if self._decode_everything else self._targets

    def _new_room(self, room_id: int, session: Session | None = None) -> None:
        """A new protocol session for ``room_id`` (or the given one): cursor, duplicate window and reconnect budget
        start over."""
        self._decoded_before += self._connection.session.decoded
        self._connection.reset(room_id, session)
        self._connection.session.wanted = None if self._decode_everything else self._targets

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

    def _deliver(self, data: bytes, received: Received) -> None:
        """Fan out what the session made of one frame (``data``: the raw message, empty for a sign bundle)."""
        if data and WebsocketResponseEvent in self._targets:
            self._emit(WebsocketResponseEvent(data))
        if received.error is not None:
            logger.warning("skipped a bad frame (%d bytes): %s", len(data), received.error)
            self._emitter.report(received.error)
            return
        for event in received.events:
            self._emit(event)

    # ── lifecycle internals ───────────────────────────────────────────────────────────────────────────────────

    def _known_room_id(self) -> int | None:
        """The room id to ask about without resolving: given, or the one being read now."""
        running = self._reader is not None and not self._reader.done()
        return self._room_id if self._room_id_given or running else None

    async def _live_room_id(self) -> int | None:
        """The host's live room id, or None while they are offline (a given room that ended: their next one)."""
        known = self._known_room_id()
        if known is not None and known != self._ended_room:
            room_id = await self._lookup.live_room_id(known)
            if room_id is not None:
                return room_id
        room_id = await self._lookup.live_room_id()
        return None if room_id == self._ended_room else room_id  # TikTok may still show an ended LIVE as live

    async def _wait_live(self, poll_interval: float) -> int:
        return await poll_until_live(self._live_room_id, poll_interval, label=f"@{self.unique_id}", sleep=self._sleep)

    @contextlib.asynccontextmanager
    async def _lookup_scope(self) -> AsyncIterator[None]:
        """Around a lookup: an HTTP session we create for it is closed after it unless a connection uses it."""
        self._lookups += 1
        try:
            yield
        finally:
            self._lookups -= 1
            if not self._lookups and not self._active and self._owns_session and self._session is not None:
                session, self._session = self._session, None
                await session.close()

    async def _open(self, *, wait_live: bool, keep_streams: bool = False, resume: Session | None = None) -> None:
        """Find the live room (waiting for one with ``wait_live``), fetch its info, sign and open the socket;
        ``resume``: continue that session's room from its cursor.

        On failure everything is released and, unless ``keep_streams``, the streams end."""
        try:
            room_id = self._room_id if self._room_id_given and self._room_id != self._ended_room else None
            if resume is not None and resume.room_id:
                room_id = resume.room_id
            while True:
                try:
                    if room_id is None:
                        room_id = await self._lookup.resolve_room_id()
                    if room_id == self._ended_room:  # TikTok may still show the LIVE that just ended
                        raise UserOfflineError(self.unique_id)
                    self._room_id = room_id
                    self._new_room(room_id, resume if resume is not None and resume.room_id == room_id else None)
                    await self._lookup.ensure_live(room_id)
                    break
                except UserOfflineError:
                    if not wait_live:
                        raise
                    logger.info("@%s is offline: waiting for the next LIVE", self.unique_id)
                    room_id = await self._wait_live(self.config.live_poll_interval)
            if self.config.fetch_room_info:
                try:
                    self.room_info = await self._lookup.room_info(room_id)
                except RequestError as error:
                    logger.warning("room info failed (%s); going on without it", error)
            await self._connection.open(await self._signer.sign_with_retry(room_id, self.reconnect_policy))
        except BaseException:
            await self._release()
            if not keep_streams:
                self._close_streams()
            raise

    async def _follow(self) -> None:
        """The reader task of follow mode: read a LIVE, then wait for the host's next one and connect again.

        Errors that waiting may fix (the LIVE ended, the sign server limited us, the network) lead to the next
        wait; the others (a rejected key, an unknown user) end it. Streams stay open from LIVE to LIVE."""
        try:
            while not self._closing:  # also a guard should a cancel ever get lost on its way
                try:
                    await self._run(close_streams=False)
                except TikTokLiveError as error:
                    if not error.retryable:
                        raise
                    logger.warning("@%s: the stream failed (%s); waiting for the next LIVE", self.unique_id, error)
                if self._connection.session.ended:
                    self._ended_room = self._room_id
                while not self._closing:
                    try:
                        await self._open(wait_live=True, keep_streams=True)
                        break
                    except TikTokLiveError as error:
                        if not error.retryable:
                            raise
                        delay = self.config.live_poll_interval
                        logger.warning("@%s: connect failed (%s); trying again in %g s", self.unique_id, error, delay)
                        await self._sleep(delay)
        finally:
            self._close_streams()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = new_session(self.config.proxy, timeout=self.config.http_timeout)
        return self._session

    async def _run(self, *, close_streams: bool = True) -> None:
        """The reader task: run the connection until the stream ends; emit DisconnectEvent last."""
        error: BaseException | None = None
        cancelled = False
        try:
            await self._connection.run()
        except asyncio.CancelledError:
            cancelled = True
            raise
        except Exception as failure:
            error = failure
            logger.error("the stream failed: %s", failure)
            self._emitter.report(failure)
            raise
        finally:
            try:
                await self._connection.close()
            except asyncio.CancelledError:  # disconnect() while closing (stop() from a LiveEndEvent handler, say)
                cancelled = True
                raise
            finally:  # DisconnectEvent comes last whatever happens, a cancel while closing included
                if close_streams:
                    self._close_streams()
                ended = self._connection.session.ended
                reason = self._connection.close_reason or ("stream ended" if ended else "disconnected")
                self._emit(DisconnectEvent(self._connection.close_code, reason if error is None else str(error)))
            if not cancelled:
                # Let running async handlers finish. Not after a cancel: disconnect() may be awaited by one of them.
                await self._emitter.drain()

    async def _release(self) -> None:
        await self._connection.close()
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None


async def _nothing() -> None:
    """The reader task of a connect that ended before it began (``disconnect()`` while connecting)."""


def _request_cookies(config: ClientConfig) -> dict[str, str]:
    """The cookies TikTok's own requests carry: the data-center cookie, and the session id when one is given
    (18+ rooms)."""
    cookies = {"tt-target-idc": config.tt_target_idc}
    if config.session_id:
        sid = config.session_id
        cookies.update(sessionid=sid, sessionid_ss=sid, sid_tt=sid)
    return cookies


async def check_live(
    users: Iterable[str],
    *,
    config: ClientConfig | None = None,
    session: aiohttp.ClientSession | None = None,
    failures: dict[str, TikTokLiveError] | None = None,
    concurrency: int = 4,
    **options: Unpack[ClientOptions],
) -> dict[str, bool]:
    """Which of ``users`` (``"@a"``, ``"a"`` or a live URL, each) are live now: ``{"@a": True, "@b": False}``,
    keyed by the strings as given. No sign server, no WebSocket.

    Each host's room id comes from their live page (else the room API), ``concurrency`` at a time; then one
    ``/webcast/room/check_alive/`` request asks about up to 50 rooms at once. A host who is offline has no room and
    is False without a live check. A handle that does not resolve (an unknown user, an 18+ room without a session
    id, a captcha page, a network failure) is False too, and its error goes into ``failures`` when you pass a dict
    (else it is logged as a warning). An invalid handle raises ValueError before any request; a failing live
    check raises RequestError (retry later). Options are the client's (``proxy=``, ``session_id=``, ...).
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    given = list(users)
    handles = {user: normalize_unique_id(user) for user in given}  # ValueError names the bad one
    probe = TikTokLiveClient(given[0] if given else "@check_live", config=config, session=session, **options)
    limit = asyncio.Semaphore(concurrency)

    async def room_of(unique_id: str) -> int | None:
        lookup = RoomLookup(unique_id, probe.config, probe._http, probe._cookies)
        async with limit:
            try:
                return await lookup.resolve_room_id()
            except UserOfflineError:
                return None
            except TikTokLiveError as error:
                if failures is None:
                    logger.warning("check_live: @%s could not be checked: %s", unique_id, error)
                for user, handle in handles.items():
                    if handle == unique_id and failures is not None:
                        failures[user] = error
                return None

    unique = list(dict.fromkeys(handles.values()))
    try:
        async with probe._lookup_scope():
            rooms = dict(zip(unique, await asyncio.gather(*(room_of(handle) for handle in unique)), strict=True))
            ids = [room_id for room_id in dict.fromkeys(rooms.values()) if room_id is not None]
            alive: dict[int, bool] = {}
            checker = RoomLookup(probe.unique_id, probe.config, probe._http, probe._cookies)
            for start in range(0, len(ids), CHECK_BATCH):
                alive.update(await checker.check_alive(ids[start : start + CHECK_BATCH]))
    finally:
        await probe._release()
    return {user: (room := rooms[handle]) is not None and alive.get(room) is True for user, handle in handles.items()}
