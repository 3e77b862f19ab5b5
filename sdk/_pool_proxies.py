"""A pool's proxies and sessions: which proxy each new client goes through, when a proxy is benched, and the
aiohttp session of each proxy.

Each new client goes to the usable proxy with the fewest rooms, since TikTok's limits count per IP. A proxy whose
connects fail ``failures`` times in a row (network errors, HTTP 429/5xx, captchas, refused sockets: what an
address causes, not an unknown user) is benched for ``bench_time`` seconds, with a warning. When every proxy is
benched, the one whose bench ends first is used: a pool never stops for want of a proxy.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Final

import aiohttp

from tiktok_live._config import ClientConfig
from tiktok_live._proxy import new_session, proxy_label, require_socks
from tiktok_live.errors import (
    ReconnectExhaustedError,
    RequestError,
    RoomIdNotFoundError,
    SignAPIError,
    SignatureRateLimitError,
    WebcastBlockedError,
    WebSocketRejectedError,
)

__all__ = ["PoolSessions", "ProxyRotation", "ProxyState", "is_address_failure"]

logger = logging.getLogger("tiktok_live.pool")

_ADDRESS_FAILURES: Final = (
    RequestError,
    RoomIdNotFoundError,
    WebcastBlockedError,
    WebSocketRejectedError,
    ReconnectExhaustedError,
)
"""Failures an address (a proxy) can cause: network errors, blocks, captchas, refused sockets."""


def is_address_failure(error: BaseException) -> bool:
    """Whether an address (a proxy) can be to blame: network failures, blocks and captchas, refused sockets, and
    sign-server failures other than a rate limit or a rejected key (those count per key, not per address)."""
    if isinstance(error, _ADDRESS_FAILURES):
        return True
    return isinstance(error, SignAPIError) and error.retryable and not isinstance(error, SignatureRateLimitError)


class ProxyState:
    """One proxy of a pool (``RoomPool(proxies=[...])``): how many rooms use it and whether it is benched.

    ``name`` is the proxy without its credentials. A proxy is benched after ``proxy_failures`` failed connects in
    a row (any successful connect resets the count) until ``benched_until`` (``time.monotonic()`` seconds).
    """

    __slots__ = ("_clock", "_url", "benched_until", "benches", "failures", "name", "rooms")

    def __init__(self, url: str, clock: Callable[[], float]) -> None:
        self._url = url
        self._clock = clock
        self.name = proxy_label(url)
        """``scheme://host:port``, without user name or password."""
        self.rooms = 0
        """Rooms whose current client goes through this proxy."""
        self.failures = 0
        """Failed connects in a row through this proxy."""
        self.benches = 0
        """How many times the proxy was benched."""
        self.benched_until: float | None = None
        """Until when (``time.monotonic()``) no new client is sent here; None: never benched."""

    @property
    def is_benched(self) -> bool:
        """Whether the proxy is benched right now."""
        return self.benched_until is not None and self._clock() < self.benched_until

    def __repr__(self) -> str:
        state = "benched" if self.is_benched else "usable"
        return f"<ProxyState {self.name} rooms={self.rooms} failures={self.failures} {state}>"


