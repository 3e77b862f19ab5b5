"""The live client: connect to a TikTok LIVE room and dispatch its messages as typed events.

Connect sequence: resolve the room id (the host's live page, then the room API), check the room is live, fetch
the room info, ask the sign server for the connection bundle, open the WebSocket with its cookies, enter the room,
then read push frames: ack those that need it, decode only what someone listens to, emit events and derived
events, send heartbeats, and reconnect (signing again) when the socket drops or goes silent.

This module is the façade: listeners, streams, lifecycle and replay. The parts live beside it: the protocol
(:mod:`tiktok_live.protocol`), the fan-out to handlers and streams, the runs (connect, follow, replay), the room
lookup, the sign client and the WebSocket connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Self, TypeVar, Unpack, overload

import aiohttp

from tiktok_live._base import BaseEvent
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
from tiktok_live._dispatch import Dispatcher, EventStream
from tiktok_live._emitter import E, Emitter, Handler
from tiktok_live._info import GiftInfo, RoomOwner, StreamURL
from tiktok_live._live import check_interval
from tiktok_live._lookup import MAX_ROOM_ID, RoomInfo, check_live
from tiktok_live._proxy import HttpSession
from tiktok_live._runner import Runner
from tiktok_live._sign import SignGate
from tiktok_live.errors import EventLoopRunningError
from tiktok_live.protocol import Session
from tiktok_live.recording import Recorder, read_recording

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

E1 = TypeVar("E1", bound=BaseEvent)
E2 = TypeVar("E2", bound=BaseEvent)
E3 = TypeVar("E3", bound=BaseEvent)
_SHUTDOWN_GRACE: Final = 0.1


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
        self._http = HttpSession(session, self.config.proxy, timeout=self.config.http_timeout)
        self._emitter = Emitter(self.config.max_handlers_in_flight, strict=self.config.strict)
        self._dispatch = Dispatcher(self._emitter, lambda: self._connection.session)
        self._deliver = self._dispatch.deliver  # the fan-out of one frame (the benchmark calls it)
        self._runner = Runner(
            self.unique_id,
            room_id,
            self.config,
            self._http,
            dispatch=self._dispatch,
            emitter=self._emitter,
            sign_gate=sign_gate,
            recorder=recorder,
        )
        self._cookies = self._runner.cookies
        self._lookup = self._runner.lookup
        self._signer = self._runner.signer
        self._connection = self._runner.connection
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested = False
        self._stop_tasks: set[asyncio.Task[None]] = set()

    # ── public API ────────────────────────────────────────────────────────────────────────────────────────────

    @property
    def room_id(self) -> int | None:
        """The room id: given, or resolved while connecting."""
        return self._runner.room_id

    @property
    def room_info(self) -> RoomInfo | None:
        """Room information fetched while connecting or by :meth:`fetch_room_info` (None until then)."""
        return self._runner.room_info

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
        return self._runner.decoded

    @property
    def _decode_everything(self) -> bool:
        """Decode every message, listened to or not (a fleet worker exports them all)."""
        return self._dispatch.decode_everything

    @_decode_everything.setter
    def _decode_everything(self, value: bool) -> None:
        self._dispatch.decode_everything = value

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
        return self._dispatch.stream(event_types, maxsize)

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
        if self._runner.busy:
            raise RuntimeError("this client is already connected; call disconnect() first")
        self._stop_requested = False  # a start is a new run: an earlier stop() is spent
        self._loop = asyncio.get_running_loop()
        waiting = self.config.follow or (self.config.wait_live if wait_live is None else wait_live)
        return await self._runner.start(wait_live=waiting, resume=resume)

    async def connect(self, *, wait_live: bool | None = None, resume: Session | None = None) -> None:
        """Connect and return when the stream ends (or ``disconnect()`` / ``stop()`` is called); raises like
        :meth:`start`. ``wait_live=True`` (None: ``config.wait_live``): wait for the host to go live instead of
        raising UserOfflineError. With ``follow``, it returns only on ``disconnect()``, ``stop()`` or an error that
        waiting cannot fix. ``resume``: as for :meth:`start`.

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
                if not (self._runner.closing and task.cancelled() and (current is None or not current.cancelling())):
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
        if not self._http.active:
            return
        task = asyncio.get_running_loop().create_task(self.disconnect(), name=f"tiktok-live stop @{self.unique_id}")
        self._stop_tasks.add(task)
        task.add_done_callback(self._stop_tasks.discard)

    async def disconnect(self) -> None:
        """Stop reading (or waiting, or connecting), end the streams, close the socket and our session. Safe to
        call twice.

        Handlers already running go on as their own tasks (``connect()`` waits for them when the stream ends by
        itself); ``disconnect()`` does not wait for them, since a handler may be the one calling it."""
        await self._runner.disconnect()

    # ── lookups: no sign server, no WebSocket ─────────────────────────────────────────────────────────────────

    async def fetch_room_info(self) -> RoomInfo:
        """The room's information now (title, counts, owner, start time, cover, stream URLs by quality), also kept
        in :attr:`room_info`. Works before :meth:`start` and without ever connecting.

        Raises UserOfflineError when the host is not live (no room to describe), UserNotFoundError,
        AgeRestrictedError (pass a logged-in ``session_id``), RoomIdNotFoundError or RequestError.
        """
        return await self._runner.fetch_room_info()

    async def is_live(self) -> bool:
        """Whether the host is live now: their room id (given, or from the live page / room API), then TikTok's
        live check for it. One or two HTTP requests; no sign server. Raises UserNotFoundError for an unknown
        @handle, RequestError when TikTok cannot be asked."""
        async with self._http.lookup():
            return await self._runner.live_room_id() is not None

    async def fetch_gifts(self) -> list[GiftInfo]:
        """The gift catalogue (``/webcast/gift/list/``): the room's while the host is live, else the region's.
        Never part of connecting, so a failing catalogue cannot stop a connection. Raises RequestError."""
        return await self._runner.gifts()

    async def wait_until_live(self, poll_interval: float = 30.0) -> None:
        """Return as soon as the host is live, checking every ``poll_interval`` seconds (the live page or room API,
        then the live check; never the sign server). Checks that fail with a 429, a 5xx or a network error back
        off (doubling, up to 10 minutes; a ``Retry-After`` is honoured) and go on; an unknown @handle raises
        UserNotFoundError. Cancelling the call stops the wait at once; to give up after a while, wrap it in
        ``asyncio.timeout(seconds)``.

        TikTok may block clients that check very often: 30 s or more is polite.
        """
        interval = check_interval(poll_interval)
        async with self._http.lookup():
            await self._runner.wait_live(interval)

    async def replay(self, path: str | Path, *, speed: float | None = 1.0) -> None:
        """Feed a recording (see :mod:`tiktok_live.recording`) through the same protocol session and dispatch as
        a live room, emitting the same events; returns at its end or at the stream's end.

        ``speed`` scales the recorded timing (2.0: twice as fast); None replays as fast as possible. Nothing is
        sent anywhere: acks and heartbeats of a replay go nowhere. Raises RecordingError for a bad file; with
        ``strict``, the first exception a handler raised, once the recording is over.
        """
        if speed is not None and not speed > 0:
            raise ValueError("speed must be a positive number (or None for as fast as possible)")
        await self._runner.replay(read_recording(path), speed)
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
        return await self._runner.record_video(path, quality, duration, remux, overwrite, on_progress)

    async def __aenter__(self) -> Self:
        _ = await self.start()  # the reader task stays referenced by the runner
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.disconnect()

    def __repr__(self) -> str:
        return f"<TikTokLiveClient @{self.unique_id} room_id={self.room_id} connected={self.connected}>"
