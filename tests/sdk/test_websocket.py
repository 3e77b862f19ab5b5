"""The connection (sdk/_websocket.py) on a fake clock: the watchdog counts only data frames, and reconnects back
off per the policy, stop on permanent errors and give up with ReconnectExhaustedError. The backoff delays
themselves (``ReconnectPolicy.delay``) are checked with a stub random source. No real time passes in these tests."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

import aiohttp
import pytest

from tests.sdk.frames import msg_frame, wire
from tests.support import FakeClock
from tiktok_live._base import BaseEvent
from tiktok_live._config import ClientConfig, ReconnectPolicy
from tiktok_live._lookup import RoomLookup
from tiktok_live._sign import Bundle, SignClient
from tiktok_live._websocket import Connection, SocketClosed
from tiktok_live.errors import (
    ReconnectExhaustedError,
    SignAPIError,
    SignatureRateLimitError,
    UserOfflineError,
)
from tiktok_live.events import ReconnectEvent
from tiktok_live.protocol import Received
from tiktok_live.testing import comment, end

BINARY, TEXT, PING, PONG, CLOSE = (
    aiohttp.WSMsgType.BINARY,
    aiohttp.WSMsgType.TEXT,
    aiohttp.WSMsgType.PING,
    aiohttp.WSMsgType.PONG,
    aiohttp.WSMsgType.CLOSE,
)


# ── ReconnectPolicy.delay ───────────────────────────────────────────────────────────────────────────────────────


class Extreme(random.Random):
    """A random source whose ``uniform`` always answers one end of the range."""

    def __init__(self, end: str) -> None:
        super().__init__(0)
        self.end = end

    def uniform(self, a: float, b: float) -> float:
        return a if self.end == "low" else b


def test_delays_double_from_the_base_up_to_the_cap() -> None:
    policy = ReconnectPolicy(base_delay=0.5, max_delay=6.0, jitter=0.0)
    assert [policy.delay(attempt, random.Random(1)) for attempt in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 6.0, 6.0]
    assert policy.delay(10_000, random.Random(1)) == 6.0  # no overflow however many attempts


def test_jitter_spreads_each_delay_by_its_fraction_either_way() -> None:
    policy = ReconnectPolicy(base_delay=1.0, max_delay=30.0, jitter=0.25)
    assert [policy.delay(attempt, Extreme("low")) for attempt in (1, 2, 3)] == [0.75, 1.5, 3.0]
    assert [policy.delay(attempt, Extreme("high")) for attempt in (1, 2, 3)] == [1.25, 2.5, 5.0]
    assert policy.delay(6, Extreme("high")) == 37.5  # the cap applies before the jitter
    rng = random.Random(7)
    assert all(22.5 <= policy.delay(9, rng) <= 37.5 for _ in range(200))
    assert ReconnectPolicy(base_delay=0.0).delay(3, rng) == 0.0


@pytest.mark.parametrize(
    "options",
    [
        {"base_delay": -1.0},
        {"max_delay": float("inf")},
        {"jitter": 1.5},
        {"jitter": float("nan")},
        {"max_attempts": -1},
        {"reset_after": -0.1},
        {"reset_after_frames": -1},
    ],
)
def test_bad_policies_are_rejected(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="ReconnectPolicy"):
        ReconnectPolicy(**options)


# ── a connection on a fake socket and a fake clock ──────────────────────────────────────────────────────────────


@dataclass
class FakeSocket:
    """Plays scripted WebSocket messages at given times of a FakeClock; ``receive`` times out like aiohttp's."""

    clock: FakeClock
    script: list[tuple[float, aiohttp.WSMsgType, object]]
    sent: list[bytes] = field(default_factory=list)
    pongs: list[bytes] = field(default_factory=list)
    closed: bool = False
    close_code: int | None = None

    async def receive(self, timeout: float | None = None) -> aiohttp.WSMessage:  # noqa: ASYNC109 - aiohttp's signature
        assert timeout is not None and timeout > 0, "the watchdog always bounds the wait"
        if not self.script or self.script[0][0] > self.clock() + timeout:
            self.clock.advance(timeout)
            raise TimeoutError
        at, kind, data = self.script.pop(0)
        self.clock.advance(max(0.0, at - self.clock()))
        if kind is CLOSE:
            self.closed, self.close_code = True, int(cast("int", data))
        return aiohttp.WSMessage(kind, data, None)

    async def send_bytes(self, data: bytes) -> None:
        self.sent.append(data)

    async def pong(self, data: bytes = b"") -> None:
        self.pongs.append(data)

    async def close(self) -> bool:
        self.closed = True
        return True

    def exception(self) -> BaseException | None:
        return None


