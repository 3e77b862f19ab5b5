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
- ``P:snap:<handle>`` string: the room's last committed ``protocol.Session`` snapshot (JSON);
- ``P:workers`` hash: worker → JSON heartbeat (Redis time in ms, capacity, rooms held);
- ``P:sign:<key id>:<window>:<n>`` counters of sign requests per fixed window, ``P:sign:<key id>:pause``.
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

__all__ = ["DEFAULT_PREFIX", "Lease", "RoomRecord", "Store", "WorkerRecord"]

DEFAULT_PREFIX: Final = "tiktok-live"
"""The prefix of every Redis key a fleet uses (one Redis may hold several fleets with different prefixes)."""
SIGN_GUARD: Final = 0.25
"""Seconds at the end of a sign window in which no request starts (a tenth of the window when that is less)."""

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
-- KEYS: lease, room; ARGV: holder value, state
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  local now = redis.call('TIME')
  redis.call('HSET', KEYS[2], 'holder', '', 'state', ARGV[2], 'since', now[1] * 1000 + math.floor(now[2] / 1000))
  return 1
end
return 0
"""
_COMMIT: Final = """
-- KEYS: lease, snapshot, room[, stream]; ARGV: holder value, snapshot JSON, maxlen (0: none), event lines...
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if KEYS[4] then
  local maxlen = tonumber(ARGV[3])
  for i = 4, #ARGV do
    if maxlen > 0 then
      redis.call('XADD', KEYS[4], 'MAXLEN', '~', maxlen, '*', 'event', ARGV[i])
    else
      redis.call('XADD', KEYS[4], '*', 'event', ARGV[i])
    end
  end
end
redis.call('SET', KEYS[2], ARGV[2])
if #ARGV > 3 then redis.call('HINCRBY', KEYS[3], 'events', #ARGV - 3) end
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

    # ── keys ────────────────────────────────────────────────────────────────────────────────────────────────────

    @property
    def rooms_key(self) -> str:
        """The hash of wanted rooms."""
        return f"{self._p}:rooms"

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
        """A room's committed snapshot."""
        return f"{self._p}:snap:{handle}"

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
        """Want ``handles``; returns those that were not wanted yet."""
        now = await self.now_ms()
        added = []
        for handle in handles:
            if await self.redis.hsetnx(self.rooms_key, handle, json.dumps({"added_at": now})):
                await self.redis.hsetnx(self.room_key(handle), "state", "waiting")
                added.append(handle)
        return added

    async def remove(self, handles: Sequence[str]) -> list[str]:
        """Stop wanting ``handles`` (their holders stop them at their next round); returns those that were wanted."""
        removed = []
        for handle in handles:
            if await self.redis.hdel(self.rooms_key, handle):
                await self.redis.hset(self.room_key(handle), "state", "removed")
                removed.append(handle)
        return removed

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

    async def release(self, lease: Lease, state: str = "waiting") -> bool:
        """Give ``lease`` up (only if still ours), leaving the room in ``state`` for another worker."""
        keys = [self.lease_key(lease.handle), self.room_key(lease.handle)]
        return bool(await self._release(keys=keys, args=[lease.value, state]))

    async def holder(self, handle: str) -> str | None:
        """The lease value of ``handle`` (``worker|token``), or None."""
        value = await self.redis.get(self.lease_key(handle))
        return None if value is None else _text(value)

    # ── snapshots and exactly-once commits ──────────────────────────────────────────────────────────────────────

    async def snapshot(self, handle: str) -> dict[str, object] | None:
        """The room's last committed snapshot, or None."""
        raw = await self.redis.get(self.snapshot_key(handle))
        if raw is None:
            return None
        data = json.loads(raw)
        return data if isinstance(data, dict) else None

    async def commit(
        self,
        lease: Lease,
        snapshot: Mapping[str, object],
        lines: Sequence[str] = (),
        *,
        stream: str | None = None,
        maxlen: int | None = None,
    ) -> bool:
        """Atomically append ``lines`` to ``stream`` (one entry each, field ``event``) and store ``snapshot``, only
        while ``lease`` is valid. False (nothing written) when the lease was lost: the caller must stop the room."""
        keys = [self.lease_key(lease.handle), self.snapshot_key(lease.handle), self.room_key(lease.handle)]
        if stream is not None:
            keys.append(stream)
        args: list[str | int] = [lease.value, json.dumps(snapshot, separators=(",", ":")), maxlen or 0, *lines]
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

    async def heartbeat(self, worker: str, capacity: int, rooms: int, started: int) -> int:
        """Record that ``worker`` is alive; returns Redis's time in ms."""
        now = await self.now_ms()
        record = {"heartbeat": now, "capacity": capacity, "rooms": rooms, "started": started}
        await self.redis.hset(self.workers_key, worker, json.dumps(record))
        return now

    async def leave(self, worker: str) -> None:
        """Remove ``worker`` from the heartbeat table (a clean shutdown)."""
        await self.redis.hdel(self.workers_key, worker)

    async def workers(self) -> list[WorkerRecord]:
        """Every worker's last heartbeat, sorted by name."""
        raw = await self.redis.hgetall(self.workers_key)
        records = []
        for name, value in raw.items():
            data = json.loads(value)
            records.append(
                WorkerRecord(
                    _text(name),
                    int(data.get("heartbeat", 0)),
                    int(data.get("capacity", 0)),
                    int(data.get("rooms", 0)),
                    int(data.get("started", 0)),
                )
            )
        return sorted(records, key=lambda record: record.name)

    async def rooms(self) -> list[RoomRecord]:
        """The status of every wanted room, sorted by handle."""
        records = []
        for handle in await self.wanted():
            data = {_text(k): _text(v) for k, v in (await self.redis.hgetall(self.room_key(handle))).items()}
            records.append(
                RoomRecord(
                    handle=handle,
                    state=data.get("state", "waiting"),
                    holder=data.get("holder", ""),
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
        as a sign server counts them; no request starts in the last :data:`SIGN_GUARD` of a window (a tenth of a
        short window), since it might reach the sign server in the next window and be counted there."""
        counters, pause = self.sign_keys(api_key)
        args: list[str | int] = [len(windows)]
        for seconds, maximum in windows:
            whole = _window_seconds(seconds)
            args += [whole, maximum, int(min(SIGN_GUARD, whole / 10) * 1000)]
        wait_ms = int(await self._sign(keys=[counters, pause], args=args))
        return wait_ms / 1000

    async def sign_pause(self, api_key: str | None, seconds: float) -> None:
        """Hold every worker's sign requests with ``api_key`` for ``seconds`` (a 429's Retry-After)."""
        _, pause = self.sign_keys(api_key)
        await self._pause(keys=[pause], args=[_ms(seconds)])


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
