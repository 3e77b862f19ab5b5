"""A fleet worker: holds rooms through Redis leases, runs a client per room, commits every frame, hands rooms over.

Every quarter of the lease, apart from everything else: a heartbeat, and every held lease renewed in one round
trip (a room whose lease could not be renewed stops locally before the lease can expire in Redis, so two workers
never export a room at once). One round every ``lease / 3`` seconds: stop rooms that were removed; hand rooms over
above the fair share; take unheld rooms up to the fair share and the capacity.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import random
import socket
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from tiktok_live._config import ClientConfig
from tiktok_live._connection import ConnectEvent, ReconnectEvent
from tiktok_live._http import redact
from tiktok_live._lookup import CHECK_BATCH, RoomLookup
from tiktok_live.client import TikTokLiveClient
from tiktok_live.errors import (
    FleetError,
    SignAPIKeyError,
    SnapshotError,
    TikTokLiveError,
    UserNotFoundError,
    UserOfflineError,
)
from tiktok_live.export._sink import Record
from tiktok_live.fleet._admin import connect_redis
from tiktok_live.fleet._gate import FleetGate
from tiktok_live.fleet._store import DEFAULT_PREFIX, FORGET_WORKERS_AFTER, Lease, Store
from tiktok_live.protocol import Received, Session

if TYPE_CHECKING:
    import redis.asyncio

    from tiktok_live.export import Sink

__all__ = ["DEFAULT_CAPACITY", "DEFAULT_LEASE", "Worker"]

logger = logging.getLogger("tiktok_live.fleet")

DEFAULT_LEASE: Final = 15.0
"""Seconds a lease lasts without renewal: how long a dead worker's rooms wait before others take them."""
DEFAULT_CAPACITY: Final = 100
"""Rooms one worker holds at most."""
_GATHER: Final = 0.05
"""Seconds a woken round waits for more wake-ups (a worker releasing 100 rooms sends 100)."""
RENEW_EVERY: Final = 0.25
"""Leases are renewed every quarter of their length (a renewal may fail twice before a room stops)."""
DEFAULT_POLL: Final = 30.0
"""Seconds between live checks of the offline rooms a worker holds."""
_RETRY: Final = (1.0, 60.0)
_PROBE: Final = "@tiktok"
"""The handle of the client whose HTTP session, cookies and options the live checks use (never looked up)."""


class LeaseLostError(FleetError):
    """This worker no longer holds the room (its lease expired or another worker took it): the room stops here."""


@dataclass(eq=False)
class _Held:
    lease: Lease
    task: asyncio.Task[None] | None = None
    client: TikTokLiveClient | None = None
    deadline: asyncio.TimerHandle | None = None
    state: str = "connecting"
    synced: bool = False
    ended_room: int | None = None
    """The room whose LIVE ended last: TikTok may show it a while longer, and it must not be read again."""
    """Whether Redis's copy of the duplicate window is this client's session's (then commits only append)."""


