"""The fleet's state in Redis: rooms wanted, leases with fencing tokens, committed snapshots, workers, sign budgets.

Every key starts with the fleet's prefix in braces (``{tiktok-live}:…``), so all of them share one hash slot and
the scripts below stay atomic on a Redis Cluster too (the export stream must then live in the same slot: name it
with the same braces). Times come from Redis (``TIME``), never from the workers' clocks, so clock skew between
machines cannot stretch a lease or a sign window.

Keys (``P`` is ``{prefix}``):

- ``P:rooms`` hash: handle → JSON of when it was added (the rooms the fleet should watch);
- ``P:room:<handle>`` hash: the room's status (state, holder, since, events, reconnects, error, room_id, token);
- ``P:lease:<handle>`` string ``<worker>|<token>`` with a PX expiry: who holds the room;
- ``P:fence:<handle>`` integer: the last fencing token handed out (strictly increasing per room);
- ``P:snap:<handle>`` string: the room's last committed ``protocol.Session`` snapshot (JSON) but its duplicate
  window, which is the list ``P:seen:<handle>`` (msg ids, oldest first): a frame's commit appends its new ids
  instead of rewriting thousands;
- ``P:workers`` hash: worker → JSON heartbeat (Redis time in ms, capacity, rooms held); a worker whose heartbeat
  is older than :data:`FORGET_WORKERS_AFTER` is removed by the others (a killed worker never says goodbye);
- ``P:sign:<key id>:<window>:<n>`` counters of sign requests per fixed window, ``P:sign:<key id>:pause``.

Channel ``P:wake``: a message whenever a room is released or the wanted rooms change, so workers run a round at
once instead of at their next (the rooms of a worker that stops move at once).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import redis.asyncio

__all__ = ["DEFAULT_PREFIX", "FORGET_WORKERS_AFTER", "Lease", "RoomRecord", "Store", "WorkerRecord"]

_HELD_STATES: Final = frozenset({"connecting", "live", "offline"})

DEFAULT_PREFIX: Final = "tiktok-live"
"""The prefix of every Redis key a fleet uses (one Redis may hold several fleets with different prefixes)."""
SIGN_GUARD: Final = 0.25
"""Seconds at the end of a sign window in which no request starts: it could reach the sign server in the next
window and be counted there (a request takes a moment from Redis to the sign server, more on a loaded machine)."""

FORGET_WORKERS_AFTER: Final = 3600.0
"""Seconds after its last heartbeat that a worker that stopped without leaving (killed, its machine gone) is
removed from the heartbeat table. Until then ``fleet status`` shows it as not alive."""

_FORGET: Final = """
-- KEYS: workers; ARGV: worker, the heartbeat record read (removed only if it is still that one)
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
"""
_ACQUIRE: Final = """
-- KEYS: lease, fence, room; ARGV: worker, lease_ms
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. token, 'PX', ARGV[2])
local now = redis.call('TIME')
local ms = now[1] * 1000 + math.floor(now[2] / 1000)
redis.call('HSET', KEYS[3], 'holder', ARGV[1], 'since', ms, 'state', 'connecting', 'token', token, 'error', '')
return token
"""
_RENEW: Final = """
-- KEYS: lease; ARGV: holder value, lease_ms
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""
_RELEASE: Final = """
-- KEYS: lease, room; ARGV: holder value, state, wake channel (workers take the room in a round they run now)
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  local now = redis.call('TIME')
  redis.call('HSET', KEYS[2], 'holder', '', 'state', ARGV[2], 'since', now[1] * 1000 + math.floor(now[2] / 1000))
  redis.call('PUBLISH', ARGV[3], 'released')
  return 1
end
return 0
"""
_COMMIT: Final = """
-- KEYS: lease, snapshot, room, seen[, stream]
-- ARGV: holder value, snapshot JSON (without its duplicate window), maxlen (0: none), worker, token,
--       seen mode ('append' or 'replace'), dedupe size, events (the frame's count, for the room's status),
--       n (ids that follow), the n ids, then the event lines (none when the events go to another sink).
-- Each stream entry: event (the JSON line), holder and token (who committed it, under which lease).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local n = tonumber(ARGV[9])
local first_line = 10 + n
if KEYS[5] then
  local maxlen = tonumber(ARGV[3])
  for i = first_line, #ARGV do
    if maxlen > 0 then
      redis.call('XADD', KEYS[5], 'MAXLEN', '~', maxlen, '*', 'event', ARGV[i], 'holder', ARGV[4], 'token', ARGV[5])
    else
      redis.call('XADD', KEYS[5], '*', 'event', ARGV[i], 'holder', ARGV[4], 'token', ARGV[5])
    end
  end
end
redis.call('SET', KEYS[2], ARGV[2])
if ARGV[6] == 'replace' then redis.call('DEL', KEYS[4]) end
for i = 10, 9 + n, 1000 do
  redis.call('RPUSH', KEYS[4], unpack(ARGV, i, math.min(i + 999, 9 + n)))
end
local size = tonumber(ARGV[7])
if size > 0 then redis.call('LTRIM', KEYS[4], -size, -1) else redis.call('DEL', KEYS[4]) end
if tonumber(ARGV[8]) > 0 then redis.call('HINCRBY', KEYS[3], 'events', ARGV[8]) end
return 1
"""
_STATUS: Final = """
-- KEYS: lease, room; ARGV: holder value, field, value, ...
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local now = redis.call('TIME')
local ms = now[1] * 1000 + math.floor(now[2] / 1000)
for i = 2, #ARGV, 2 do
  if ARGV[i] == 'state' and redis.call('HGET', KEYS[2], 'state') ~= ARGV[i + 1] then
    redis.call('HSET', KEYS[2], 'since', ms)
  end
  if ARGV[i] == 'reconnects' then
    redis.call('HINCRBY', KEYS[2], 'reconnects', ARGV[i + 1])
  else
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  end
end
return 1
"""
_SIGN: Final = """
-- KEYS: counter key prefix, pause key; ARGV: n windows, then (seconds, max, guard ms) triples
-- Returns 0 when a request may go (counted in every window), else the ms to wait. No request starts in the last
-- `guard` ms of a window: it could reach the sign server in the next one and be counted there.
local now = redis.call('TIME')
local ms = now[1] * 1000 + math.floor(now[2] / 1000)
local pause = redis.call('PTTL', KEYS[2])
if pause > 0 then return pause end
local n = tonumber(ARGV[1])
local wait = 0
for i = 0, n - 1 do
  local seconds = tonumber(ARGV[2 + 3 * i])
  local max = tonumber(ARGV[3 + 3 * i])
  local guard = tonumber(ARGV[4 + 3 * i])
  local window = math.floor(ms / (seconds * 1000))
  local left = (window + 1) * seconds * 1000 - ms
  local count = tonumber(redis.call('GET', KEYS[1] .. seconds .. ':' .. window) or '0')
  if count >= max or left <= guard then
    if left > wait then wait = left end
  end
end
if wait > 0 then return wait end
for i = 0, n - 1 do
  local seconds = tonumber(ARGV[2 + 3 * i])
  local window = math.floor(ms / (seconds * 1000))
  local key = KEYS[1] .. seconds .. ':' .. window
  redis.call('INCR', key)
  redis.call('PEXPIRE', key, seconds * 2000)
end
return 0
"""
_PAUSE: Final = """
-- KEYS: pause key; ARGV: ms. Extends, never shortens, a running pause.
local left = redis.call('PTTL', KEYS[1])
if left < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) end
return 1
"""


