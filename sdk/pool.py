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
  reconnects alike: a token bucket per window. The limits come from ``sign_rate`` / ``sign_burst`` when given, else
  from the sign server's ``GET /webcast/rate_limits`` (``{"minute": {"max": 5, "remaining": 3}, "hour": ..., "day":
  ...}``); a server that does not publish them (HTTP 404, like the simulator) leaves signing unthrottled. A 429 with
  ``Retry-After`` pauses every room that signs with that key.
- **Rooms at run time.** :meth:`RoomPool.add` and :meth:`RoomPool.remove` work before and while the pool runs.
- **Per-room reconnects** stay the client's own (``reconnect=ReconnectPolicy(...)``). A room whose stream ends or
  whose client gives up is done, unless ``revisit_after`` is set: then the pool connects it again after that many
  seconds with a fresh client (a host's next LIVE has a new room id), except after ``UserNotFoundError`` or
  ``SignAPIKeyError``.

Cancellation: cancelling a task that awaits :meth:`RoomPool.remove`, :meth:`RoomPool.close` or a stream leaves the
pool consistent; :meth:`RoomPool.close` cancels every room task, waits for the clients to close, then ends the
streams after their buffered events.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, Self, TypedDict, TypeVar, Unpack, overload

import aiohttp

from tiktok_live._base import BaseEvent
from tiktok_live._buffer import DropOldestBuffer
from tiktok_live._emitter import E
from tiktok_live.client import DEFAULT_SIGN_URL, ReconnectPolicy, TikTokLiveClient, normalize_unique_id, sign_settings
from tiktok_live.errors import SignAPIKeyError, TikTokLiveError, UserNotFoundError
from tiktok_live.recording import Recorder

__all__ = [
    "DEFAULT_DEDUPE_SIZE",
    "ClientOptions",
    "PoolStream",
    "Room",
    "RoomEvent",
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

RATE_LIMITS_PATH: Final = "/webcast/rate_limits"
"""Where a sign server publishes its per-key limits (Euler Stream's API)."""
WINDOWS: Final[Mapping[str, float]] = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}
"""The windows of ``/webcast/rate_limits`` the limiter understands, in seconds."""
DEFAULT_DEDUPE_SIZE: Final = 2_000
"""The msg_id window each room's client deduplicates over, in a pool (the client alone keeps 10,000). The window
dominates a busy room's memory (about 108 bytes an id: 10,000 ids are ~1 MiB a room) while a reconnect replays only
the few dozen messages of the sign bundle's history."""
_RATE_LIMITS_TIMEOUT: Final = 5.0
_PERMANENT: Final = (UserNotFoundError, SignAPIKeyError)


class ClientOptions(TypedDict, total=False):
    """Keyword options of :class:`~tiktok_live.TikTokLiveClient` that a pool passes on (``session`` is the pool's).

    Given to :class:`RoomPool` they apply to every room; given to :meth:`RoomPool.add`, to that room (and win).
    ``http_timeout`` also sets the total timeout of the session the pool creates; ``dedupe_size`` defaults to
    :data:`DEFAULT_DEDUPE_SIZE` in a pool (see there).
    """

    room_id: int | None
    sign_api_key: str | None
    sign_url: str | None
    web_url: str
    webcast_url: str
    proxy: str | None
    user_agent: str
    fetch_room_info: bool
    process_initial_messages: bool
    reconnect: ReconnectPolicy | None
    watchdog_timeout: float
    heartbeat_interval: float | None
    http_timeout: float
    max_frame_size: int
    max_decompressed_size: int
    dedupe_size: int
    recorder: Recorder | None
    session_id: str | None
    tt_target_idc: str


# ── sign-rate limiting ───────────────────────────────────────────────────────────────────────────────────────────


class TokenBucket:
    """``capacity`` tokens that refill at ``rate`` per second; one token per sign request.

    ``tokens`` is the starting level (default: full), e.g. the ``remaining`` a sign server reports.
    """

    __slots__ = ("_tokens", "_updated", "capacity", "rate")

    def __init__(self, rate: float, capacity: float, *, tokens: float | None = None) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("a token bucket needs rate > 0 and capacity >= 1")
        self.rate = rate
        self.capacity = capacity
        self._tokens = capacity if tokens is None else max(0.0, min(capacity, tokens))
        self._updated = time.monotonic()

    def _refill(self, now: float) -> None:
        if now > self._updated:
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
            self._updated = now

    def delay(self, now: float) -> float:
        """Seconds from ``now`` (``time.monotonic()``) until a token is available; 0 when one is."""
        self._refill(now)
        return 0.0 if self._tokens >= 1.0 else (1.0 - self._tokens) / self.rate

    def take(self, now: float) -> None:
        """Take one token (the caller checked :meth:`delay` is 0)."""
        self._refill(now)
        self._tokens -= 1.0

    @property
    def tokens(self) -> float:
        """Tokens available now."""
        self._refill(time.monotonic())
        return self._tokens

    def __repr__(self) -> str:
        return f"<TokenBucket {self.tokens:.1f}/{self.capacity:g} +{self.rate:g}/s>"


class WindowBudget:
    """``capacity`` requests per fixed window of ``seconds``, as a sign server counts them: the current window has
    ``tokens`` left (default: all) and ends ``reset_in`` seconds from now (default: a whole window); then every
    window starts full again. Unlike a token bucket it never lets more than ``capacity`` through in one window.
    ``rate`` is the long-run average, ``capacity / seconds``.
    """

    __slots__ = ("_reset", "_tokens", "capacity", "rate", "seconds")

    def __init__(
        self, capacity: float, seconds: float, *, tokens: float | None = None, reset_in: float | None = None
    ) -> None:
        if capacity < 1 or seconds <= 0:
            raise ValueError("a window budget needs capacity >= 1 and seconds > 0")
        self.capacity = capacity
        self.seconds = seconds
        self.rate = capacity / seconds
        self._tokens = capacity if tokens is None else max(0.0, min(capacity, tokens))
        self._reset = time.monotonic() + (seconds if reset_in is None else max(0.0, min(seconds, reset_in)))

    def _roll(self, now: float) -> None:
        if now >= self._reset:
            self._reset += self.seconds * (1 + int((now - self._reset) // self.seconds))
            self._tokens = self.capacity

    def delay(self, now: float) -> float:
        """Seconds from ``now`` until a request may go; 0 when one may."""
        self._roll(now)
        return 0.0 if self._tokens >= 1.0 else self._reset - now

    def take(self, now: float) -> None:
        """Count one request (the caller checked :meth:`delay` is 0)."""
        self._roll(now)
        self._tokens -= 1.0

    @property
    def tokens(self) -> float:
        """Requests left in the current window."""
        self._roll(time.monotonic())
        return self._tokens

    def __repr__(self) -> str:
        return f"<WindowBudget {self.tokens:g}/{self.capacity:g} per {self.seconds:g} s>"


class SignLimiter:
    """Paces the sign requests of one sign server and API key: every bucket must have a token, and nobody signs
    while a rate-limit pause (:meth:`pause`) runs. Waiters are served in arrival order.

    No buckets means unthrottled (only pauses apply). Counters: ``acquired`` requests let through, ``waited``
    seconds spent waiting in total, ``pauses`` rate-limit pauses.
    """

    def __init__(self, buckets: Sequence[TokenBucket | WindowBudget] = ()) -> None:
        self.buckets: tuple[TokenBucket | WindowBudget, ...] = tuple(buckets)
        self.acquired = 0
        self.waited = 0.0
        self.pauses = 0
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    @classmethod
    def fixed(cls, rate: float, burst: int | None = None) -> SignLimiter:
        """``rate`` requests per second with bursts of ``burst`` (default: ``ceil(rate)``, at least 1)."""
        return cls([TokenBucket(rate, float(burst if burst is not None else max(1, math.ceil(rate))))])

    @classmethod
    def from_rate_limits(cls, data: object) -> SignLimiter | None:
        """A limiter for a ``/webcast/rate_limits`` answer: one fixed-window budget per window (``second``,
        ``minute``, ``hour``, ``day``) of ``max`` (or ``limit``) requests, starting at ``remaining`` until
        ``reset_at`` when given. Accepts the object bare or under ``data``; None when it names no limit."""
        if isinstance(data, Mapping) and isinstance(data.get("data"), Mapping):
            data = data["data"]
        if not isinstance(data, Mapping):
            return None
        buckets: list[TokenBucket | WindowBudget] = []
        for name, seconds in WINDOWS.items():
            window = data.get(name)
            limit = _number(window.get("max", window.get("limit"))) if isinstance(window, Mapping) else None
            if limit is None:
                limit = _number(window)
            if limit is None or limit < 1:
                continue
            remaining = _number(window.get("remaining")) if isinstance(window, Mapping) else None
            reset_at = _number(window.get("reset_at")) if isinstance(window, Mapping) else None
            buckets.append(WindowBudget(limit, seconds, tokens=remaining, reset_in=_reset_in(reset_at)))
        return cls(buckets) if buckets else None

    def pause(self, seconds: float) -> None:
        """Let nobody sign for ``seconds`` (a 429's ``Retry-After``); extends, never shortens, a running pause."""
        self.pauses += 1
        self._paused_until = max(self._paused_until, time.monotonic() + max(0.0, seconds))

    async def acquire(self) -> None:
        """Wait for a token in every bucket and for any pause to end, then take the tokens.

        Cancellation-safe: a waiter that is cancelled takes nothing and leaves the queue.
        """
        async with self._lock:
            while True:
                now = time.monotonic()
                wait = max([self._paused_until - now, *(bucket.delay(now) for bucket in self.buckets)])
                if wait <= 0:
                    for bucket in self.buckets:
                        bucket.take(now)
                    self.acquired += 1
                    return
                self.waited += wait
                await asyncio.sleep(wait)

    def __repr__(self) -> str:
        return f"<SignLimiter buckets={list(self.buckets)} acquired={self.acquired} pauses={self.pauses}>"


def _reset_in(reset_at: float | None) -> float | None:
    """Seconds until a published ``reset_at`` (unix seconds, or milliseconds); None when not given."""
    if reset_at is None:
        return None
    if reset_at > 1e12:
        reset_at /= 1000
    return max(0.0, reset_at - time.time())


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


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
    """Ended or failed; connecting again after ``revisit_after`` seconds."""
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
        "state",
        "unique_id",
    )

    def __init__(self, pool: RoomPool, unique_id: str, options: ClientOptions) -> None:
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
        self.client: TikTokLiveClient = pool._make_client(unique_id, options)
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


class _PoolGate:
    """The :class:`~tiktok_live.client.SignGate` of one pooled client: the pool's limiter for its sign server and
    key, resolved on first use (that may read the server's ``/webcast/rate_limits``)."""

    def __init__(self, pool: RoomPool, sign_url: str, api_key: str | None) -> None:
        self._pool = pool
        self._sign_url = sign_url
        self._api_key = api_key
        self._limiter: SignLimiter | None = None

    async def acquire(self) -> None:
        if self._limiter is None:
            self._limiter = await self._pool._limiter(self._sign_url, self._api_key)
        await self._limiter.acquire()

    def pause(self, seconds: float) -> None:
        if self._limiter is not None:
            self._limiter.pause(seconds)


# ── the pool ─────────────────────────────────────────────────────────────────────────────────────────────────────


class RoomPool:
    """Watches many rooms in one process; see the module documentation for what it shares and limits.

    ``max_connecting``: rooms running their connect sequence at once. ``sign_rate`` (requests per second) and
    ``sign_burst``: a fixed sign limit per sign server and key instead of the server's ``/webcast/rate_limits``.
    ``revisit_after``: seconds after which a done room is connected again (None: never). ``session``: a shared
    session to use (not closed by the pool). Other keyword options go to every client (:class:`ClientOptions`).

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
        **client_options: Unpack[ClientOptions],
    ) -> None:
        if max_connecting < 1:
            raise ValueError("max_connecting must be at least 1")
        if sign_rate is not None and sign_rate <= 0:
            raise ValueError("sign_rate must be positive (or None to read the sign server's limits)")
        if revisit_after is not None and revisit_after < 0:
            raise ValueError("revisit_after cannot be negative")
        self.max_connecting = max_connecting
        self.sign_rate = sign_rate
        self.sign_burst = sign_burst
        self.revisit_after = revisit_after
        self.client_options: ClientOptions = {"dedupe_size": DEFAULT_DEDUPE_SIZE, **client_options}
        self._session = session
        self._owns_session = session is None
        self._connect_slots = asyncio.Semaphore(max_connecting)
        self._rooms: dict[str, Room] = {}
        self._streams: list[PoolStream[BaseEvent]] = []
        self._by_type: dict[type[BaseEvent], list[PoolStream[BaseEvent]]] = {}
        self._limiters: dict[tuple[str, str | None], SignLimiter] = {}
        self._limiter_locks: dict[tuple[str, str | None], asyncio.Lock] = {}
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

    def add(self, user: str, **options: Unpack[ClientOptions]) -> Room:
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
        merged: ClientOptions = {**self.client_options, **options}
        room = Room(self, unique_id, merged)
        self._rooms[unique_id] = room
        self._subscribe(room.client, self._by_type, room._deliver)
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
            self._unsubscribe(room.client, self._by_type, room._deliver)
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
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None
        self._idle.set()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def limiters(self) -> Mapping[str, SignLimiter]:
        """The sign limiters in use, by sign server origin (``origin`` or ``origin (key …1234)``)."""
        return {_limiter_name(url, key): limiter for (url, key), limiter in self._limiters.items()}

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

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            # Every room holds one WebSocket: the default connector limit (100) would stall the 101st room.
            timeout = aiohttp.ClientTimeout(total=self.client_options.get("http_timeout", 10.0))
            # No cookie jar: rooms with different session ids must not share cookies through it.
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0), timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    def _make_client(self, unique_id: str, options: ClientOptions) -> TikTokLiveClient:
        sign_url, api_key = sign_settings(options.get("sign_url"), options.get("sign_api_key"))
        gate = _PoolGate(self, sign_url, api_key)
        return TikTokLiveClient(unique_id, session=self._http(), sign_gate=gate, **options)

    def _launch(self, room: Room) -> None:
        room._task = asyncio.create_task(self._run_room(room), name=f"tiktok-live pool @{room.unique_id}")

    async def _run_room(self, room: Room) -> None:
        """One room's life: connect (within the connect limit), stream until the end, maybe revisit."""
        final = RoomState.REMOVED  # unless the loop below ends on its own
        try:
            while True:
                room.state = RoomState.CONNECTING
                permanent = False
                try:
                    async with self._connect_slots:
                        reader = await room.client.start()
                    room.state = RoomState.CONNECTED
                    room.connects += 1
                    room.error = None
                    try:
                        await reader
                    finally:
                        await room.client.disconnect()
                    outcome = RoomState.ENDED
                except TikTokLiveError as error:
                    _propagate_cancellation(error)
                    room.error, outcome, permanent = error, RoomState.FAILED, isinstance(error, _PERMANENT)
                    logger.warning("@%s: %s", room.unique_id, error)
                except Exception as error:  # one room's unexpected failure must not stop the others
                    _propagate_cancellation(error)
                    room.error, outcome = error, RoomState.FAILED
                    logger.exception("@%s failed", room.unique_id)
                if self.revisit_after is None or permanent:
                    final = outcome
                    return
                room.state = RoomState.WAITING
                await asyncio.sleep(self.revisit_after)
                self._replace_client(room)
        finally:
            self._finish(room, final)

    def _replace_client(self, room: Room) -> None:
        self._unsubscribe(room.client, self._by_type, room._deliver)
        room.client = self._make_client(room.unique_id, room._options)
        self._subscribe(room.client, self._by_type, room._deliver)

    def _finish(self, room: Room, state: RoomState) -> None:
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
            self._subscribe(room.client, added, room._deliver)
            self._unsubscribe(room.client, removed, room._deliver)

    @staticmethod
    def _subscribe(
        client: TikTokLiveClient, types: Iterable[type[BaseEvent]], handler: Callable[[BaseEvent], None]
    ) -> None:
        for event_type in types:
            client.add_listener(event_type, handler)

    @staticmethod
    def _unsubscribe(
        client: TikTokLiveClient, types: Iterable[type[BaseEvent]], handler: Callable[[BaseEvent], None]
    ) -> None:
        for event_type in types:
            client.remove_listener(event_type, handler)

    async def _limiter(self, sign_url: str, api_key: str | None) -> SignLimiter:
        """The limiter for one sign server and key, made on first use (reading its published limits once)."""
        key = (sign_url or DEFAULT_SIGN_URL, api_key)
        limiter = self._limiters.get(key)
        if limiter is not None:
            return limiter
        lock = self._limiter_locks.setdefault(key, asyncio.Lock())
        async with lock:
            limiter = self._limiters.get(key)
            if limiter is None:
                if self.sign_rate is not None:
                    limiter = SignLimiter.fixed(self.sign_rate, self.sign_burst)
                else:
                    limiter = await self._published_limits(*key) or SignLimiter()
                self._limiters[key] = limiter
                logger.info("sign limits for %s: %r", _limiter_name(*key), limiter)
        return limiter

    async def _published_limits(self, sign_url: str, api_key: str | None) -> SignLimiter | None:
        """``GET /webcast/rate_limits`` as a limiter; None (unthrottled) when the server does not publish them."""
        headers = {"User-Agent": "tiktok-live (Python)"}
        if api_key:
            headers["X-Api-Key"] = api_key
        url = sign_url.rstrip("/") + RATE_LIMITS_PATH
        try:
            async with self._http().get(
                url,
                headers=headers,
                proxy=self.client_options.get("proxy"),
                timeout=aiohttp.ClientTimeout(total=_RATE_LIMITS_TIMEOUT),
            ) as response:
                if response.status != 200:
                    logger.info("%s answered HTTP %d: no published sign limits", url, response.status)
                    return None
                data: object = json.loads(await response.read())
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            logger.info("could not read sign limits from %s (%s): signing unthrottled", url, error)
            return None
        limiter = SignLimiter.from_rate_limits(data)
        if limiter is None:
            logger.info("%s names no limits: signing unthrottled", url)
        return limiter


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


def _limiter_name(sign_url: str, api_key: str | None) -> str:
    return f"{sign_url} (key …{api_key[-4:]})" if api_key else sign_url
