"""Managing a fleet from anywhere: which rooms it watches, and how they and the workers are doing."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Self

from tiktok_live._config import normalize_unique_id
from tiktok_live._http import redact
from tiktok_live.errors import FleetError
from tiktok_live.fleet._store import DEFAULT_PREFIX, RoomRecord, Store, WorkerRecord

if TYPE_CHECKING:
    import redis.asyncio

__all__ = ["Fleet", "FleetStatus", "connect_redis"]


async def connect_redis(url: str, op_timeout: float) -> redis.asyncio.Redis:
    """A redis-py asyncio client for ``url`` that answered PING (operations time out after ``op_timeout`` seconds and
    are never retried behind our back); FleetError when Redis does not answer."""
    try:
        import redis.asyncio
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
        from redis.exceptions import RedisError
    except ImportError as error:
        raise FleetError('the fleet needs the redis package: pip install "tiktok-live[fleet]"') from error
    try:
        client = redis.asyncio.Redis.from_url(
            url, socket_timeout=op_timeout, socket_connect_timeout=op_timeout, retry=Retry(NoBackoff(), 0)
        )
    except ValueError as error:
        raise FleetError(f"not a Redis URL: {redact(str(error))} (e.g. redis://localhost:6379/0)") from error
    try:
        await client.ping()
    except (RedisError, OSError) as error:
        await client.aclose()
        raise FleetError(
            f"the fleet's Redis does not answer ({redact(str(error))}): check --redis (or $TIKTOK_LIVE_REDIS) and "
            "that redis-server runs"
        ) from error
    return client


@dataclass(frozen=True, slots=True)
class FleetStatus:
    """Every wanted room and every worker that sent a heartbeat, at Redis time ``now`` (ms)."""

    rooms: tuple[RoomRecord, ...]
    workers: tuple[WorkerRecord, ...]
    now: int
    lease: float

    def alive(self, worker: WorkerRecord) -> bool:
        """Whether ``worker``'s last heartbeat is younger than its lease (``lease`` for a worker that did not say)."""
        return worker.age(self.now) < (worker.lease or self.lease)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready (``fleet status --json``)."""
        return {
            "now": self.now,
            "rooms": [room.as_dict() for room in self.rooms],
            "workers": [{**worker.as_dict(self.now), "alive": self.alive(worker)} for worker in self.workers],
        }


class Fleet:
    """Administer a fleet: ``async with Fleet("redis://host:6379/0") as fleet: await fleet.add("@a", "@b")``.

    ``prefix`` names the fleet (several fleets share one Redis under different prefixes); ``lease`` tells live
    workers from dead ones in :meth:`status` for workers whose heartbeat does not carry their own lease.
    """

    def __init__(self, redis_url: str, *, prefix: str = DEFAULT_PREFIX, lease: float = 15.0) -> None:
        if not (math.isfinite(lease) and lease > 0):
            raise ValueError("lease must be a positive number of seconds")
        self.redis_url = redis_url
        self.prefix = prefix
        self.lease = lease
        self._client: redis.asyncio.Redis | None = None
        self._store: Store | None = None

    async def _connected(self) -> Store:
        if self._store is None:
            self._client = await connect_redis(self.redis_url, 5.0)
            self._store = Store(self._client, self.prefix)
        return self._store

    async def add(self, *users: str) -> list[str]:
        """Watch ``users`` (``@handle``, handle or live URL); returns the handles that were new. ValueError for an
        invalid handle (nothing is added then)."""
        handles = _handles(users)
        return await (await self._connected()).add(handles)

    async def remove(self, *users: str) -> list[str]:
        """Stop watching ``users``; their holders stop them within a round. Returns the handles that were there."""
        handles = _handles(users)
        return await (await self._connected()).remove(handles)

    async def status(self) -> FleetStatus:
        """Every room's state, holder, since, events, reconnects and last error; every worker's heartbeat."""
        store = await self._connected()
        now = await store.now_ms()
        return FleetStatus(tuple(await store.rooms()), tuple(await store.workers()), now, self.lease)

    async def close(self) -> None:
        """Close the Redis connection. Safe to call twice."""
        client, self._client, self._store = self._client, None, None
        if client is not None:
            await client.aclose()

    async def __aenter__(self) -> Self:
        await self._connected()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


def _handles(users: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(normalize_unique_id(user) for user in users))