@dataclass(frozen=True, slots=True)
class Lease:
    """A room held by a worker: the handle, the fencing token and the value stored in Redis."""

    handle: str
    worker: str
    token: int

    @property
    def value(self) -> str:
        """What the lease key holds while this lease is valid."""
        return f"{self.worker}|{self.token}"


@dataclass(frozen=True, slots=True)
class RoomRecord:
    """One room's status as ``fleet status`` shows it."""

    handle: str
    state: str
    holder: str
    since: int | None
    events: int
    reconnects: int
    error: str
    room_id: str
    token: int

    def as_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return {
            "handle": self.handle,
            "state": self.state,
            "holder": self.holder or None,
            "since": self.since,
            "events": self.events,
            "reconnects": self.reconnects,
            "error": self.error or None,
            "room_id": self.room_id or None,
            "token": self.token,
        }


@dataclass(frozen=True, slots=True)
class WorkerRecord:
    """One worker's last heartbeat."""

    name: str
    heartbeat: int
    capacity: int
    rooms: int
    started: int
    lease: float | None = None
    """The worker's lease (seconds): a heartbeat older than that means the worker is gone."""

    def age(self, now_ms: int) -> float:
        """Seconds since the last heartbeat."""
        return max(0.0, (now_ms - self.heartbeat) / 1000)

    def as_dict(self, now_ms: int) -> dict[str, object]:
        """JSON-ready, with the heartbeat's age."""
        return {
            "name": self.name,
            "heartbeat_age": round(self.age(now_ms), 3),
            "capacity": self.capacity,
            "rooms": self.rooms,
            "started": self.started,
            "lease": self.lease,
        }