class ProxyRotation:
    """A pool's proxies (``proxies``, checked like a client's ``proxy``; none: an empty rotation, which is false)
    and their benches: ``failures`` failed connects in a row bench a proxy for ``bench_time`` seconds of
    ``clock``. ``session``: the pool's injected session, which cannot go with proxies."""

    def __init__(
        self,
        proxies: Sequence[str] | None,
        *,
        session: aiohttp.ClientSession | None,
        failures: int,
        bench_time: float,
        clock: Callable[[], float],
    ) -> None:
        if failures < 1:
            raise ValueError("proxy_failures must be at least 1")
        if not (math.isfinite(bench_time) and bench_time >= 0):
            raise ValueError("proxy_bench_time must be a finite number of seconds, not negative")
        self.failures = failures
        self.bench_time = bench_time
        self._clock = clock
        self.states: tuple[ProxyState, ...] = self._check(proxies, session)
        """The proxies in the order given."""

    def _check(self, proxies: Sequence[str] | None, session: aiohttp.ClientSession | None) -> tuple[ProxyState, ...]:
        if proxies is None:
            return ()
        if isinstance(proxies, str):
            raise ValueError("proxies is a list of proxy URLs (for one proxy, pass proxy=...)")
        if not proxies:
            raise ValueError("proxies is empty: give at least one proxy URL (or leave it out)")
        if session is not None:
            raise ValueError("proxies= needs the pool's own sessions (one per proxy): leave session= out")
        states: list[ProxyState] = []
        for url in proxies:
            ClientConfig(proxy=url)  # the same checks as a client's proxy: scheme, host, the socks extra
            require_socks(url)
            if any(state._url == url for state in states):
                raise ValueError(f"proxy {proxy_label(url)} is given twice")
            states.append(ProxyState(url, self._clock))
        return tuple(states)

    def __bool__(self) -> bool:
        return bool(self.states)

    def pick(self, avoid: Iterable[ProxyState] = ()) -> ProxyState:
        """The usable proxy with the fewest rooms (first given on a tie) outside ``avoid``; when every proxy is
        benched or avoided, the one whose bench ends first (a pool never stops for want of a proxy)."""
        avoided = set(map(id, avoid))
        usable = [state for state in self.states if not state.is_benched and id(state) not in avoided]
        if usable:
            return min(usable, key=lambda state: state.rooms)
        return min(self.states, key=lambda state: state.benched_until or 0.0)

    def take(self, avoid: Iterable[ProxyState] = ()) -> ProxyState:
        """:meth:`pick` the proxy for a new client, and count the client's room there."""
        state = self.pick(avoid)
        state.rooms += 1
        return state

    @staticmethod
    def release(state: ProxyState | None) -> None:
        """A room's client no longer goes through ``state`` (None: it went through no pool proxy)."""
        if state is not None:
            state.rooms -= 1

    def failed(self, state: ProxyState | None, error: BaseException, unique_id: str) -> bool:
        """Count ``error`` (of the room ``unique_id``) against ``state`` when an address can cause it; bench the
        proxy at the limit. Returns whether the error counted."""
        if state is None or not is_address_failure(error):
            return False
        state.failures += 1
        if state.failures >= self.failures and not state.is_benched:
            state.benches += 1
            state.benched_until = self._clock() + self.bench_time
            logger.warning(
                "proxy %s benched for %g s after %d failed connects in a row (last: @%s: %s)",
                state.name,
                self.bench_time,
                state.failures,
                unique_id,
                error,
            )
        return True

    def untried(self, tried: Iterable[ProxyState]) -> bool:
        """Whether a usable proxy outside ``tried`` exists."""
        done = set(map(id, tried))
        return any(id(state) not in done and not state.is_benched for state in self.states)


class PoolSessions:
    """The sessions of a pool's clients: the injected ``session`` for all, else one per proxy (None: direct),
    made on first use with no connection limit (every room holds a WebSocket) and no cookie jar (rooms with
    different session ids must not share cookies through it). Calling the object gives a proxy's session."""

    def __init__(self, session: aiohttp.ClientSession | None, *, timeout: float) -> None:
        self._session = session
        self._timeout = timeout
        self._sessions: dict[str | None, aiohttp.ClientSession] = {}

    def __call__(self, proxy: str | None = None) -> aiohttp.ClientSession:
        if self._session is not None:
            return self._session
        session = self._sessions.get(proxy)
        if session is None:
            # The default connector limit (100) would stall the 101st room.
            session = new_session(proxy, timeout=self._timeout, limit=0)
            self._sessions[proxy] = session
        return session

    async def close(self) -> None:
        """Close the sessions made here (never the injected one)."""
        sessions, self._sessions = self._sessions, {}
        for session in sessions.values():
            await session.close()
