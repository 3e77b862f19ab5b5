"""The connection (sdk/_websocket.py) on a fake clock: the watchdog counts only data frames, and reconnects back
off per the policy, stop on permanent errors and give up with ReconnectExhaustedError. The backoff delays
themselves (``ReconnectPolicy.delay``) are checked with a stub random source. No real time passes in these tests."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

import aiohttp
import pytest

from tests.sdk.frames import msg_frame, wire
from tests.support import FakeClock, wait_for_condition
from tiktok_live._base import BaseEvent
from tiktok_live._config import ClientConfig, ReconnectPolicy
from tiktok_live._lookup import RoomLookup
from tiktok_live._sign import Bundle, SignClient
from tiktok_live._websocket import Connection, SocketClosed, _ack_transport, client_frame
from tiktok_live.errors import (
    ReconnectExhaustedError,
    SignAPIError,
    SignatureRateLimitError,
    UserOfflineError,
)
from tiktok_live.events import ReconnectEvent
from tiktok_live.protocol import Received
from tiktok_live.testing import comment, end

TIMEOUT = 10.0
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
    """Plays scripted WebSocket messages at given times of a FakeClock, with the connection's timers on the same
    clock (pass :meth:`sleep` as the connection's ``sleep``): whatever is due first happens first.

    ``receive`` hands over the next message when no timer is due before it, moving the clock to its time; with
    nothing left it waits until cancelled (by the watchdog). :meth:`sleep` wakes at its time once every message due
    before then has been received. Everything advances by yielding to the event loop: no real time passes.
    """

    clock: FakeClock
    script: list[tuple[float, aiohttp.WSMsgType, object]]
    sent: list[bytes] = field(default_factory=list)
    pongs: list[bytes] = field(default_factory=list)
    closed: bool = False
    close_code: int | None = None
    timers: list[float] = field(default_factory=list)
    frozen: bool = False
    """Time stands still: no timer fires (messages are still received at their times)."""

    async def receive(self, timeout: float | None = None) -> aiohttp.WSMessage:  # noqa: ASYNC109 - aiohttp's signature
        assert timeout is None, "the watchdog is a timer of its own, not a timeout on each receive"
        while not self.script or any(due <= self.script[0][0] for due in self.timers):  # noqa: ASYNC110 - turns of
            # a discrete-event schedule on the fake clock: one event-loop round each, no real time
            await asyncio.sleep(0)  # a timer fires first (or nothing is left): let it
        at, kind, data = self.script.pop(0)
        self.clock.advance(max(0.0, at - self.clock()))
        if kind is CLOSE:
            self.closed, self.close_code = True, int(cast("int", data))
        return aiohttp.WSMessage(kind, data, None)

    async def sleep(self, seconds: float) -> None:
        """FakeClock.sleep (recorded in ``clock.sleeps``), in turn with the script and the other timers."""
        self.clock.sleeps.append(seconds)
        due = self.clock() + seconds
        self.timers.append(due)
        try:
            while self.frozen or (self.script and self.script[0][0] < due) or min(self.timers) < due:  # noqa: ASYNC110
                await asyncio.sleep(0)  # a message (or another timer) comes first
            self.clock.advance(max(0.0, due - self.clock()))
        finally:
            self.timers.remove(due)
        await asyncio.sleep(0)

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
    connection._sleep = socket.sleep
    connection._acks_out = _ack_transport(connection._ws)
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


async def _reading(connection: Connection, socket: FakeSocket) -> asyncio.Task[None]:
    """``connection._read()`` as a task, returned once it waits in ``receive`` with the script played; the
    socket's time is frozen, so the watchdog cannot fire meanwhile."""
    socket.frozen = True
    task = asyncio.create_task(connection._read())
    await wait_for_condition(lambda: connection._receiving and not socket.script, TIMEOUT)
    return task


async def _cancelled(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` as its caller would; it must end cancelled (not with SocketClosed: no reconnect)."""
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_cancel_from_the_caller_is_not_taken_for_silence() -> None:
    fakes = Fakes()
    connection = _connection(fakes, watchdog_timeout=10.0)
    socket = FakeSocket(fakes.clock, [(1.0, BINARY, msg_frame([wire(comment("a", "hi"), 1)]))])
    _attach(connection, socket, fakes.clock)
    task = await _reading(connection, socket)
    await _cancelled(task)
    assert len(fakes.delivered) == 1 and fakes.clock() == 1.0


async def test_the_callers_cancel_wins_over_the_watchdogs() -> None:
    """The watchdog and the caller cancel the reader at once: the caller's cancel goes on up (the reader does not
    turn it into a reconnect)."""
    fakes = Fakes()
    connection = _connection(fakes, watchdog_timeout=10.0)
    socket = FakeSocket(fakes.clock, [])
    _attach(connection, socket, fakes.clock)
    task = await _reading(connection, socket)
    connection._silent = True  # what the watchdog does as it fires: mark the cancel as its own, then cancel
    task.cancel()
    task.cancel()  # the caller's
    with pytest.raises(asyncio.CancelledError):
        await task
    alone = _connection(fakes, watchdog_timeout=10.0)
    quiet = FakeSocket(fakes.clock, [])
    _attach(alone, quiet, fakes.clock)
    task = await _reading(alone, quiet)
    alone._silent = True
    task.cancel()  # the watchdog's alone: a closed socket, the reader reconnects
    with pytest.raises(SocketClosed, match="no data frame for 10 s"):
        await task


async def test_a_reader_busy_past_the_deadline_stops_before_reading_again() -> None:
    fakes = Fakes()
    connection = _connection(fakes, watchdog_timeout=10.0)
    late = msg_frame([wire(comment("a", "late"), 2)])
    socket = FakeSocket(fakes.clock, [(1.0, BINARY, msg_frame([wire(comment("a", "hi"), 1)])), (30.0, BINARY, late)])

    async def slow_hook(received: Received) -> None:  # a fleet commit that hangs for 15 s
        fakes.clock.advance(15.0)
        await asyncio.sleep(0)

    connection.frame_hook = slow_hook
    _attach(connection, socket, fakes.clock)
    with pytest.raises(SocketClosed, match="no data frame for 10 s"):
        await connection._read()
    assert fakes.clock() == 16.0 and len(socket.script) == 1 and len(fakes.delivered) == 1


# ── acks ────────────────────────────────────────────────────────────────────────────────────────────────────


class FakeTransport(asyncio.WriteTransport):
    """Records each write; closing on request."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closing


@dataclass
class FakeWriter:
    """The attributes of aiohttp's (private) WebSocket writer that decide whether acks may be batched."""

    transport: asyncio.WriteTransport
    use_mask: bool = True
    compress: int = 0


@dataclass
class WriterSocket(FakeSocket):
    """A FakeSocket with aiohttp's writer layout; ``events`` records sends and the close, in order."""

    _writer: FakeWriter | None = None
    events: list[str] = field(default_factory=list)

    async def send_bytes(self, data: bytes) -> None:
        self.events.append("send_bytes")
        await super().send_bytes(data)

    async def close(self) -> bool:
        assert self._writer is not None
        self.events.append(f"close after {len(cast('FakeTransport', self._writer.transport).writes)} write(s)")
        return await super().close()


def unframe(data: bytes) -> list[bytes]:
    """The payloads of concatenated masked client frames (checking each is a final BINARY frame)."""
    payloads = []
    while data:
        assert data[0] == 0x82 and data[1] & 0x80, "a final, masked BINARY frame"
        size, offset = data[1] & 0x7F, 2
        if size == 126:
            size, offset = int.from_bytes(data[2:4], "big"), 4
        elif size == 127:
            size, offset = int.from_bytes(data[2:10], "big"), 10
        mask, body = data[offset : offset + 4], data[offset + 4 : offset + 4 + size]
        payloads.append(bytes(byte ^ mask[n % 4] for n, byte in enumerate(body)))
        data = data[offset + 4 + size :]
    return payloads


def _acked_frames(count: int, start: float = 0.0) -> list[tuple[float, aiohttp.WSMsgType, object]]:
    return [
        (start, BINARY, msg_frame([wire(comment("a", str(n)), 100 + n)], need_ack=True, internal_ext=f"e{n}", log_id=n))
        for n in range(count)
    ]


@pytest.mark.parametrize("size", [0, 1, 4, 125, 126, 65535, 65536, 70_001])
def test_client_frames_are_masked_binary_frames_of_any_size(size: int) -> None:
    payload = random.Random(size).randbytes(size)
    mask = b"\x01\x80\xfe\x7f"
    framed = client_frame(payload, mask)
    assert unframe(framed) == [payload]
    assert mask in framed[:14] and (size < 8 or payload not in framed)


def _batching(
    script: list[tuple[float, aiohttp.WSMsgType, object]],
) -> tuple[Fakes, Connection, WriterSocket, FakeTransport]:
    """A connection on a socket with aiohttp's writer layout (acks batched onto its transport), playing ``script``."""
    fakes = Fakes()
    connection = _connection(fakes, watchdog_timeout=10.0)
    transport = FakeTransport()
    socket = WriterSocket(fakes.clock, script, _writer=FakeWriter(transport))
    _attach(connection, socket, fakes.clock)
    assert connection._acks_out is transport
    return fakes, connection, socket, transport


async def test_acks_received_in_one_round_go_out_in_one_write_in_order() -> None:
    fakes, connection, socket, transport = _batching(_acked_frames(5))
    task = await _reading(connection, socket)  # five frames buffered at once: read in one go (no yield between)
    assert [unframe(write) for write in transport.writes] == [[received.ack for received in fakes.delivered]]
    assert socket.sent == [] and len(fakes.delivered) == 5
    await _cancelled(task)


async def test_acks_go_out_before_the_close_frame_and_never_after_it() -> None:
    ending = (0.0, BINARY, msg_frame([wire(end(), 9)], need_ack=True))
    fakes, connection, socket, transport = _batching([*_acked_frames(2), ending])
    await connection._read()  # the stream ended: the acks are still queued, the caller closes at once
    assert transport.writes == []
    await connection.close()
    assert socket.events == ["close after 1 write(s)"]
    assert unframe(transport.writes[0]) == [received.ack for received in fakes.delivered]
    connection._acks.append(b"late")
    connection._flush_acks(cast("aiohttp.ClientWebSocketResponse", socket))  # a socket no longer ours: dropped
    assert len(transport.writes) == 1 and connection._acks == []


async def test_acks_queued_for_a_closing_transport_are_dropped() -> None:
    fakes, connection, socket, transport = _batching(_acked_frames(2))
    transport.closing = True
    task = await _reading(connection, socket)
    assert transport.writes == [] and len(fakes.delivered) == 2 and connection._acks == []
    await _cancelled(task)


@pytest.mark.parametrize(
    ("writer", "batched"),
    [
        (FakeWriter(FakeTransport()), True),
        (FakeWriter(FakeTransport(), use_mask=False), False),  # a server's writer
        (FakeWriter(FakeTransport(), compress=15), False),  # permessage-deflate: aiohttp must compress
        (None, False),  # another layout: one send_bytes per ack
    ],
)
async def test_acks_are_batched_only_on_a_masking_uncompressed_aiohttp_writer(
    writer: FakeWriter | None, batched: bool
) -> None:
    fakes = Fakes()
    connection = _connection(fakes, watchdog_timeout=10.0)
    socket = WriterSocket(fakes.clock, _acked_frames(2), _writer=writer)
    _attach(connection, socket, fakes.clock)
    assert (connection._acks_out is not None) == batched
    task = await _reading(connection, socket)
    acks = [received.ack for received in fakes.delivered]
    if batched:
        assert writer is not None and socket.sent == []
        assert [unframe(data) for data in cast("FakeTransport", writer.transport).writes] == [acks]
    else:
        assert socket.sent == acks and socket.events == ["send_bytes", "send_bytes"]
    await _cancelled(task)


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
