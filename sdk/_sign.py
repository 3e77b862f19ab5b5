"""The sign server: the connection bundle a client needs before it may open TikTok's WebSocket, and the pacing
of sign requests.

``GET <sign_url>/webcast/fetch?client=…&room_id=…&user_agent=…`` (with ``X-Api-Key`` when there is a key)
answers a protobuf ``ProtoMessageFetchResult`` — the signed ``push_server`` URL, its ``route_params``, the cursor
and the room's recent messages — and the cookies for the WebSocket in ``X-Set-TT-Cookie``. 429 means rate-limited
(``Retry-After`` seconds), 401/402/403 a rejected key. Redirects are never followed: the request carries the key.

Pacing: a :class:`SignGate` is awaited before every sign request. :class:`SignLimiter` is the one a pool shares:
fixed-window budgets (:class:`WindowBudget`) as a sign server counts them, or token buckets, plus pauses on 429.
A sign server may publish its per-key limits at ``GET /webcast/rate_limits`` (:func:`read_rate_limits`).
:class:`SignLimiters` holds a pool's limiters, one per sign server and key, and gives each client its gate.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol
from urllib.parse import urlsplit

import aiohttp

from tiktok_live._config import ClientConfig, ReconnectPolicy
from tiktok_live._generated.pb import webcast_pb2
from tiktok_live._http import FetchError, get, host_of, json_object, message_of, number, safe_error
from tiktok_live._protocol import decode_fetch_result
from tiktok_live._proxy import request_proxy
from tiktok_live.errors import (
    FrameDecodeError,
    SignAPIError,
    SignAPIKeyError,
    SignatureRateLimitError,
)

__all__ = [
    "MAX_PAUSE",
    "RATE_LIMITS_PATH",
    "SIGN_CLIENT",
    "WINDOWS",
    "Bundle",
    "SignClient",
    "SignGate",
    "SignLimiter",
    "SignLimiters",
    "TokenBucket",
    "WindowBudget",
    "read_rate_limits",
]

logger = logging.getLogger("tiktok_live.sign")

SIGN_CLIENT: Final = "ttlive-python"
RATE_LIMITS_PATH: Final = "/webcast/rate_limits"
"""Where a sign server publishes its per-key limits (Euler Stream's API)."""
WINDOWS: Final[Mapping[str, float]] = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}
"""The windows of ``/webcast/rate_limits`` the limiter understands, in seconds."""
MAX_PAUSE: Final = 3600.0
"""The longest a rate-limit pause may hold a limiter, whatever ``Retry-After`` says."""
RATE_LIMIT_PAUSE: Final = 5.0
"""The pause after a 429 that gave no usable ``Retry-After``."""
_RATE_LIMITS_TIMEOUT: Final = 5.0
_SESSION_HOST_ENV: Final = "WHITELIST_AUTHENTICATED_SESSION_ID_HOST"

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class SignGate(Protocol):
    """Paces a client's sign requests (``TikTokLiveClient(sign_gate=...)``), e.g. one shared by many rooms.

    ``acquire`` is awaited before every sign request (connects and reconnects); ``pause`` is called when the sign
    server answers 429, with the seconds it asked to wait (finite, non-negative, at most the client's
    ``ReconnectPolicy.max_delay``).
    """

    async def acquire(self) -> None:
        """Wait until a sign request may be sent."""

    def pause(self, seconds: float) -> None:
        """Hold every sign request for ``seconds`` (the server rate-limited us)."""


@dataclass(frozen=True, slots=True)
class Bundle:
    """What the sign server returned: the raw body, its fetch result and the cookies for the WebSocket."""

    body: bytes
    result: webcast_pb2.ProtoMessageFetchResult
    cookies: dict[str, str]