@dataclass
class Fakes:
    """What a Connection talks to, recorded."""

    clock: FakeClock = field(default_factory=FakeClock)
    delivered: list[Received] = field(default_factory=list)
    emitted: list[BaseEvent] = field(default_factory=list)
    live_checks: int = 0
    signs: int = 0
    live_error: Callable[[], Exception | None] = lambda: None
    sign_error: Callable[[int], Exception] = lambda attempt: SignAPIError("sign server down", retryable=True)

    async def ensure_live(self, room_id: int) -> None:
        self.live_checks += 1
        error = self.live_error()
        if error is not None:
            raise error

    async def sign(self, room_id: int, policy: ReconnectPolicy) -> Bundle:
        self.signs += 1
        raise self.sign_error(self.signs)


def _connection(fakes: Fakes, **options: Any) -> Connection:
    config = ClientConfig(sign_url="http://127.0.0.1:9", **options)
    lookup = cast("RoomLookup", fakes)
    signer = cast("SignClient", fakes)
    connection = Connection(
        unique_id="host",
        config=config,
        http=cast("Callable[[], aiohttp.ClientSession]", lambda: None),
        lookup=lookup,
        signer=signer,
        cookies={},
        deliver=lambda data, received: fakes.delivered.append(received),
        emit=fakes.emitted.append,
        rng=random.Random(3),
        clock=fakes.clock,
        sleep=cast("Callable[[float], Awaitable[None]]", fakes.clock.sleep),
    )
    connection.reset(7)
    return connection


def _attach(connection: Connection, socket: FakeSocket, clock: FakeClock) -> None:
    """Make ``socket`` the open socket, opened now (what ``open`` does before reading)."""
    connection._ws = cast("aiohttp.ClientWebSocketResponse", socket)
    connection._last_data = connection._opened_at = clock()


async def test_the_watchdog_counts_only_data_frames() -> None:
    fakes = Fakes()
    connection = _connection(fakes, watchdog_timeout=10.0)
    socket = FakeSocket(fakes.clock, [(4.0, PING, b"p"), (6.0, TEXT, "hello"), (8.0, PONG, b"")])
    _attach(connection, socket, fakes.clock)
    with pytest.raises(SocketClosed, match="no data frame for 10 s"):
        await connection._read()
    assert fakes.clock() == 10.0  # exactly the watchdog period after the last data frame (the open)
    assert socket.pongs == [b"p"] and fakes.delivered == []


async def test_data_frames_keep_the_watchdog_quiet_and_are_acked() -> None:
    fakes = Fakes()
    connection = _connection(fakes, watchdog_timeout=10.0)
    frames = [
        msg_frame([wire(comment("a", str(n)), 100 + n)], need_ack=True, internal_ext=f"e{n}", log_id=n)
        for n in range(3)
    ]
    socket = FakeSocket(fakes.clock, [(6.0 * (n + 1), BINARY, data) for n, data in enumerate(frames)])
    _attach(connection, socket, fakes.clock)
    with pytest.raises(SocketClosed, match="no data frame"):
        await connection._read()
    assert fakes.clock() == 28.0  # the last frame at 18 s, then 10 s of silence
    assert [len(received.events) for received in fakes.delivered] == [1, 1, 1]
    assert socket.sent == [received.ack for received in fakes.delivered]
    assert connection.frames == 3


