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
from collections.abc import Callable
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
from tiktok_live._lookup import MAX_ROOM_ID, RoomInfo, RoomLookup
from tiktok_live._proxy import check_session, new_session
from tiktok_live._sign import SignClient, SignGate
from tiktok_live._websocket import Connection
from tiktok_live.errors import RequestError
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
    "ReconnectPolicy",
    "RoomInfo",
    "SignGate",
    "TikTokLiveClient",
    "normalize_unique_id",
]

logger = logging.getLogger(__name__)

E1 = TypeVar("E1", bound=BaseEvent)
E2 = TypeVar("E2", bound=BaseEvent)
E3 = TypeVar("E3", bound=BaseEvent)
_SHUTDOWN_GRACE: Final = 0.1


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
        self._emitter = Emitter(self.config.max_handlers_in_flight)
        self._emitter.on_change = self._recompute
        self._streams: list[EventStream[BaseEvent]] = []
        self._stream_types: dict[type[BaseEvent], list[EventStream[BaseEvent]]] = {}
        self._targets: frozenset[type[BaseEvent]] = frozenset()
        self._decode_everything = False  # a fleet worker exports every message, listened to or not
        # TikTok's own requests carry the data-center cookie, and the session id when one is given (18+ rooms).
        self._cookies: dict[str, str] = {"tt-target-idc": self.config.tt_target_idc}
        if self.config.session_id:
            sid = self.config.session_id
            self._cookies.update(sessionid=sid, sessionid_ss=sid, sid_tt=sid)
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
        self._closing = False
        self._decoded_before = 0
        self.room_info: RoomInfo | None = None
        """Room information fetched while connecting (None until then, or when fetch_room_info=False)."""

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

    async def start(self, *, resume: Session | None = None) -> asyncio.Task[None]:
        """Connect (room id, checks, room info, sign, WebSocket, enter room) and return the running reader task.

        ``resume``: a session restored from a snapshot (:meth:`Session.restore`) of this host's room: the client
        reconnects to that room from its cursor, and drops the messages it had already seen. Raises the typed error
        of the first step that fails (UserNotFoundError, UserOfflineError, SignAPIError, ...).
        """
        if self._reader is not None and not self._reader.done():
            raise RuntimeError("this client is already connected; call disconnect() first")
        self._closing = False
        if resume is not None and resume.room_id:
            self._room_id = resume.room_id
        elif not self._room_id_given:
            self._room_id = None  # a new session: the host's next LIVE has a new room id
        try:
            if self._room_id is None:
                self._room_id = await self._lookup.resolve_room_id()
            room_id = self._room_id
            self._new_room(room_id, resume)
            await self._lookup.ensure_live(room_id)
            if self.config.fetch_room_info:
                try:
                    self.room_info = await self._lookup.room_info(room_id)
                except RequestError as error:
                    logger.warning("room info failed (%s); going on without it", error)
            await self._connection.open(await self._signer.sign_with_retry(room_id, self.reconnect_policy))
        except BaseException:
            await self._release()
            self._close_streams()
            raise
        self._reader = asyncio.create_task(self._run(), name=f"tiktok-live reader @{self.unique_id}")
        return self._reader

    async def connect(self, *, resume: Session | None = None) -> None:
        """Connect and return when the stream ends (or ``disconnect()`` is called); raises like :meth:`start`."""
        task = await self.start(resume=resume)
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
        """Feed a recording (see :mod:`tiktok_live.recording`) through the same protocol session and dispatch as
        a live room, emitting the same events; returns at its end or at the stream's end.

        ``speed`` scales the recorded timing (2.0: twice as fast); None replays as fast as possible. Nothing is
        sent anywhere: acks and heartbeats of a replay go nowhere. Raises RecordingError for a bad file.
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

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = new_session(self.config.proxy, timeout=self.config.http_timeout)
        return self._session

    async def _run(self) -> None:
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
            await self._connection.close()
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