class SignClient:
    """Asks the sign server for connection bundles: retries, rate limits, the gate and the session-id rule."""

    def __init__(
        self,
        config: ClientConfig,
        http: Callable[[], aiohttp.ClientSession],
        *,
        gate: SignGate | None = None,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._config = config
        self._http = http
        self.gate = gate
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._warned_session = False
        self.requests = 0
        """Sign requests sent."""

    @property
    def url(self) -> str:
        """The sign server's origin."""
        return self._config.sign_url or ""

    async def sign_with_retry(self, room_id: int, policy: ReconnectPolicy) -> Bundle:
        """Sign, retrying rate limits (after ``Retry-After``), 5xx answers and timeouts within ``policy``."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self.sign(room_id, policy)
            except SignAPIKeyError:
                raise
            except SignatureRateLimitError as error:
                wait = error.retry_after if error.retry_after is not None else policy.delay(attempt, self._rng)
                if attempt >= policy.max_attempts or not policy.enabled or wait > policy.max_delay:
                    raise
                logger.warning("sign server rate limit: retrying in %.1f s", wait)
                await self._sleep(wait)
            except SignAPIError as error:
                if attempt >= policy.max_attempts or not policy.enabled or not error.retryable:
                    raise
                wait = policy.delay(attempt, self._rng)
                logger.warning("sign server failed (%s): retrying in %.1f s", error, wait)
                await self._sleep(wait)

    async def sign(self, room_id: int, policy: ReconnectPolicy) -> Bundle:
        """One sign request through the gate; a 429 pauses the gate (never longer than ``policy.max_delay``)."""
        if self.gate is not None:
            await self.gate.acquire()
        try:
            return await self._request(room_id)
        except SignatureRateLimitError as error:
            if self.gate is not None:
                wait = error.retry_after if error.retry_after is not None else RATE_LIMIT_PAUSE
                self.gate.pause(min(wait, policy.max_delay))
            raise

    async def _request(self, room_id: int) -> Bundle:
        config = self._config
        params = {
            "client": SIGN_CLIENT,
            "room_id": str(room_id),
            "user_agent": config.user_agent,
            "platform": "web",
            "client_enter": "true",
        }
        headers = {"User-Agent": "tiktok-live (Python)"}
        if config.sign_api_key:
            headers["X-Api-Key"] = config.sign_api_key
        if self.authenticated():
            params.update(session_id=config.session_id or "", tt_target_idc=config.tt_target_idc)
        url = f"{self.url}/webcast/fetch"
        host = host_of(url)
        self.requests += 1
        try:
            answer = await get(
                self._http(),
                url,
                params=params,
                headers=headers,
                proxy=config.request_proxy,
                max_body=config.max_body_size,
                follow_redirects=False,
            )
        except TimeoutError as error:
            raise SignAPIError(
                f"sign server {host} timed out after {config.http_timeout:g} s", retryable=True
            ) from error
        except FetchError as error:
            raise SignAPIError(f"sign server {host}: {safe_error(error)}") from error
        except aiohttp.ClientError as error:
            raise SignAPIError(f"sign server {host} unreachable: {safe_error(error)}", retryable=True) from error
        status, body = answer.status, answer.body
        secrets = (config.sign_api_key, config.session_id)
        if 300 <= status < 400:
            target = host_of(answer.headers.get("Location", "")) or "nowhere"
            raise SignAPIError(
                f"the sign server {host} answered a redirect (HTTP {status}) to {target}; not followed, since the "
                "request carries your API key and session: set sign_url to the server's final address"
            )
        if status == 429:
            raise SignatureRateLimitError(
                f"the sign server rate-limited this client ({message_of(body, secrets)}): wait and retry, or use an "
                "API key (SIGN_API_KEY) for higher limits",
                retry_after=number(answer.headers.get("Retry-After")),
                reset_time=number(answer.headers.get("RateLimit-Reset") or answer.headers.get("X-RateLimit-Reset")),
            )
        if status in (401, 402, 403):
            raise SignAPIKeyError(
                f"the sign server rejected the API key (HTTP {status}: {message_of(body, secrets)}): check SIGN_API_KEY"
            )
        if status >= 500:
            raise SignAPIError(f"the sign server failed (HTTP {status}); retry later", retryable=True)
        if status != 200:
            raise SignAPIError(f"the sign server answered HTTP {status}: {message_of(body, secrets)}")
        if not body:
            raise SignAPIError("the sign server returned an empty bundle (are you being detected?)", retryable=True)
        try:
            result = decode_fetch_result(body)
        except FrameDecodeError as error:
            raise SignAPIError(f"the sign server returned an unreadable bundle: {error}", retryable=True) from error
        if not result.push_server or not result.cursor:
            raise SignAPIError("the sign server's bundle lacks push_server or cursor: retry later", retryable=True)
        cookie_header = answer.headers.get("X-Set-TT-Cookie", "")
        if not cookie_header:
            raise SignAPIError("the sign server returned no cookies (X-Set-TT-Cookie)", retryable=True)
        return Bundle(body, result, _parse_cookies(cookie_header))

    def authenticated(self) -> bool:
        """Whether the session id may go to the sign server: only to the host the user named in
        ``$WHITELIST_AUTHENTICATED_SESSION_ID_HOST``, since it grants access to the account."""
        if not self._config.session_id:
            return False
        allowed = os.environ.get(_SESSION_HOST_ENV, "").strip().lower()
        host = (urlsplit(self.url).hostname or "").lower()
        if allowed and allowed == host:
            return True
        if not self._warned_session:
            self._warned_session = True
            logger.warning(
                "a session id is set but not sent to the sign server %s: set %s=%s to allow it; the WebSocket "
                "connects without the session",
                host,
                _SESSION_HOST_ENV,
                host,
            )
        return False


def _parse_cookies(header: str) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key:
            cookies[key] = value
    return cookies


# ── pacing ───────────────────────────────────────────────────────────────────────────────────────────────────────


class TokenBucket:
    """``capacity`` tokens that refill at ``rate`` per second; one token per sign request.

    ``tokens`` is the starting level (default: full), e.g. the ``remaining`` a sign server reports. ``clock``
    (default ``time.monotonic``) is injectable for tests.
    """

    __slots__ = ("_clock", "_tokens", "_updated", "capacity", "rate")

    def __init__(
        self, rate: float, capacity: float, *, tokens: float | None = None, clock: Clock = time.monotonic
    ) -> None:
        if not (math.isfinite(rate) and rate > 0 and math.isfinite(capacity) and capacity >= 1):
            raise ValueError("a token bucket needs a finite rate > 0 and capacity >= 1")
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._tokens = capacity if tokens is None else max(0.0, min(capacity, tokens))
        self._updated = clock()

    def _refill(self, now: float) -> None:
        if now > self._updated:
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
            self._updated = now

    def delay(self, now: float) -> float:
        """Seconds from ``now`` (the clock's time) until a token is available; 0 when one is."""
        self._refill(now)
        return 0.0 if self._tokens >= 1.0 else (1.0 - self._tokens) / self.rate

    def take(self, now: float) -> None:
        """Take one token (the caller checked :meth:`delay` is 0)."""
        self._refill(now)
        self._tokens -= 1.0

    @property
    def tokens(self) -> float:
        """Tokens available now."""
        self._refill(self._clock())
        return self._tokens

    def __repr__(self) -> str:
        return f"<TokenBucket {self.tokens:.1f}/{self.capacity:g} +{self.rate:g}/s>"


class WindowBudget:
    """``capacity`` requests per fixed window of ``seconds``, as a sign server counts them: the current window has
    ``tokens`` left (default: all) and ends ``reset_in`` seconds from now (default: a whole window); then every
    window starts full again. Unlike a token bucket it never lets more than ``capacity`` through in one window.
    ``rate`` is the long-run average, ``capacity / seconds``. ``clock`` is injectable for tests.
    """

    __slots__ = ("_clock", "_reset", "_tokens", "capacity", "rate", "seconds")

    def __init__(
        self,
        capacity: float,
        seconds: float,
        *,
        tokens: float | None = None,
        reset_in: float | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        if not (math.isfinite(capacity) and capacity >= 1 and math.isfinite(seconds) and seconds > 0):
            raise ValueError("a window budget needs a finite capacity >= 1 and seconds > 0")
        self.capacity = capacity
        self.seconds = seconds
        self.rate = capacity / seconds
        self._clock = clock
        start = tokens if tokens is not None and math.isfinite(tokens) else capacity
        self._tokens = max(0.0, min(capacity, start))
        window = seconds if reset_in is None or not math.isfinite(reset_in) else max(0.0, min(seconds, reset_in))
        self._reset = clock() + window

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
        self._roll(self._clock())
        return self._tokens

    def __repr__(self) -> str:
        return f"<WindowBudget {self.tokens:g}/{self.capacity:g} per {self.seconds:g} s>"


class SignLimiter:
    """Paces the sign requests of one sign server and API key: every bucket must have a token, and nobody signs
    while a rate-limit pause (:meth:`pause`) runs. Waiters are served in arrival order.

    No buckets means unthrottled (only pauses apply). Counters: ``acquired`` requests let through, ``waited``
    seconds spent waiting in total, ``pauses`` rate-limit pauses. ``clock`` and ``sleep`` are injectable for
    tests (the buckets must share the clock).
    """

    def __init__(
        self,
        buckets: Sequence[TokenBucket | WindowBudget] = (),
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.buckets: tuple[TokenBucket | WindowBudget, ...] = tuple(buckets)
        self.acquired = 0
        self.waited = 0.0
        self.pauses = 0
        self._clock = clock
        self._sleep = sleep
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    @classmethod
    def fixed(
        cls, rate: float, burst: int | None = None, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> SignLimiter:
        """``rate`` requests per second with bursts of ``burst`` (default: ``ceil(rate)``, at least 1)."""
        capacity = float(burst if burst is not None else max(1, math.ceil(rate)))
        return cls([TokenBucket(rate, capacity, clock=clock)], clock=clock, sleep=sleep)

    @classmethod
    def from_rate_limits(
        cls,
        data: object,
        *,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> SignLimiter | None:
        """A limiter for a ``/webcast/rate_limits`` answer: one fixed-window budget per window (``second``,
        ``minute``, ``hour``, ``day``) of ``max`` (or ``limit``) requests, starting at ``remaining`` until
        ``reset_at`` when given. Accepts the object bare or under ``data``; None when it names no usable limit.
        Numbers that are not finite, negative or absurd are ignored (that window is left out)."""
        if isinstance(data, Mapping) and isinstance(data.get("data"), Mapping):
            data = data["data"]
        if not isinstance(data, Mapping):
            return None
        buckets: list[TokenBucket | WindowBudget] = []
        for name, seconds in WINDOWS.items():
            window = data.get(name)
            fields = window if isinstance(window, Mapping) else {}
            limit = number(fields.get("max", fields.get("limit")) if fields else window, maximum=1e9)
            if limit is None or limit < 1:
                continue
            remaining = number(fields.get("remaining"), maximum=1e9)
            reset_at = number(fields.get("reset_at"))
            reset_in = _reset_in(reset_at, wall_clock())
            buckets.append(WindowBudget(limit, seconds, tokens=remaining, reset_in=reset_in, clock=clock))
        return cls(buckets, clock=clock, sleep=sleep) if buckets else None

    def pause(self, seconds: float) -> None:
        """Let nobody sign for ``seconds`` (a 429's ``Retry-After``); extends, never shortens, a running pause.
        A value that is not a finite number pauses :data:`RATE_LIMIT_PAUSE`; none lasts beyond :data:`MAX_PAUSE`."""
        if not math.isfinite(seconds):  # callers may pass anything a server said
            seconds = RATE_LIMIT_PAUSE
        self.pauses += 1
        self._paused_until = max(self._paused_until, self._clock() + min(MAX_PAUSE, max(0.0, seconds)))

    async def acquire(self) -> None:
        """Wait for a token in every bucket and for any pause to end, then take the tokens.

        Cancellation-safe: a waiter that is cancelled takes nothing and leaves the queue.
        """
        async with self._lock:
            while True:
                now = self._clock()
                wait = max([self._paused_until - now, *(bucket.delay(now) for bucket in self.buckets)])
                if wait <= 0:
                    for bucket in self.buckets:
                        bucket.take(now)
                    self.acquired += 1
                    return
                self.waited += wait
                await self._sleep(wait)

    def __repr__(self) -> str:
        return f"<SignLimiter buckets={list(self.buckets)} acquired={self.acquired} pauses={self.pauses}>"


def _reset_in(reset_at: float | None, now: float) -> float | None:
    """Seconds until a published ``reset_at`` (unix seconds, or milliseconds); None when not given."""
    if reset_at is None:
        return None
    if reset_at > 1e12:
        reset_at /= 1000
    return max(0.0, reset_at - now)


async def read_rate_limits(
    session: aiohttp.ClientSession,
    sign_url: str,
    api_key: str | None,
    *,
    proxy: str | None,
    max_body: int,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
) -> SignLimiter | None:
    """``GET /webcast/rate_limits`` as a limiter; None (unthrottled) when the server does not publish them.
    Redirects are not followed (the request carries the key). ``clock`` and ``sleep`` go to the limiter."""
    headers = {"User-Agent": "tiktok-live (Python)"}
    if api_key:
        headers["X-Api-Key"] = api_key
    url = sign_url.rstrip("/") + RATE_LIMITS_PATH
    try:
        answer = await get(
            session,
            url,
            headers=headers,
            proxy=proxy,
            max_body=max_body,
            time_limit=aiohttp.ClientTimeout(total=_RATE_LIMITS_TIMEOUT),
            follow_redirects=False,
        )
    except (aiohttp.ClientError, TimeoutError, FetchError) as error:
        logger.info("could not read sign limits from %s (%s): signing unthrottled", host_of(url), safe_error(error))
        return None
    if answer.status != 200:
        why = " (a redirect, not followed: the request carries the API key)" if 300 <= answer.status < 400 else ""
        logger.info(
            "%s answered HTTP %d to %s%s: no published sign limits, signing unthrottled",
            host_of(url),
            answer.status,
            RATE_LIMITS_PATH,
            why,
        )
        return None
    data = json_object(answer.body)
    limiter = SignLimiter.from_rate_limits(data, clock=clock, sleep=sleep) if data is not None else None
    if limiter is None:
        logger.info("%s publishes no usable limits: signing unthrottled", host_of(url))
    return limiter


class SignLimiters:
    """A pool's sign limiters: one per sign server and API key, shared by every room that signs there (initial
    connects and the clients' own reconnects alike), each made on first use: ``SignLimiter.fixed(rate, burst)``
    when ``rate`` is given, else the limits the server publishes at ``/webcast/rate_limits`` (read once, through
    the asking client's proxy with the session ``http(proxy)`` gives), else none (unthrottled)."""

    def __init__(
        self,
        http: Callable[[str | None], aiohttp.ClientSession],
        *,
        rate: float | None,
        burst: int | None,
        max_body: int,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._http = http
        self._rate = rate
        self._burst = burst
        self._max_body = max_body
        self._clock = clock
        self._sleep = sleep
        self._limiters: dict[tuple[str, str | None], SignLimiter] = {}
        self._locks: dict[tuple[str, str | None], asyncio.Lock] = {}

    def gate(self, config: ClientConfig) -> SignGate:
        """The gate of a client with ``config``: its sign server's and key's limiter, found on its first sign."""
        return _LimiterGate(self, config)

    async def get(self, sign_url: str, api_key: str | None, proxy: str | None = None) -> SignLimiter:
        """The limiter for one sign server and key, made on first use (reading its published limits once, through
        ``proxy``: the asking client's)."""
        key = (sign_url, api_key)
        limiter = self._limiters.get(key)
        if limiter is not None:
            return limiter
        async with self._locks.setdefault(key, asyncio.Lock()):
            limiter = self._limiters.get(key)
            if limiter is None:
                if self._rate is not None:
                    limiter = SignLimiter.fixed(self._rate, self._burst, clock=self._clock, sleep=self._sleep)
                else:
                    published = await read_rate_limits(
                        self._http(proxy),
                        sign_url,
                        api_key,
                        proxy=request_proxy(proxy),
                        max_body=self._max_body,
                        clock=self._clock,
                        sleep=self._sleep,
                    )
                    limiter = published or SignLimiter(clock=self._clock, sleep=self._sleep)
                self._limiters[key] = limiter
                logger.info("sign limits for %s: %r", _limiter_name(*key), limiter)
        return limiter

    def by_name(self) -> dict[str, SignLimiter]:
        """The limiters made so far, by sign server origin (``origin`` or ``origin (key …1234)``)."""
        return {_limiter_name(url, key): limiter for (url, key), limiter in self._limiters.items()}


class _LimiterGate:
    """The :class:`SignGate` of one pooled client: the pool's limiter for its sign server and key, found on first
    use (that may read the server's ``/webcast/rate_limits``)."""

    def __init__(self, limiters: SignLimiters, config: ClientConfig) -> None:
        self._limiters = limiters
        self._config = config
        self._limiter: SignLimiter | None = None

    async def acquire(self) -> None:
        if self._limiter is None:
            config = self._config
            self._limiter = await self._limiters.get(config.sign_url or "", config.sign_api_key, config.proxy)
        await self._limiter.acquire()

    def pause(self, seconds: float) -> None:
        if self._limiter is not None:
            self._limiter.pause(seconds)


def _limiter_name(sign_url: str, api_key: str | None) -> str:
    return f"{sign_url} (key …{api_key[-4:]})" if api_key else sign_url