class Worker:
    """A fleet worker: ``await Worker(redis_url, ...).run()`` until :meth:`stop` (SIGTERM/SIGINT in the CLI).

    ``capacity``: rooms held at most. ``lease``: seconds a lease lasts (renewed every quarter of it). ``name``:
    unique per worker (default host and pid). ``to``: where events go — a Redis stream URL on the fleet's Redis
    (``redis://…?stream=NAME``) commits them exactly once, atomically with the room's snapshot; any other sink URL
    (``nats://…``, a file) gets them at least once, with ``msg_id`` for deduplication. ``sign_limits``: the
    fleet-wide sign budget as (window seconds, max requests) pairs; None reads the sign server's published
    ``/webcast/rate_limits`` once. ``config``: the clients' connection options. ``clock`` is injectable.
    """

    def __init__(
        self,
        redis_url: str,
        *,
        config: ClientConfig | None = None,
        capacity: int = DEFAULT_CAPACITY,
        lease: float = DEFAULT_LEASE,
        name: str | None = None,
        prefix: str = DEFAULT_PREFIX,
        to: str | None = None,
        sign_limits: Sequence[tuple[float, int]] | None = None,
        poll_interval: float = DEFAULT_POLL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        if not (math.isfinite(lease) and lease >= 1):
            raise ValueError("lease must be at least 1 second")
        if not (math.isfinite(poll_interval) and poll_interval > 0):
            raise ValueError("poll_interval must be a positive number of seconds")
        self.redis_url = redis_url
        self.config = config if config is not None else ClientConfig()
        self.capacity = capacity
        self.lease = lease
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.prefix = prefix
        self.poll_interval = poll_interval
        self._clock = clock
        self._rng = random.Random()
        self._stream, self._maxlen, self._sink_url = _export_target(to, redis_url)
        self._sign_limits = sign_limits
        self._held: dict[str, _Held] = {}
        self._offline: dict[str, asyncio.Future[None]] = {}
        self._ended_rooms: dict[str, int | None] = {}
        self._stopping = asyncio.Event()
        self._woken = asyncio.Event()
        self._redis: redis.asyncio.Redis | None = None
        self._store: Store | None = None
        self._sink: Sink | None = None
        self._gate: FleetGate | None = None
        self._started_ms = 0
        self.events = 0
        """Events committed (or sent to the sink) by this worker."""
        self.commits = 0
        """Frames committed (each: its events and the room's snapshot, in one Redis script)."""
        self.reconnects = 0
        """Reconnects of this worker's clients."""
        self.renewals_failed = 0
        """Lease renewals that failed (Redis unreachable, or the lease was lost)."""
        self.rounds = 0
        """Rounds run."""

    # ── lifecycle ───────────────────────────────────────────────────────────────────────────────────────────────

    @property
    def rooms(self) -> dict[str, str]:
        """The rooms held now and their state."""
        return {handle: held.state for handle, held in self._held.items()}

    @property
    def sign_waits(self) -> int:
        """Times a sign request waited for the fleet-wide budget."""
        return self._gate.waits if self._gate is not None else 0

    def stop(self) -> None:
        """Ask :meth:`run` to finish: stop every room, release its lease, leave the fleet. Idempotent."""
        self._stopping.set()

    async def connect(self) -> Store:
        """Connect to the fleet's Redis; raises FleetError (with what to do) when it does not answer."""
        if self._store is None:
            self._redis = await connect_redis(self.redis_url, max(0.5, self.lease / 6))
            self._store = Store(self._redis, self.prefix)
        return self._store

    async def run(self) -> None:
        """Work until :meth:`stop`: rounds every ``lease / 3`` seconds. Raises FleetError when Redis is unreachable
        at start; later outages stop the rooms in time and the worker carries on when Redis returns."""
        store = await self.connect()
        self._started_ms = await store.now_ms()
        self._gate = FleetGate(store, self.config, self._sign_limits)
        if self._sink_url is not None:
            from tiktok_live.export import open_sink

            self._sink = open_sink(self._sink_url)
            await self._sink.start()
        logger.info(
            "fleet worker %s: capacity %d, lease %g s, prefix %s", self.name, self.capacity, self.lease, self.prefix
        )
        checker = asyncio.create_task(self._check_offline(), name="tiktok-live fleet live checks")
        renewer = asyncio.create_task(self._keep_leases(store), name="tiktok-live fleet leases")
        listener = asyncio.create_task(self._listen(store), name="tiktok-live fleet wake-ups")
        try:
            # The first heartbeat goes out now; the first round waits a round, so workers started together see
            # each other and take their shares instead of the first one taking every room and handing most over.
            await self._pause(self.lease / 3)
            while not self._stopping.is_set():
                for task in (renewer, listener):
                    if task.done():
                        task.result()  # they never return: an error of ours, raised here
                started = self._clock()
                try:
                    await self._round(store)
                except (OSError, TimeoutError) as error:
                    logger.warning("fleet round failed (Redis unreachable?): %s", redact(str(error)))
                except Exception as error:
                    if _outage(error):
                        logger.warning("fleet round failed: %s", redact(str(error)))
                    else:
                        raise
                self.rounds += 1
                await self._pause(max(0.0, self.lease / 3 - (self._clock() - started)))
        finally:
            for task in (checker, renewer, listener):
                task.cancel()
            await asyncio.wait({checker, renewer, listener})
            await self._shutdown(store)

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or less: until :meth:`stop`, or a wake-up (rooms released, added or removed), after a
        moment that gathers a burst of them into one round."""
        stopping = asyncio.ensure_future(self._stopping.wait())
        woken = asyncio.ensure_future(self._woken.wait())
        try:
            await asyncio.wait({stopping, woken}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
            if woken.done() and not stopping.done():
                await asyncio.sleep(_GATHER)
        finally:
            for waiter in (stopping, woken):
                waiter.cancel()
            self._woken.clear()

    async def _listen(self, store: Store) -> None:
        """Hear the fleet's wake-ups (a room released, rooms added or removed) and wake the round loop. While Redis
        is away, try again every round; the rounds go on by their clock meanwhile."""
        while True:
            try:
                pubsub = store.redis.pubsub(ignore_subscribe_messages=True)
                try:
                    await pubsub.subscribe(store.wake_channel)
                    while True:
                        if await pubsub.get_message(timeout=self.lease) is not None:
                            self._woken.set()
                finally:
                    await pubsub.aclose()
            except Exception as error:
                if not _outage(error):
                    raise
                await asyncio.sleep(self.lease / 3)

    async def _keep_leases(self, store: Store) -> None:
        """Every :data:`RENEW_EVERY` of the lease: heartbeat, and renew every held lease in one round trip. Apart
        from the rounds, so slow round work (taking rooms, handing them over) never delays a renewal."""
        while True:
            started = self._clock()
            try:
                await store.heartbeat(self.name, self.capacity, len(self._held), self._started_ms, self.lease)
            except Exception as error:
                if not _outage(error):
                    raise
            await self._renew_all(store)
            await asyncio.sleep(max(0.0, self.lease * RENEW_EVERY - (self._clock() - started)))

    async def _shutdown(self, store: Store) -> None:
        """Stop every room (their commits are done per frame), release the leases, leave; close what we opened."""
        handles = list(self._held)
        await asyncio.gather(*(self._drop(handle, release=True) for handle in handles), return_exceptions=True)
        with contextlib.suppress(Exception):
            await store.leave(self.name)
        if self._gate is not None:
            await self._gate.close()
        if self._sink is not None:
            await self._sink.close()
        if self._redis is not None:
            await self._redis.aclose()
        logger.info("fleet worker %s stopped; released %d rooms", self.name, len(handles))

    # ── one round ───────────────────────────────────────────────────────────────────────────────────────────────

    async def _round(self, store: Store) -> None:
        now = await store.now_ms()
        rooms = await store.rooms()
        wanted = {room.handle for room in rooms}
        for handle in [handle for handle in self._held if handle not in wanted]:
            await self._drop(handle, release=True, state="removed")
        workers = await store.workers()
        if any(worker.age(now) > FORGET_WORKERS_AFTER for worker in workers):
            for name in await store.forget_workers(now):
                logger.info("forgot worker %s: no heartbeat for %g s", name, FORGET_WORKERS_AFTER)
        live = [
            worker for worker in workers if worker.age(now) < (worker.lease or self.lease) or worker.name == self.name
        ]
        spread = sum(1 for room in rooms if room.state != "failed")
        limit = fair_share(spread, [(worker.name, worker.capacity) for worker in live], self.name, self.capacity)
        extra = len(self._held) - limit
        if extra > 0 and len(live) > 1:
            # Hand over the newest rooms first (their sessions are the smallest to resume).
            for handle in list(self._held)[-extra:]:
                logger.info("handing @%s over (holding %d, fair share %d)", handle, len(self._held), limit)
                await self._drop(handle, release=True)
        if len(self._held) >= limit:
            return
        free = [room.handle for room in rooms if not room.holder and room.state != "failed"]
        self._rng.shuffle(free)  # workers that start together do not all race for the same rooms first
        for handle in free:
            if len(self._held) >= limit or self._stopping.is_set():
                break
            if handle in self._held:
                continue
            asked = self._clock()
            lease = await store.acquire(handle, self.name, self.lease)
            if lease is not None:
                self._start(lease, asked)

    async def _renew_all(self, store: Store) -> None:
        held = list(self._held.values())
        if not held:
            return
        started = self._clock()
        try:
            renewed = await store.renew_many([item.lease for item in held], self.lease)
        except Exception as error:
            if not _outage(error):
                raise
            self.renewals_failed += len(held)
            logger.warning("could not renew %d leases (Redis unreachable?): %s", len(held), redact(str(error)))
            return
        for item, ok in zip(held, renewed, strict=True):
            if self._held.get(item.lease.handle) is not item:
                continue  # stopped meanwhile
            if ok:
                self._arm(item, started)
            else:
                self.renewals_failed += 1
                logger.warning("lost the lease of @%s: stopping it", item.lease.handle)
                await self._drop(item.lease.handle, release=False)

    def _arm(self, held: _Held, renewed_at: float) -> None:
        """Stop the room locally before its lease can expire in Redis, unless renewed again first."""
        if held.deadline is not None:
            held.deadline.cancel()
        margin = max(0.5, self.lease / 5)
        delay = max(0.0, renewed_at + self.lease - margin - self._clock())
        handle = held.lease.handle
        held.deadline = asyncio.get_running_loop().call_later(delay, self._expire, handle, held)

    def _expire(self, handle: str, held: _Held) -> None:
        if self._held.get(handle) is held:
            logger.warning("could not renew the lease of @%s in time: stopping it before it expires", handle)
            self._held.pop(handle)
            if held.task is not None:
                held.task.cancel()

    # ── rooms ───────────────────────────────────────────────────────────────────────────────────────────────────

    def _start(self, lease: Lease, asked: float) -> None:
        """Run a room just acquired; ``asked``: when the acquisition was sent (the lease runs from no earlier)."""
        logger.info("took @%s (fencing token %d)", lease.handle, lease.token)
        held = _Held(lease)
        self._held[lease.handle] = held
        self._arm(held, asked)
        held.task = asyncio.create_task(self._run_room(held), name=f"tiktok-live fleet @{lease.handle}")

    async def _drop(self, handle: str, *, release: bool, state: str = "waiting") -> None:
        """Stop holding ``handle``: cancel its room task (unless that task is the caller) and, with ``release``,
        give its lease up leaving the room in ``state``."""
        held = self._held.pop(handle, None)
        if held is None:
            return
        if held.deadline is not None:
            held.deadline.cancel()
        task = held.task if held.task is not asyncio.current_task() else None
        while task is not None and not task.done():
            # Again if need be: a cancel that lands as an inner wait_for completes is lost on Python 3.11; the
            # room's loop then ends by itself, seeing the room is no longer held.
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)
        if release and self._store is not None:
            with contextlib.suppress(Exception):
                await self._store.release(held.lease, state)

    async def _run_room(self, held: _Held) -> None:
        """One room, as long as this worker holds it: resume from the committed snapshot, stream, follow the host
        to its next LIVE, retry failures with backoff."""
        store = self._store
        assert store is not None
        handle = held.lease.handle
        delay = _RETRY[0]
        while self._held.get(handle) is held:
            try:
                await self._stream_room(store, held)
                delay = _RETRY[0]
                await self._status(held, state="offline")  # the LIVE ended: wait for the next one
                await self._wait_live(held)
            except LeaseLostError:
                self._held.pop(handle, None)
                return
            except UserOfflineError:
                await self._status(held, state="offline")
                await self._wait_live(held)
            except (UserNotFoundError, SignAPIKeyError) as error:
                logger.warning("@%s failed: %s", handle, error)
                await self._status(held, state="failed", error=str(error)[:500])
                await self._drop(handle, release=True, state="failed")
                return
            except Exception as error:
                if not isinstance(error, TikTokLiveError) and not _outage(error):
                    raise
                # A failed commit (Redis unreachable) lands here too: the room starts over from what Redis holds,
                # once the lease is still ours (else the local deadline stops it first).
                logger.warning("@%s: %s; retrying in %.0f s", handle, redact(str(error)), delay)
                await self._status(held, state="waiting", error=redact(str(error))[:500])
                await asyncio.sleep(delay)
                delay = min(_RETRY[1], delay * 2)

    async def _stream_room(self, store: Store, held: _Held) -> None:
        handle = held.lease.handle
        snapshot = await store.snapshot(handle)
        session: Session | None = None
        if snapshot is not None and snapshot.get("ended"):
            ended = snapshot.get("room_id")
            held.ended_room = ended if isinstance(ended, int) and ended else held.ended_room
        elif snapshot is not None:
            try:
                session = Session.restore(snapshot, max_decompressed_size=self.config.max_decompressed_size)
            except SnapshotError as error:
                logger.warning("@%s: ignoring its snapshot: %s", handle, error)
        room_id = None
        if session is None and held.ended_room is not None:
            # A new LIVE, not the one that ended (which TikTok's pages may still name): offline until then.
            room_id = await self._room_id(handle)
            if room_id == held.ended_room:
                raise UserOfflineError(handle)
        client = TikTokLiveClient(handle, room_id=room_id, config=self.config, sign_gate=self._gate)
        client._decode_everything = True  # export every message, listened to or not
        held.client = client
        held.synced = False  # the first commit writes the whole duplicate window

        async def commit(received: Received) -> None:
            await self._commit(held, client, received)

        client._connection.frame_hook = commit

        def connected(event: ConnectEvent) -> None:
            held.state = "live"
            _background(self._status(held, state="live", room_id=str(event.room_id), error=""))

        def reconnecting(event: ReconnectEvent) -> None:
            self.reconnects += 1
            _background(self._status(held, reconnects=1))

        client.add_listener(ConnectEvent, connected)
        client.add_listener(ReconnectEvent, reconnecting)
        await self._status(held, state="connecting")
        try:
            await client.connect(resume=session)
        finally:
            held.client = None
        if client.session.ended:
            held.ended_room = client.room_id

    async def _commit(self, held: _Held, client: TikTokLiveClient, received: Received) -> None:
        """The frame's events and the session's new snapshot, atomically, while the lease holds."""
        if self._held.get(held.lease.handle) is not held:
            raise LeaseLostError(f"@{held.lease.handle} is no longer held by {self.name}")
        if received.error is not None or received.payload_type != "msg":
            return  # nothing changed in the session
        store = self._store
        assert store is not None
        room_id = client.room_id
        records = [Record.from_event(event, room_id=room_id) for event in received.events]
        lines = [record.line for record in records] if self._stream is not None else []
        # Every new message gave at least one event (the worker decodes everything): their ids are what the
        # session's duplicate window gained.
        added = list(dict.fromkeys(event.msg_id for event in received.events if event.msg_id))
        ok = await store.commit(
            held.lease,
            client.session.snapshot(seen=not held.synced),
            lines,
            seen_added=added if held.synced else None,
            events=len(records),
            stream=self._stream,
            maxlen=self._maxlen,
        )
        if not ok:
            raise LeaseLostError(f"the lease of @{held.lease.handle} was lost: another worker has the room now")
        held.synced = True
        self.commits += 1
        self.events += len(records)
        if self._sink is not None:
            for record in records:
                self._sink.send(record)

    async def _status(self, held: _Held, **fields: str | int) -> None:
        if "state" in fields:
            held.state = str(fields["state"])
        if self._store is None:
            return
        with contextlib.suppress(Exception):
            await self._store.set_status(held.lease, **fields)

    async def _wait_live(self, held: _Held) -> None:
        """Wait for the host's next LIVE: the worker's live checker looks at every offline room it holds together."""
        waiter = asyncio.get_running_loop().create_future()
        self._offline[held.lease.handle] = waiter
        self._ended_rooms[held.lease.handle] = held.ended_room
        try:
            await waiter
        finally:
            if self._offline.get(held.lease.handle) is waiter:
                del self._offline[held.lease.handle]
                self._ended_rooms.pop(held.lease.handle, None)

    async def _check_offline(self) -> None:
        """Every ``poll_interval`` seconds: find the current room id of each offline host (its live page), then ask
        TikTok about them in batched live checks (up to 50 rooms a request, as ``check_live`` does); wake
        the hosts that are live. One HTTP session for all of it."""
        probe = TikTokLiveClient(_PROBE, config=self.config)
        limit = asyncio.Semaphore(8)
        try:
            while True:
                await asyncio.sleep(self.poll_interval)
                waiting = {handle: waiter for handle, waiter in self._offline.items() if not waiter.done()}
                if not waiting:
                    continue

                async def resolve(handle: str) -> tuple[str, int | None]:
                    lookup = RoomLookup(handle, probe.config, probe._http, probe._cookies)
                    async with limit:
                        try:
                            return handle, await lookup.resolve_room_id()
                        except TikTokLiveError:
                            return handle, None  # still offline (or the page failed: next time)

                resolved = dict(await asyncio.gather(*(resolve(handle) for handle in waiting)))
                ids = {
                    room_id: handle
                    for handle, room_id in resolved.items()
                    if room_id and room_id != self._ended_rooms.get(handle)  # the LIVE that ended is no news
                }
                rooms = sorted(ids)
                for start in range(0, len(rooms), CHECK_BATCH):
                    batch = rooms[start : start + CHECK_BATCH]
                    try:
                        alive = await probe._lookup.check_alive(batch)
                    except TikTokLiveError as error:
                        logger.info("batched live check of %d rooms failed: %s", len(batch), error)
                        continue
                    for room_id in batch:
                        waiter = waiting[ids[room_id]]
                        if alive.get(room_id, False) and not waiter.done():  # unmentioned: not live
                            waiter.set_result(None)
        finally:
            await probe.disconnect()

    async def _room_id(self, handle: str) -> int:
        """The host's current room id (their live page, else the room API); UserOfflineError while offline."""
        probe = TikTokLiveClient(handle, config=self.config)
        try:
            return await probe._lookup.resolve_room_id()
        finally:
            await probe.disconnect()


_BACKGROUND: set[asyncio.Task[None]] = set()


def _background(coroutine: Coroutine[object, object, None]) -> None:
    task = asyncio.ensure_future(coroutine)
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)