async def test_reading_stops_at_the_end_of_the_stream_and_at_a_close() -> None:
    fakes = Fakes()
    connection = _connection(fakes, watchdog_timeout=10.0)
    socket = FakeSocket(fakes.clock, [(1.0, BINARY, msg_frame([wire(end(), 1)])), (2.0, BINARY, b"never read")])
    _attach(connection, socket, fakes.clock)
    await connection._read()  # returns: the stream ended
    assert connection.session.ended and len(socket.script) == 1
    closing = _connection(fakes, watchdog_timeout=10.0)
    _attach(closing, FakeSocket(fakes.clock, [(fakes.clock() + 1, CLOSE, 4001)]), fakes.clock)
    with pytest.raises(SocketClosed) as closed:
        await closing._read()
    assert closed.value.code == 4001


async def test_reconnects_back_off_per_the_policy_then_give_up() -> None:
    fakes = Fakes()
    policy = ReconnectPolicy(base_delay=1.0, max_delay=4.0, jitter=0.0, max_attempts=4)
    connection = _connection(fakes, reconnect=policy)
    _attach(connection, FakeSocket(fakes.clock, []), fakes.clock)
    fakes.clock.advance(3.0)
    with pytest.raises(ReconnectExhaustedError) as raised:
        await connection._reconnect(SocketClosed(1006, "socket closed (code 1006)"))
    assert fakes.clock.sleeps == [1.0, 2.0, 4.0, 4.0]
    assert (raised.value.attempts, fakes.live_checks, fakes.signs) == (4, 4, 4)
    assert isinstance(raised.value.last_error, SignAPIError)
    events = [event for event in fakes.emitted if isinstance(event, ReconnectEvent)]
    assert [(event.attempt, event.delay) for event in events] == [(1, 1.0), (2, 2.0), (3, 4.0), (4, 4.0)]
    assert events[0].gap == 3.0 and events[0].reason == "socket closed (code 1006)"


async def test_a_permanent_error_stops_reconnecting_at_once() -> None:
    fakes = Fakes(live_error=lambda: UserOfflineError("the host ended the LIVE"))
    connection = _connection(fakes, reconnect=ReconnectPolicy(base_delay=1.0, jitter=0.0))
    with pytest.raises(UserOfflineError):
        await connection._reconnect(SocketClosed(None, "no data frame for 30 s"))
    assert fakes.clock.sleeps == [1.0] and fakes.signs == 0


async def test_a_rate_limited_reconnect_waits_the_retry_after_too() -> None:
    def limited(attempt: int) -> Exception:
        return SignatureRateLimitError("slow down", retry_after=3.0 if attempt == 1 else 99.0)

    fakes = Fakes(sign_error=limited)
    policy = ReconnectPolicy(base_delay=0.5, max_delay=10.0, jitter=0.0, max_attempts=2)
    connection = _connection(fakes, reconnect=policy)
    with pytest.raises(ReconnectExhaustedError) as raised:
        await connection._reconnect(SocketClosed(1011, "socket closed (code 1011)"))
    # Attempt 1: backoff, then Retry-After. Attempt 2: backoff; a Retry-After beyond max_delay is not waited.
    assert fakes.clock.sleeps == [0.5, 3.0, 1.0]
    assert isinstance(raised.value.last_error, SignatureRateLimitError)


@pytest.mark.parametrize(
    ("lasted", "frames", "first_attempt"),
    [(59.0, 9, 3), (60.0, 0, 1), (1.0, 10, 1)],
    ids=["short-lived: counts on", "lasted reset_after", "delivered reset_after_frames"],
)
async def test_only_connections_that_die_early_count_against_the_budget(
    lasted: float, frames: int, first_attempt: int
) -> None:
    fakes = Fakes()
    policy = ReconnectPolicy(base_delay=1.0, jitter=0.0, max_attempts=5, reset_after=60.0, reset_after_frames=10)
    connection = _connection(fakes, reconnect=policy)
    connection.attempts = 2  # two failed attempts before this connection
    _attach(connection, FakeSocket(fakes.clock, []), fakes.clock)
    connection.frames = frames
    fakes.clock.advance(lasted)
    with pytest.raises(ReconnectExhaustedError):
        await connection._reconnect(SocketClosed(1006, "dropped"))
    attempts = [event.attempt for event in fakes.emitted if isinstance(event, ReconnectEvent)]
    assert attempts == list(range(first_attempt, 6))