class Store:
    """The fleet's Redis operations (one per method, each one round trip). ``client`` is a ``redis.asyncio.Redis``
    with ``decode_responses=False``; ``prefix`` keeps fleets apart in one Redis."""

    def __init__(self, client: redis.asyncio.Redis, prefix: str = DEFAULT_PREFIX) -> None:
        if not prefix or any(char in prefix for char in "{}\n\r"):
            raise ValueError("the fleet prefix must be non-empty, without braces or newlines")
        self.redis = client
        self.prefix = prefix
        self._p = "{" + prefix + "}"
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self._commit = client.register_script(_COMMIT)
        self._status = client.register_script(_STATUS)
        self._sign = client.register_script(_SIGN)
        self._pause = client.register_script(_PAUSE)
        self._forget = client.register_script(_FORGET)

    # ── keys ────────────────────────────────────────────────────────────────────────────────────────────────────

    @property
    def rooms_key(self) -> str:
        """The hash of wanted rooms."""
        return f"{self._p}:rooms"

    @property
    def wake_channel(self) -> str:
        """The channel on which workers hear that rooms were released, added or removed."""
        return f"{self._p}:wake"

    @property
    def workers_key(self) -> str:
        """The hash of worker heartbeats."""
        return f"{self._p}:workers"

    def room_key(self, handle: str) -> str:
        """A room's status hash."""
        return f"{self._p}:room:{handle}"

    def lease_key(self, handle: str) -> str:
        """A room's lease."""
        return f"{self._p}:lease:{handle}"

    def snapshot_key(self, handle: str) -> str:
        """A room's committed snapshot (but its duplicate window)."""
        return f"{self._p}:snap:{handle}"

    def seen_key(self, handle: str) -> str:
        """A room's committed duplicate window: a list of msg ids, oldest first."""
        return f"{self._p}:seen:{handle}"

    def sign_keys(self, api_key: str | None) -> tuple[str, str]:
        """The counter prefix and pause key of one sign API key (hashed: the key itself never reaches Redis)."""
        ident = hashlib.sha256(api_key.encode()).hexdigest()[:16] if api_key else "anonymous"
        return f"{self._p}:sign:{ident}:", f"{self._p}:sign:{ident}:pause"

    # ── rooms wanted ────────────────────────────────────────────────────────────────────────────────────────────

    async def now_ms(self) -> int:
        """Redis's clock, in ms."""
        seconds, micros = await self.redis.time()
        return int(seconds) * 1000 + int(micros) // 1000

    async def add(self, handles: Sequence[str]) -> list[str]:
        """Want ``handles``; returns those that were not wanted yet (their state starts over: ``waiting``, no error,
        so a room that failed or was removed is tried again)."""
        now = await self.now_ms()
        added = []
        for handle in handles:
            if await self.redis.hsetnx(self.rooms_key, handle, json.dumps({"added_at": now})):
                await self.redis.hset(self.room_key(handle), mapping={"state": "waiting", "error": "", "since": now})
                added.append(handle)
        if added:
            await self.wake()
        return added

    async def remove(self, handles: Sequence[str]) -> list[str]:
        """Stop wanting ``handles`` (their holders stop them at their next round); returns those that were wanted."""
        removed = []
        for handle in handles:
            if await self.redis.hdel(self.rooms_key, handle):
                await self.redis.hset(self.room_key(handle), "state", "removed")
                removed.append(handle)
        if removed:
            await self.wake()
        return removed

    async def wake(self) -> None:
        """Tell every worker to run a round now (rooms to take or to stop)."""
        await self.redis.publish(self.wake_channel, "wake")

    async def wanted(self) -> list[str]:
        """The rooms the fleet watches, sorted."""
        return sorted(_text(key) for key in await self.redis.hkeys(self.rooms_key))

    # ── leases ──────────────────────────────────────────────────────────────────────────────────────────────────

    async def acquire(self, handle: str, worker: str, lease_seconds: float) -> Lease | None:
        """Take ``handle`` if nobody holds it: a new lease with the next fencing token, else None."""
        token = await self._acquire(
            keys=[self.lease_key(handle), f"{self._p}:fence:{handle}", self.room_key(handle)],
            args=[worker, _ms(lease_seconds)],
        )
        return None if token is None else Lease(handle, worker, int(token))

    async def renew(self, lease: Lease, lease_seconds: float) -> bool:
        """Extend ``lease``; False when it is no longer ours (expired, or taken over)."""
        return bool(await self._renew(keys=[self.lease_key(lease.handle)], args=[lease.value, _ms(lease_seconds)]))

    async def renew_many(self, leases: Sequence[Lease], lease_seconds: float) -> list[bool]:
        """Extend every lease in one round trip; for each, False when it is no longer ours."""
        if not leases:
            return []
        ms = _ms(lease_seconds)
        async with self.redis.pipeline(transaction=False) as pipe:
            for lease in leases:
                await self._renew(keys=[self.lease_key(lease.handle)], args=[lease.value, ms], client=pipe)
            replies = await pipe.execute()
        return [bool(reply) for reply in replies]

    async def release(self, lease: Lease, state: str = "waiting") -> bool:
        """Give ``lease`` up (only if still ours), leaving the room in ``state`` for another worker."""
        keys = [self.lease_key(lease.handle), self.room_key(lease.handle)]
        return bool(await self._release(keys=keys, args=[lease.value, state, self.wake_channel]))

    async def holder(self, handle: str) -> str | None:
        """The lease value of ``handle`` (``worker|token``), or None."""
        value = await self.redis.get(self.lease_key(handle))
        return None if value is None else _text(value)

    # ── snapshots and exactly-once commits ──────────────────────────────────────────────────────────────────────

    async def snapshot(self, handle: str) -> dict[str, object] | None:
        """The room's last committed snapshot (its duplicate window included, as ``seen``), or None."""
        async with self.redis.pipeline(transaction=True) as pipe:
            _ = pipe.get(self.snapshot_key(handle))
            _ = pipe.lrange(self.seen_key(handle), 0, -1)
            raw, seen = await pipe.execute()
        if raw is None:
            return None
        data = json.loads(raw)
        if not isinstance(data, dict):
            return None
        data["seen"] = [int(item) for item in seen]
        return data

    async def commit(
        self,
        lease: Lease,
        snapshot: Mapping[str, object],
        lines: Sequence[str] = (),
        *,
        seen_added: Sequence[int] | None = None,
        events: int | None = None,
        stream: str | None = None,
        maxlen: int | None = None,
    ) -> bool:
        """Atomically append ``lines`` to ``stream`` (one entry each: field ``event``, and ``holder`` and ``token``,
        the lease it was committed under) and store ``snapshot``, only while ``lease`` is valid. False (nothing
        written) when the lease was lost: the caller must stop the room.

        The snapshot's duplicate window (``seen``) is kept apart: with ``seen_added``, only those ids are appended
        to the stored window (trimmed to the snapshot's ``dedupe_size``), so a frame's commit stays small however
        large the window; without it, the stored window becomes the snapshot's. ``events``: how many events the
        frame had, for the room's status (default: the lines; give it when the events go to another sink)."""
        keys = [
            self.lease_key(lease.handle),
            self.snapshot_key(lease.handle),
            self.room_key(lease.handle),
            self.seen_key(lease.handle),
        ]
        if stream is not None:
            keys.append(stream)
        body = {key: value for key, value in snapshot.items() if key != "seen"}
        size = snapshot.get("dedupe_size", 0)
        if seen_added is None:
            window = snapshot.get("seen", [])
            ids: list[int] = [int(item) for item in window] if isinstance(window, list) else []
            mode = "replace"
        else:
            ids, mode = list(seen_added), "append"
        args: list[str | int] = [
            lease.value,
            json.dumps(body, separators=(",", ":")),
            maxlen or 0,
            lease.worker,
            lease.token,
            mode,
            size if isinstance(size, int) else 0,
            len(lines) if events is None else events,
            len(ids),
            *ids,
            *lines,
        ]
        return bool(await self._commit(keys=keys, args=args))

    async def set_status(self, lease: Lease, **fields: str | int) -> bool:
        """Update the room's status fields (``reconnects`` is added to the count) while ``lease`` is valid."""
        args: list[str | int] = [lease.value]
        for name, value in fields.items():
            args += [name, value]
        return bool(await self._status(keys=[self.lease_key(lease.handle), self.room_key(lease.handle)], args=args))

    async def fail(self, handle: str, error: str) -> None:
        """Mark a room failed with ``error`` (an unknown handle, say), whoever holds it."""
        now = await self.now_ms()
        await self.redis.hset(self.room_key(handle), mapping={"state": "failed", "error": error[:500], "since": now})

    # ── workers ─────────────────────────────────────────────────────────────────────────────────────────────────

    async def heartbeat(self, worker: str, capacity: int, rooms: int, started: int, lease: float | None = None) -> int:
        """Record that ``worker`` is alive (with its ``lease``, so anyone can tell when it is gone); returns Redis's
        time in ms."""
        now = await self.now_ms()
        record = {"heartbeat": now, "capacity": capacity, "rooms": rooms, "started": started, "lease": lease}
        await self.redis.hset(self.workers_key, worker, json.dumps(record))
        return now

    async def leave(self, worker: str) -> None:
        """Remove ``worker`` from the heartbeat table (a clean shutdown)."""
        await self.redis.hdel(self.workers_key, worker)

    async def workers(self) -> list[WorkerRecord]:
        """Every worker's last heartbeat, sorted by name."""
        raw = await self.redis.hgetall(self.workers_key)
        return sorted((_worker(_text(name), value) for name, value in raw.items()), key=lambda record: record.name)

    async def forget_workers(self, now_ms: int, after: float = FORGET_WORKERS_AFTER) -> list[str]:
        """Remove the workers whose last heartbeat is more than ``after`` seconds old; returns their names. A
        worker that heartbeats meanwhile is kept (each removal checks the record is still the one read)."""
        raw = await self.redis.hgetall(self.workers_key)
        forgotten = []
        for name, value in raw.items():
            record = _worker(_text(name), value)
            if record.age(now_ms) > after and await self._forget(keys=[self.workers_key], args=[record.name, value]):
                forgotten.append(record.name)
        return sorted(forgotten)

    async def rooms(self) -> list[RoomRecord]:
        """The status of every wanted room, sorted by handle (two round trips, whatever the number of rooms).

        ``holder`` comes from the lease itself: a room whose holder died without releasing it shows no holder
        (and state ``waiting``) as soon as the lease has expired, whatever its status hash last said."""
        handles = await self.wanted()
        async with self.redis.pipeline(transaction=False) as pipe:
            for handle in handles:
                _ = pipe.hgetall(self.room_key(handle))
                _ = pipe.get(self.lease_key(handle))
            replies = await pipe.execute()
        records = []
        for index, handle in enumerate(handles):
            data = {_text(k): _text(v) for k, v in replies[2 * index].items()}
            lease = replies[2 * index + 1]
            holder = _text(lease).rpartition("|")[0] if lease is not None else ""
            state = data.get("state", "waiting")
            if not holder and state in _HELD_STATES:
                state = "waiting"  # its holder is gone (the lease expired): it waits for a worker
            records.append(
                RoomRecord(
                    handle=handle,
                    state=state,
                    holder=holder,
                    since=int(data["since"]) if data.get("since", "").isdigit() else None,
                    events=int(data.get("events", "0") or 0),
                    reconnects=int(data.get("reconnects", "0") or 0),
                    error=data.get("error", ""),
                    room_id=data.get("room_id", ""),
                    token=int(data.get("token", "0") or 0),
                )
            )
        return records

    # ── the fleet-wide sign budget ──────────────────────────────────────────────────────────────────────────────

    async def sign_wait(self, api_key: str | None, windows: Sequence[tuple[float, int]]) -> float:
        """Count one sign request for ``api_key`` if every fixed window (seconds, max) has room and no pause runs:
        returns 0. Else counts nothing and returns the seconds to wait before asking again.

        Windows are aligned on Redis's clock (window ``n`` of ``s`` seconds is ``[n*s, (n+1)*s)`` since the epoch),
        as a sign server counts them; no request starts in the last :data:`SIGN_GUARD` seconds of a window, since it
        might reach the sign server in the next window and be counted there."""
        counters, pause = self.sign_keys(api_key)
        args: list[str | int] = [len(windows)]
        for seconds, maximum in windows:
            whole = _window_seconds(seconds)
            args += [whole, maximum, int(SIGN_GUARD * 1000)]
        wait_ms = int(await self._sign(keys=[counters, pause], args=args))
        return wait_ms / 1000

    async def sign_pause(self, api_key: str | None, seconds: float) -> None:
        """Hold every worker's sign requests with ``api_key`` for ``seconds`` (a 429's Retry-After)."""
        _, pause = self.sign_keys(api_key)
        await self._pause(keys=[pause], args=[_ms(seconds)])


def _worker(name: str, value: bytes | str) -> WorkerRecord:
    data = json.loads(value)
    return WorkerRecord(
        name,
        int(data.get("heartbeat", 0)),
        int(data.get("capacity", 0)),
        int(data.get("rooms", 0)),
        int(data.get("started", 0)),
        float(data["lease"]) if isinstance(data.get("lease"), int | float) else None,
    )


def _ms(seconds: float) -> int:
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError("a duration must be a positive number of seconds")
    return max(1, int(seconds * 1000))


def _window_seconds(seconds: float) -> int:
    if not math.isfinite(seconds) or seconds < 1 or seconds != int(seconds):
        raise ValueError("sign windows are whole seconds (1, 60, 3600, 86400)")
    return int(seconds)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
