"""Many rooms in one process: :class:`RoomPool`.

A pool runs one :class:`~tiktok_live.TikTokLiveClient` per room over one shared aiohttp session and merges their
events into bounded streams tagged with the room::

    async with RoomPool(sign_api_key=KEY) as pool:
        for user in ("@alice", "@bob", "@carol"):
            pool.add(user)
        async for item in pool.stream(CommentEvent, GiftEvent):
            print(item.unique_id, item.room_id, item.event.type)

What the pool adds to the clients:

- **One session.** Every client uses the pool's ``aiohttp.ClientSession`` (its connector has no connection limit:
  each room holds a WebSocket). An injected session is never closed by the pool; give it ``TCPConnector(limit=0)``.
- **A connect limit.** At most ``max_connecting`` rooms run their connect sequence (room id, checks, sign, socket)
  at once; rooms wait their turn in the order they were added.
- **A sign-rate limit** per sign server and API key, shared by every room, initial connects and the clients' own
  reconnects alike: a fixed-window budget per window, as the sign server counts. The limits come from ``sign_rate`` /
  ``sign_burst`` (a token bucket) when given, else
  from the sign server's ``GET /webcast/rate_limits`` (``{"minute": {"max": 5, "remaining": 3}, "hour": ..., "day":
  ...}``); a server that does not publish them (HTTP 404, like the simulator) leaves signing unthrottled. A 429 with
  ``Retry-After`` pauses every room that signs with that key.
- **Rooms at run time.** :meth:`RoomPool.add` and :meth:`RoomPool.remove` work before and while the pool runs.
- **Proxies.** ``proxies=[...]`` spreads the rooms over several proxies (``http://``, ``https://``, ``socks5://``,
  ``socks5h://``, ``socks4://``), one session per proxy: each new client goes to the usable proxy with the fewest
  rooms, since TikTok's limits count per IP. A proxy whose connects fail ``proxy_failures`` times in a row
  (network errors, HTTP 429/5xx, captchas, refused sockets: what an address causes, not an unknown user) is
  benched for ``proxy_bench_time`` seconds, with a warning; a room whose connect failed there is moved at once to
  another proxy that it has not tried yet. :attr:`RoomPool.proxies` shows each proxy's state.
- **Per-room reconnects** stay the client's own (``reconnect=ReconnectPolicy(...)``). A room whose stream ends or
  whose client gives up is done, unless ``revisit_after`` is set: then the pool connects it again after that many
  seconds with a fresh client (a host's next LIVE has a new room id), except after ``UserNotFoundError`` or
  ``SignAPIKeyError``. A room with ``wait_live=True`` waits for its host to go live before it takes a connect slot;
  with ``follow=True`` its client also keeps watching the host from LIVE to LIVE.

Cancellation: cancelling a task that awaits :meth:`RoomPool.remove`, :meth:`RoomPool.close` or a stream leaves the
pool consistent; :meth:`RoomPool.close` cancels every room task, waits for the clients to close, then ends the
streams after their buffered events.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, Self, TypeVar, Unpack, overload

import aiohttp

from tiktok_live._base import BaseEvent
from tiktok_live._buffer import DropOldestBuffer
from tiktok_live._config import ClientConfig, ClientOptions, normalize_unique_id
from tiktok_live._emitter import E
from tiktok_live._pool_proxies import PoolSessions, ProxyRotation, ProxyState
from tiktok_live._sign import RATE_LIMITS_PATH, WINDOWS, SignLimiter, SignLimiters, TokenBucket, WindowBudget
from tiktok_live.client import TikTokLiveClient
from tiktok_live.errors import SignAPIKeyError, TikTokLiveError, UserNotFoundError
from tiktok_live.recording import Recorder

__all__ = [
    "DEFAULT_DEDUPE_SIZE",
    "RATE_LIMITS_PATH",
    "WINDOWS",
    "ClientOptions",
    "PoolStream",
    "ProxyState",
    "Room",
    "RoomEvent",
    "RoomOptions",
    "RoomPool",
    "RoomState",
    "SignLimiter",
    "TokenBucket",
    "WindowBudget",
]

logger = logging.getLogger(__name__)

E_co = TypeVar("E_co", bound=BaseEvent, covariant=True)
E1 = TypeVar("E1", bound=BaseEvent)
E2 = TypeVar("E2", bound=BaseEvent)
E3 = TypeVar("E3", bound=BaseEvent)

DEFAULT_DEDUPE_SIZE: Final = 2_000
"""The msg_id window each room's client deduplicates over, in a pool (the client alone keeps 10,000). The window
dominates a busy room's memory (about 108 bytes an id: 10,000 ids are ~1 MiB a room) while a reconnect replays only
the few dozen messages of the sign bundle's history."""
_PERMANENT: Final = (UserNotFoundError, SignAPIKeyError)


