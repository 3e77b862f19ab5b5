"""The fleet-wide sign budget: a :class:`~tiktok_live.client.SignGate` whose windows and pauses live in Redis."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence

import aiohttp

from tiktok_live._config import ClientConfig
from tiktok_live._sign import WINDOWS, WindowBudget, read_rate_limits
from tiktok_live.fleet._store import Store

__all__ = ["FleetGate"]

logger = logging.getLogger("tiktok_live.fleet")


class FleetGate:
    """Paces the sign requests of every worker that shares the sign server's API key: one fixed-window budget per
    window (the same semantics as the pool's limiter), counted in Redis; a 429's ``Retry-After`` pauses all of them.

    ``limits``: (window seconds, max requests) pairs; None reads the sign server's ``/webcast/rate_limits`` once
    (a server that publishes none leaves signing unthrottled but for pauses).
    """

    def __init__(self, store: Store, config: ClientConfig, limits: Sequence[tuple[float, int]] | None = None) -> None:
        self._store = store
        self._config = config
        self._windows: list[tuple[float, int]] | None = None if limits is None else _checked(limits)
        self._lock = asyncio.Lock()
        self._pauses: set[asyncio.Task[None]] = set()
        self.waits = 0
        """Sign requests that had to wait for the budget (or a pause)."""
        self.acquired = 0
        """Sign requests let through."""

    async def windows(self) -> list[tuple[float, int]]:
        """The budget's windows (read from the sign server on first use when not configured)."""
        async with self._lock:
            if self._windows is None:
                self._windows = await self._published()
                logger.info("fleet sign budget: %s", self._windows or "unthrottled (no published limits)")
            return self._windows

    async def _published(self) -> list[tuple[float, int]]:
        config = self._config
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
            limiter = await read_rate_limits(
                session, config.sign_url or "", config.sign_api_key, proxy=config.proxy, max_body=config.max_body_size
            )
        if limiter is None:
            return []
        return [
            (bucket.seconds, int(bucket.capacity))
            for bucket in limiter.buckets
            if isinstance(bucket, WindowBudget) and bucket.seconds in WINDOWS.values()
        ]

    async def acquire(self) -> None:
        """Wait until the fleet-wide budget lets one more sign request through, and count it."""
        windows = await self.windows()
        while True:
            wait = await self._store.sign_wait(self._config.sign_api_key, windows)
            if wait <= 0:
                self.acquired += 1
                return
            self.waits += 1
            await asyncio.sleep(wait)

    def pause(self, seconds: float) -> None:
        """Pause every worker's sign requests with this key for ``seconds`` (recorded in Redis in the background)."""
        if not math.isfinite(seconds) or seconds <= 0:
            return
        task = asyncio.create_task(self._store.sign_pause(self._config.sign_api_key, seconds))
        self._pauses.add(task)
        task.add_done_callback(self._pauses.discard)

    async def close(self) -> None:
        """Wait for pauses still being recorded."""
        if self._pauses:
            await asyncio.gather(*self._pauses, return_exceptions=True)


def _checked(limits: Sequence[tuple[float, int]]) -> list[tuple[float, int]]:
    windows = []
    for seconds, maximum in limits:
        if seconds not in WINDOWS.values() or maximum < 1:
            raise ValueError(f"a sign window is one of {sorted(WINDOWS.values())} seconds with max >= 1")
        windows.append((float(seconds), int(maximum)))
    return windows