def _redis_error(error: BaseException) -> bool:
    return any(klass.__module__.startswith("redis") for klass in type(error).__mro__)


def _outage(error: BaseException) -> bool:
    """Whether ``error`` means Redis could not be reached or answered in time (not a bug of ours)."""
    return _redis_error(error) or isinstance(error, OSError | TimeoutError)


def fair_share(rooms: int, workers: Sequence[tuple[str, int]], me: str, capacity: int) -> int:
    """How many of ``rooms`` the worker ``me`` should hold, given every live worker's (name, capacity): rooms are
    spread as evenly as capacities allow (water-filling, the smallest capacities first, names breaking ties), so
    the shares add up to every room while the fleet has the capacity. ``capacity`` bounds the answer."""
    ordered = sorted(workers, key=lambda worker: (worker[1], worker[0]))
    if me not in {name for name, _ in ordered}:
        ordered = sorted([*ordered, (me, capacity)], key=lambda worker: (worker[1], worker[0]))
    remaining = rooms
    for index, (name, room_for) in enumerate(ordered):
        share = min(room_for, math.ceil(remaining / (len(ordered) - index)))
        if name == me:
            return min(capacity, share)
        remaining = max(0, remaining - share)
    return 0


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or '?'}:{parts.port or 6379}"


def _export_target(to: str | None, redis_url: str) -> tuple[str | None, int | None, str | None]:
    """(stream key for exactly-once commits, its maxlen, other sink URL): a Redis stream on the fleet's own Redis
    is committed in the lease's transaction; anything else goes through an ordinary sink."""
    if to is None:
        return None, None, None
    parts = urlsplit(to)
    fleet = urlsplit(redis_url)
    if parts.scheme in ("redis", "rediss") and (parts.hostname, parts.port or 6379, parts.path or "/0") == (
        fleet.hostname,
        fleet.port or 6379,
        fleet.path or "/0",
    ):
        from urllib.parse import parse_qs

        query = parse_qs(parts.query)
        stream = query.get("stream", ["tiktok-live"])[0]
        maxlen = int(query["maxlen"][0]) if "maxlen" in query else None
        return stream, maxlen, None
    return None, None, to