class RoomOptions(ClientOptions, total=False):
    """Options of one room (:meth:`RoomPool.add`): the client options, plus ``room_id`` (skip the lookup) and a
    ``recorder`` for that room alone."""

    room_id: int | None
    recorder: Recorder | None


# ── events and streams ───────────────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class RoomEvent(Generic[E_co]):
    """One event of one room of a pool: the room's ``unique_id`` and ``room_id``, the ``event``, and when the pool
    received it (``received_at``, ms since the epoch: pass it on to :func:`tiktok_live.jsonl.event_to_dict`)."""

    unique_id: str
    room_id: int | None
    event: E_co
    received_at: int


class PoolStream(DropOldestBuffer[RoomEvent[E]]):
    """An async iterator over :class:`RoomEvent` s of some event classes from every room, through a bounded buffer.

    Like the client's ``EventStream``: rooms never wait for a slow consumer; when the buffer is full the oldest item
    is dropped and counted in ``dropped`` (with a warning). Iteration ends after :meth:`close`, the pool's close, or
    once every room of the pool is done, when the buffered items are consumed.
    """

    _label = "pool stream"

    def __init__(self, types: tuple[type[E], ...], maxsize: int, on_close: Callable[[PoolStream[E]], None]) -> None:
        super().__init__(maxsize, on_close)
        self.types = types

    def _item_size(self, item: RoomEvent[E]) -> int:
        return item.event.size


# ── rooms ────────────────────────────────────────────────────────────────────────────────────────────────────────


class RoomState(enum.Enum):
    """Where a room is in its life in the pool."""

    PENDING = "pending"
    """Added; the pool has not started it yet."""
    CONNECTING = "connecting"
    """Waiting for a connect slot, or running the connect sequence."""
    CONNECTED = "connected"
    """Streaming (the client may be reconnecting on its own)."""
    WAITING = "waiting"
    """Ended or failed, connecting again after ``revisit_after`` seconds; or, for a room with ``wait_live`` or
    ``follow``, waiting for the host to go live (outside the connect slots)."""
    ENDED = "ended"
    """The stream ended (the LIVE ended or the socket closed for good). Done."""
    FAILED = "failed"
    """Connecting failed, or the client gave up reconnecting; ``Room.error`` says why. Done."""
    REMOVED = "removed"
    """Removed from the pool, or the pool closed. Done."""

    @property
    def is_done(self) -> bool:
        """Whether the room will not connect again."""
        return self in (RoomState.ENDED, RoomState.FAILED, RoomState.REMOVED)


class Room:
    """A room in a :class:`RoomPool`: its state, current client and counters. Made by :meth:`RoomPool.add`."""

    __slots__ = (
        "_finished",
        "_options",
        "_pool",
        "_task",
        "client",
        "connects",
        "error",
        "events",
        "proxy",
        "state",
        "unique_id",
    )

    def __init__(self, pool: RoomPool, unique_id: str, options: RoomOptions) -> None:
        self.unique_id = unique_id
        """The host's @handle, without the ``@``."""
        self.state = RoomState.PENDING
        """Where the room is now."""
        self.error: BaseException | None = None
        """The last failure (None after a successful connect)."""
        self.connects = 0
        """Successful connect sequences (not counting the client's own reconnects)."""
        self.events = 0
        """Events of this room delivered to the pool's streams."""
        self._pool = pool
        self._options = options
        self.proxy: ProxyState | None = None
        """The pool proxy the current client goes through (None: no ``proxies``, or the room's own ``proxy``)."""
        self.client: TikTokLiveClient = pool._client_for(self)
        """The room's current client (a new one per revisit)."""
        self._task: asyncio.Task[None] | None = None
        self._finished = asyncio.Event()

    @property
    def room_id(self) -> int | None:
        """The room id: given, or resolved while connecting."""
        return self.client.room_id

    async def wait(self) -> None:
        """Return when the room is done (ended, failed or removed)."""
        await self._finished.wait()

    def _deliver(self, event: BaseEvent) -> None:
        self.events += 1
        self._pool._publish(self, event)

    def __repr__(self) -> str:
        return f"<Room @{self.unique_id} room_id={self.room_id} {self.state.value}>"


# ── the pool ─────────────────────────────────────────────────────────────────────────────────────────────────────


class RoomPool:
    """Watches many rooms in one process; see the module documentation for what it shares and limits.

    ``max_connecting``: rooms running their connect sequence at once. ``sign_rate`` (requests per second) and
    ``sign_burst``: a fixed sign limit per sign server and key instead of the server's ``/webcast/rate_limits``.
    ``revisit_after``: seconds after which a done room is connected again (None: never). ``session``: a shared
    session to use (not closed by the pool). ``proxies``: proxy URLs to spread the rooms over (instead of one
    ``proxy``; not with ``session``); a proxy is benched for ``proxy_bench_time`` seconds after
    ``proxy_failures`` failed connects in a row. ``config`` and the other keyword options
    (:class:`ClientOptions`) go to every client; ``dedupe_size`` defaults to :data:`DEFAULT_DEDUPE_SIZE` here.
    ``clock`` and ``sleep``: what the sign limiters and proxy benches read the time with and wait with
    (injectable, for tests).

    An async context manager: ``async with RoomPool() as pool`` starts it and closes it on exit.
    """

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None = None,
        max_connecting: int = 8,
        sign_rate: float | None = None,
        sign_burst: int | None = None,
        revisit_after: float | None = None,
        proxies: Sequence[str] | None = None,
        proxy_failures: int = 3,
        proxy_bench_time: float = 300.0,
        config: ClientConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        **client_options: Unpack[ClientOptions],
    ) -> None:
        if max_connecting < 1:
            raise ValueError("max_connecting must be at least 1")
        if sign_rate is not None and not (math.isfinite(sign_rate) and sign_rate > 0):
            raise ValueError("sign_rate must be positive (or None to read the sign server's limits)")
        if revisit_after is not None and not (math.isfinite(revisit_after) and revisit_after >= 0):
            raise ValueError("revisit_after must be a finite number of seconds, not negative (or None)")
        self.max_connecting = max_connecting
        self.sign_rate = sign_rate
        self.sign_burst = sign_burst
        self.revisit_after = revisit_after
        base = config if config is not None else ClientConfig(dedupe_size=DEFAULT_DEDUPE_SIZE)
        self.config: ClientConfig = base.replace(**client_options) if client_options else base
        """The connection options every room's client starts from (frozen)."""
        self._proxies = ProxyRotation(
            proxies, session=session, failures=proxy_failures, bench_time=proxy_bench_time, clock=clock
        )
        self.proxy_failures = proxy_failures
        self.proxy_bench_time = proxy_bench_time
        self._http = PoolSessions(session, timeout=self.config.http_timeout)
        self._limiters = SignLimiters(
            self._http, rate=sign_rate, burst=sign_burst, max_body=self.config.max_body_size, clock=clock, sleep=sleep
        )
        self._connect_slots = asyncio.Semaphore(max_connecting)
        self._rooms: dict[str, Room] = {}
        self._streams: list[PoolStream[BaseEvent]] = []
        self._by_type: dict[type[BaseEvent], list[PoolStream[BaseEvent]]] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self._started = False
        self._closed = False

    # ── rooms ────────────────────────────────────────────────────────────────────────────────────────────────

    @property
    def rooms(self) -> Mapping[str, Room]:
        """Rooms by unique id (without ``@``), in the order they were added; removed rooms are gone."""
        return dict(self._rooms)

    def __len__(self) -> int:
        return len(self._rooms)

    def __contains__(self, user: object) -> bool:
        return isinstance(user, str) and _key(user) in self._rooms

    def __iter__(self) -> Iterator[Room]:
        return iter(list(self._rooms.values()))

    def add(self, user: str, **options: Unpack[RoomOptions]) -> Room:
        """Watch ``user`` (``@handle``, handle or live URL); ``options`` override the pool's client options for this
        room (e.g. ``room_id=``, or other base URLs). Starts at once if the pool runs, else at :meth:`start`. Call
        it from a coroutine: the room's client gets the pool's session, made on first use in the running loop.

        Raises ValueError for an invalid handle or one already in the pool, RuntimeError once the pool is closed.
        """
        if self._closed:
            raise RuntimeError("the pool is closed")
        unique_id = normalize_unique_id(user)
        if unique_id in self._rooms:
            raise ValueError(f"@{unique_id} is already in the pool")
        room = Room(self, unique_id, options)
        self._rooms[unique_id] = room
        _subscribe(room.client, self._by_type, room._deliver)
        self._idle.clear()
        if self._started:
            self._launch(room)
        return room

    async def remove(self, user: str) -> Room:
        """Stop watching ``user``: cancel its task, close its client, and forget it. Returns the room (state
        ``REMOVED`` unless it was already done). Raises KeyError if the user is not in the pool."""
        room = self._rooms.pop(_key(user))
        task = room._task
        try:
            while task is not None and not task.done():  # cancelling remove() itself propagates; the task ends alone
                task.cancel()
                await asyncio.wait({task}, timeout=1.0)
            if task is None:
                self._finish(room, RoomState.REMOVED)
        finally:
            _unsubscribe(room.client, self._by_type, room._deliver)
            self._update_idle()
        return room

    # ── events ───────────────────────────────────────────────────────────────────────────────────────────────

    @overload
    def stream(self, first: type[E1], /, *, maxsize: int = 10_000) -> PoolStream[E1]: ...
    @overload
    def stream(self, first: type[E1], second: type[E2], /, *, maxsize: int = 10_000) -> PoolStream[E1 | E2]: ...
    @overload
    def stream(
        self, first: type[E1], second: type[E2], third: type[E3], /, *, maxsize: int = 10_000
    ) -> PoolStream[E1 | E2 | E3]: ...
    @overload
    def stream(self, *event_types: type[E], maxsize: int = 10_000) -> PoolStream[E]: ...
    def stream(self, *event_types: type[BaseEvent], maxsize: int = 10_000) -> PoolStream[Any]:
        """An async iterator over :class:`RoomEvent` s of ``event_types`` from every room (present and future),
        buffered up to ``maxsize`` (oldest dropped beyond). Typed like the client's ``stream``:
        ``pool.stream(CommentEvent, GiftEvent)`` yields ``RoomEvent[CommentEvent | GiftEvent]``.

        Only subscribed classes are decoded. Iteration ends, after the buffered events, when every room of the
        running pool is done (ended, failed or removed: nothing more can come; a stream made then ends at once), when
        the pool closes, or when the stream is closed. A pool started without rooms keeps its streams open for the
        rooms added later.
        """
        if not event_types:
            raise ValueError("stream() needs at least one event class")
        if self._closed:
            raise RuntimeError("the pool is closed")
        stream: PoolStream[BaseEvent] = PoolStream(tuple(dict.fromkeys(event_types)), maxsize, self._close_stream)
        self._streams.append(stream)
        self._recompute()
        if self._all_done():
            stream.close()
        return stream

    # ── lifecycle ────────────────────────────────────────────────────────────────────────────────────────────

    async def start(self) -> None:
        """Create the shared session (unless one was given) and start every added room. Safe to call twice."""
        if self._closed:
            raise RuntimeError("the pool is closed")
        if self._started:
            return
        self._started = True
        for room in list(self._rooms.values()):
            if room._task is None and not room.state.is_done:
                self._launch(room)

    async def wait(self) -> None:
        """Return when every room is done (ended, failed or removed); at once for an empty pool. With
        ``revisit_after`` set, rooms are never done on their own."""
        await self._idle.wait()

    async def close(self) -> None:
        """Cancel every room, wait for their clients to close, end the streams (after their buffered events), and
        close the session if the pool created it. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        tasks = {room._task for room in self._rooms.values() if room._task is not None and not room._task.done()}
        while tasks:  # a library deep in a connect may swallow one cancellation: insist until every room is done
            for task in tasks:
                task.cancel()
            _, tasks = await asyncio.wait(tasks, timeout=1.0)
        for room in self._rooms.values():
            if not room.state.is_done:
                self._finish(room, RoomState.REMOVED)
        for stream in list(self._streams):
            stream.close()
        await self._http.close()
        self._idle.set()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def proxies(self) -> tuple[ProxyState, ...]:
        """The pool's proxies (``proxies=[...]``) in the order given, with their rooms and bench state."""
        return self._proxies.states

    @property
    def limiters(self) -> Mapping[str, SignLimiter]:
        """The sign limiters in use, by sign server origin (``origin`` or ``origin (key …1234)``)."""
        return self._limiters.by_name()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        states: dict[str, int] = {}
        for room in self._rooms.values():
            states[room.state.value] = states.get(room.state.value, 0) + 1
        return f"<RoomPool rooms={len(self._rooms)} {states}>"

    # ── internals ────────────────────────────────────────────────────────────────────────────────────────────

    def _client_for(self, room: Room, avoid: Iterable[ProxyState] = ()) -> TikTokLiveClient:
        """A new client for ``room``: through the usable pool proxy with the fewest rooms (not one of ``avoid``)
        when the pool has proxies and the room names no proxy of its own."""
        self._proxies.release(room.proxy)
        room.proxy = None
        options = room._options
        if self._proxies and "proxy" not in options:
            room.proxy = self._proxies.take(avoid)
            options = {**options, "proxy": room.proxy._url}
        return self._make_client(room.unique_id, options)

    def _make_client(self, unique_id: str, options: RoomOptions) -> TikTokLiveClient:
        room_id = options.get("room_id")
        recorder = options.get("recorder")
        overrides = {key: value for key, value in options.items() if key not in ("room_id", "recorder")}
        config = self.config.replace(**overrides) if overrides else self.config
        return TikTokLiveClient(
            unique_id,
            room_id=room_id,
            config=config,
            session=self._http(config.proxy),
            sign_gate=self._limiters.gate(config),
            recorder=recorder,
        )

    def _launch(self, room: Room) -> None:
        room._task = asyncio.create_task(self._run_room(room), name=f"tiktok-live pool @{room.unique_id}")

    async def _run_room(self, room: Room) -> None:
        """One room's life: connect (within the connect limit), stream until the end, maybe revisit."""
        final = RoomState.REMOVED  # unless the loop below ends on its own
        tried: list[ProxyState] = []  # proxies this connect has failed on (a room moves to another at once)
        try:
            while True:
                room.state = RoomState.CONNECTING
                permanent = False
                try:
                    config = room.client.config
                    if config.wait_live or config.follow:  # wait outside the connect slots: waiting holds none
                        room.state = RoomState.WAITING
                        await room.client.wait_until_live(config.live_poll_interval)
                        room.state = RoomState.CONNECTING
                    async with self._connect_slots:
                        reader = await room.client.start()
                    room.state = RoomState.CONNECTED
                    room.connects += 1
                    room.error = None
                    tried.clear()
                    if room.proxy is not None:
                        room.proxy.failures = 0
                    try:
                        await reader
                    finally:
                        await room.client.disconnect()
                    outcome = RoomState.ENDED
                except TikTokLiveError as error:
                    _propagate_cancellation(error)
                    room.error, outcome, permanent = error, RoomState.FAILED, isinstance(error, _PERMANENT)
                    logger.warning("@%s: %s", room.unique_id, error)
                    if room.state is not RoomState.CONNECTING:
                        self._proxies.failed(room.proxy, error, room.unique_id)  # the stream died (reconnects ran out)
                    elif self._try_another_proxy(room, error, tried):
                        continue
                except Exception as error:  # one room's unexpected failure must not stop the others
                    _propagate_cancellation(error)
                    room.error, outcome = error, RoomState.FAILED
                    logger.exception("@%s failed", room.unique_id)
                tried.clear()
                if self.revisit_after is None or permanent:
                    final = outcome
                    return
                room.state = RoomState.WAITING
                await asyncio.sleep(self.revisit_after)
                self._replace_client(room)
        finally:
            self._finish(room, final)

    def _try_another_proxy(self, room: Room, error: TikTokLiveError, tried: list[ProxyState]) -> bool:
        """After a failed connect: count it against the room's proxy and, when another usable proxy that this
        connect has not tried exists, give the room a client there (returns True: connect again at once)."""
        failed = room.proxy
        if failed is None or not self._proxies.failed(failed, error, room.unique_id):
            return False
        tried.append(failed)
        if not self._proxies.untried(tried):
            return False
        self._replace_client(room, avoid=tried)
        logger.info("@%s: trying proxy %s", room.unique_id, room.proxy.name if room.proxy else "?")
        return True

    def _replace_client(self, room: Room, avoid: Iterable[ProxyState] = ()) -> None:
        _unsubscribe(room.client, self._by_type, room._deliver)
        room.client = self._client_for(room, avoid)
        _subscribe(room.client, self._by_type, room._deliver)

    def _finish(self, room: Room, state: RoomState) -> None:
        self._proxies.release(room.proxy)
        room.proxy = None
        room.state = state
        room._finished.set()
        self._update_idle()

    def _update_idle(self) -> None:
        if all(room.state.is_done for room in self._rooms.values()):
            self._idle.set()
            if self._all_done():
                for stream in list(self._streams):
                    stream.close()
        else:
            self._idle.clear()

    def _all_done(self) -> bool:
        """Whether the pool runs, has rooms, and every one is done: its streams have nothing more to wait for."""
        return self._started and bool(self._rooms) and all(room.state.is_done for room in self._rooms.values())

    def _publish(self, room: Room, event: BaseEvent) -> None:
        streams = self._by_type.get(type(event))
        if not streams:
            return
        item = RoomEvent(room.unique_id, room.client.room_id, event, int(time.time() * 1000))
        for stream in streams:
            stream.put(item)

    def _close_stream(self, stream: PoolStream[BaseEvent]) -> None:
        if stream in self._streams:
            self._streams.remove(stream)
        self._recompute()

    def _recompute(self) -> None:
        """Resubscribe every room's client to the union of the streams' classes (runs per stream change)."""
        by_type: dict[type[BaseEvent], list[PoolStream[BaseEvent]]] = {}
        for stream in self._streams:
            for event_type in stream.types:
                by_type.setdefault(event_type, []).append(stream)
        added = by_type.keys() - self._by_type.keys()
        removed = self._by_type.keys() - by_type.keys()
        self._by_type = by_type
        for room in self._rooms.values():
            _subscribe(room.client, added, room._deliver)
            _unsubscribe(room.client, removed, room._deliver)


def _subscribe(
    client: TikTokLiveClient, types: Iterable[type[BaseEvent]], handler: Callable[[BaseEvent], None]
) -> None:
    for event_type in types:
        client.add_listener(event_type, handler)


def _unsubscribe(
    client: TikTokLiveClient, types: Iterable[type[BaseEvent]], handler: Callable[[BaseEvent], None]
) -> None:
    for event_type in types:
        client.remove_listener(event_type, handler)


def _propagate_cancellation(error: BaseException) -> None:
    """Re-raise a cancellation that a library turned into another error (asyncio.wait_for on 3.11 can)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError from error


def _key(user: str) -> str:
    try:
        return normalize_unique_id(user)
    except ValueError:
        return user
