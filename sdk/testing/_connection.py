"""One simulated WebSocket connection: plays the script as push frames and checks the client's duties.

Server side, as TikTok's push server behaves: after the client's enter-room frame (or ``enter_room_timeout``) it answers
``im_enter_room_resp``, then sends one gzip ``msg`` frame per script step, each needing an ack, and closes with
1000 after the last step once the acks are in. :class:`Faults` bend this on purpose.

Client duties checked (what TikTok expects of a client), each breach recorded as a ``violation:`` line:
enter-room within ``enter_room_timeout`` (room id, ``live_id`` 12, identity ``audience``); an ack per frame
(its ``log_id``, payload = that result's ``internal_ext``) within ``ack_grace``; heartbeats numbered 1, 2, … with
no gap over 2 x ping-interval + ``heartbeat_grace``; no WebSocket-level pings (TikTok answers none).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections import OrderedDict
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from aiohttp import WSMsgType, web
from google.protobuf.message import DecodeError

from tiktok_live._generated.pb import transport_pb2
from tiktok_live.testing import _render
from tiktok_live.testing._render import UNKNOWN_METHOD, push_body, render_frame, render_messages, render_step

if TYPE_CHECKING:
    from tiktok_live.testing._scenario import Step
    from tiktok_live.testing._server import Simulator

__all__ = ["GARBAGE_FRAME", "UNKNOWN_METHOD", "Faults"]

logger = logging.getLogger("tiktok_live.testing")

GARBAGE_FRAME: Final = b"\xff" * 11 + b" simulated garbage, not a push frame"
"""The bytes of the ``garbage_frame_at`` fault: an over-long varint, so it never parses as a ``PushFrame``."""


@dataclass(frozen=True, slots=True)
class Faults:
    """Server misbehaviour to inject, for testing a client's resilience. Every field defaults to "off".

    Counts are script frames sent on one connection; ``*_at`` fields name a script step by its index in the
    scenario (0-based), so after a reconnect that resumes past it the fault does not repeat.

    - ``drop_after``: after this many frames, drop the connection: with ``drop_code`` set, a close frame with that
      code (e.g. 1011); else the TCP connection is aborted with no close frame (the client sees 1006).
    - ``reset_mid_frame``: with ``drop_after`` and no ``drop_code``, abort in the middle of a WebSocket frame (its
      header and part of its payload are sent), as a connection reset would.
    - ``silent_after``: after this many frames, send nothing more (no frames, no close); the socket stays open.
    - ``garbage_frame_at``: before step N's frame, a binary message that is not a push frame
      (:data:`GARBAGE_FRAME`).
    - ``truncated_gzip_at``: before step N's frame, a ``msg`` frame whose gzip payload is cut in half (no ack is
      expected for it: the client cannot read its ``need_ack``).
    - ``corrupt_message_at``: in step N's frame, message number ``corrupt_index`` gets a payload no decoder
      accepts; the frame's other messages are intact.
    - ``unknown_method_at``: step N's frame gets one extra message of method :data:`UNKNOWN_METHOD`.
    - ``duplicate_msg_ids_at``: step N's frame is followed by a second frame with the same messages and msg_ids
      (new seq_id and log_id; it needs an ack too).
    - ``first_connections``: apply the faults to the first N connections only (None: to every connection).
    """

    drop_after: int | None = None
    drop_code: int | None = None
    reset_mid_frame: bool = False
    silent_after: int | None = None
    garbage_frame_at: int | None = None
    truncated_gzip_at: int | None = None
    corrupt_message_at: int | None = None
    corrupt_index: int = 0
    unknown_method_at: int | None = None
    duplicate_msg_ids_at: int | None = None
    first_connections: int | None = None

    def applies_to(self, connection: int) -> bool:
        """Whether these faults apply to connection number ``connection`` (1-based)."""
        return self.first_connections is None or connection <= self.first_connections


class _Outcome(enum.Enum):
    END = "end"  # script done, acks in: close 1000
    CLOSE = "close"  # drop fault with a close code
    ABORT = "abort"  # drop fault without a close frame


@dataclass(slots=True)
class _Pending:
    seq_id: int
    internal_ext: str
    sent_at: float


_NO_FAULTS: Final = Faults()
_HB_BODY: Final = push_body("hb", b"")
_ENTER_ROOM_RESP_BODY: Final = push_body("im_enter_room_resp", b"")
_PARTIAL_FRAME: Final = b"\x82\x7e\x10\x00" + bytes(100)
"""A binary WebSocket frame announcing 4,096 payload bytes, cut after 100 (for ``Faults.reset_mid_frame``)."""
_ACKED_MEMORY: Final = 1024
_YIELD_EVERY: Final = 0.02
"""Seconds of back-to-back zero-delay steps a connection sends before letting the other tasks run (its ack
reader, other connections): one event-loop round per 20 ms of work, not one per frame."""


def _fault_positions(faults: Faults) -> frozenset[int]:
    """The script steps some ``*_at`` fault names (a connection renders those itself, never from the cache)."""
    named = (
        faults.garbage_frame_at,
        faults.truncated_gzip_at,
        faults.corrupt_message_at,
        faults.unknown_method_at,
        faults.duplicate_msg_ids_at,
    )
    return frozenset(position for position in named if position is not None)


class SimulatedConnection:
    """The server side of one accepted WebSocket: run it with :meth:`run` from the request handler."""

    def __init__(
        self,
        sim: Simulator,
        ws: web.WebSocketResponse,
        request: web.Request,
        number: int,
        start_position: int,
    ) -> None:
        self.number = number
        self._sim = sim
        self._ws = ws
        self._request = request
        self.start_position = start_position
        self._position = start_position
        self._faults = sim.faults if sim.faults.applies_to(number) else _NO_FAULTS
        self._fault_positions = _fault_positions(self._faults)
        self._loop = asyncio.get_running_loop()
        self._opened = self._loop.time()
        self._send_lock = asyncio.Lock()
        self._seq_id = 0
        self._pending: OrderedDict[int, _Pending] = OrderedDict()
        self._acked: OrderedDict[int, None] = OrderedDict()
        self._entered = asyncio.Event()
        self._script_started = False
        self._enter_count = 0
        self._enter_reported = False
        self._hb_seq = 0
        self._hb_reset_allowed = False
        self._last_hb = self._opened
        self._gap_reported = False
        self._pinged = False
        self._silent = False
        self._server_dropped = False
        self._shutting_down = False
        self._wake = asyncio.Event()
        self._acks_changed = asyncio.Event()
        self._tasks: set[asyncio.Task[object]] = set()

    # ── lifecycle ───────────────────────────────────────────────────────────────────────────────────────────

    async def run(self) -> None:
        """Play the script and check the client until either side closes; returns when the socket is closed."""
        reader: asyncio.Task[object] = asyncio.create_task(self._read(), name=f"simulator read #{self.number}")
        sender: asyncio.Task[object] = asyncio.create_task(self._send_script(), name=f"simulator send #{self.number}")
        self._tasks = {reader, sender, asyncio.create_task(self._watch(), name=f"simulator watch #{self.number}")}
        if self._sim.server_heartbeat_interval:
            self._tasks.add(asyncio.create_task(self._server_heartbeats(), name=f"simulator hb #{self.number}"))
        try:
            await asyncio.wait({reader, sender}, return_when=asyncio.FIRST_COMPLETED)
            if not reader.done():  # the sender finished first: the script is over, a fault fired, or it failed
                if sender.exception() is None:
                    await self._finish(sender.result())
                else:  # logged below; the client is not to blame
                    self._server_dropped = True
                    await self._ws.close(code=1011)
                await asyncio.wait({reader})
        finally:
            tasks = set(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)
            for task in tasks:
                if not task.cancelled() and (error := task.exception()) is not None:
                    if not isinstance(error, ConnectionError):
                        logger.error("simulator connection #%d: task failed", self.number, exc_info=error)
            if not self._server_dropped and not self._shutting_down:
                self._final_checks()

    async def _finish(self, outcome: object) -> None:
        if outcome is _Outcome.END:
            await self._ws.close(code=1000)
        elif outcome is _Outcome.CLOSE:
            self._server_dropped = True
            await self._ws.close(code=self._faults.drop_code or 1011)
        elif outcome is _Outcome.ABORT:
            self._server_dropped = True
            transport = self._request.transport
            if transport is not None:
                if self._faults.reset_mid_frame:
                    transport.write(_PARTIAL_FRAME)
                transport.abort()

    async def shutdown(self, grace: float) -> None:
        """Close this connection because the simulator stops (1001, going away); no duty checks afterwards."""
        self._shutting_down = True
        try:
            await asyncio.wait_for(self._ws.close(code=1001), grace)
        except (TimeoutError, ConnectionError):
            transport = self._request.transport
            if transport is not None:
                transport.abort()

    def violation(self, text: str) -> None:
        """Record a breach of a client duty on this connection."""
        self._sim._report_violation(f"violation: [connection {self.number}] {text}")

    # ── sending ─────────────────────────────────────────────────────────────────────────────────────────────

    def _stamp(self, body: bytes) -> tuple[int, bytes]:
        """A push frame of this connection: the next seq_id, a fresh log_id, then ``body`` (the fields after them,
        see :func:`push_body`); returns the log_id and the frame's bytes."""
        self._seq_id += 1
        log_id = self._sim._new_log_id()
        return log_id, transport_pb2.PushFrame(seq_id=self._seq_id, log_id=log_id).SerializeToString() + body

    async def _send(self, body: bytes, ack_ext: str | None = None) -> None:
        """Send one frame; with ``ack_ext`` it is registered as needing an ack with that payload first."""
        log_id, data = self._stamp(body)
        if ack_ext is not None:
            if not self._pending:  # the watchdog has no ack deadline to wait for yet; a later frame's is later
                self._wake.set()
            self._pending[log_id] = _Pending(self._seq_id, ack_ext, self._loop.time())
        await self._send_bytes(data)

    async def _send_bytes(self, data: bytes) -> None:
        async with self._send_lock:
            await self._ws.send_bytes(data)
        self._sim.frames_sent += 1

    async def _send_step(self, position: int, step: Step) -> None:
        if position in self._fault_positions:
            await self._send_faulted_step(position, step)
        else:
            rendered = self._sim._prerendered(position, step)
            if rendered is None:
                rendered = render_step(self._sim, position, step, _render.wall_ms())
            await self._send(rendered.body, rendered.internal_ext)
        if any(spec.ends_stream for spec in step.messages):
            self._sim._stream_ended()

    async def _send_faulted_step(self, position: int, step: Step) -> None:
        """A step some fault names, rendered for this connection alone."""
        faults, sim = self._faults, self._sim
        now = _render.wall_ms()
        if faults.garbage_frame_at == position:
            await self._send_bytes(GARBAGE_FRAME)
        messages = render_messages(
            sim,
            position,
            step,
            now,
            corrupt_index=faults.corrupt_index if faults.corrupt_message_at == position else None,
            unknown_method=faults.unknown_method_at == position,
        )
        if faults.truncated_gzip_at == position:
            broken = render_frame(sim, position, messages, now, suffix="|truncated", truncated=True)
            await self._send(broken.body)
        rendered = render_frame(sim, position, messages, now)
        await self._send(rendered.body, rendered.internal_ext)
        if faults.duplicate_msg_ids_at == position:
            again = render_frame(sim, position, messages, now, suffix="|dup")
            await self._send(again.body, again.internal_ext)

    async def _send_script(self) -> _Outcome:
        sim = self._sim
        try:
            await asyncio.wait_for(self._entered.wait(), sim.enter_room_timeout)
        except TimeoutError:
            pass
        self._script_started = True
        if self._entered.is_set():
            await self._reply_enter_room()  # before any msg frame, as TikTok does
        faults = self._faults
        sent = 0
        loop = self._loop
        yield_at = loop.time() + _YIELD_EVERY
        while (step := sim._step_at(self._position)) is not None:
            pause = step.delay / sim.speed
            if pause > 0:
                await asyncio.sleep(pause)
                yield_at = loop.time() + _YIELD_EVERY
            elif loop.time() >= yield_at:  # zero-delay steps: let the ack reader and other connections run
                await asyncio.sleep(0)
                yield_at = loop.time() + _YIELD_EVERY
            if step.messages:
                await self._send_step(self._position, step)
                sim._played(step)
                sent += 1
            self._position += 1
            if faults.drop_after is not None and sent >= faults.drop_after:
                return _Outcome.CLOSE if faults.drop_code is not None else _Outcome.ABORT
            if faults.silent_after is not None and sent >= faults.silent_after:
                self._silent = True
                await asyncio.Event().wait()  # silent until the client closes or the simulator stops
        await self._drain_acks()
        return _Outcome.END

    async def _drain_acks(self) -> None:
        """Wait until every frame is acked (the watchdog drops, and reports, those older than ``ack_grace``)."""
        while self._pending:
            self._acks_changed.clear()
            await self._acks_changed.wait()

    async def _server_heartbeats(self) -> None:
        interval = self._sim.server_heartbeat_interval or 10.0
        while True:
            await asyncio.sleep(interval)
            if not self._silent:
                await self._send(_HB_BODY)

    # ── reading and checking ────────────────────────────────────────────────────────────────────────────────

    async def _read(self) -> None:
        async for message in self._ws:
            if message.type is WSMsgType.BINARY:
                self._on_frame(message.data)
            elif message.type is WSMsgType.PING:
                self._sim.ws_pings += 1
                if not self._pinged:
                    self._pinged = True
                    self.violation(
                        "client sent a WebSocket ping; TikTok answers none, so a client waiting for a pong dies "
                        "(1011 keepalive ping timeout): keep alive with hb frames only"
                    )
            elif message.type is WSMsgType.TEXT:
                self.violation("client sent a text WebSocket message; TikTok expects binary push frames")
            elif message.type is WSMsgType.ERROR:
                break

    def _on_frame(self, data: bytes) -> None:
        try:
            frame = transport_pb2.PushFrame.FromString(data)
        except DecodeError:
            self.violation(f"client sent a binary message that is not a push frame ({len(data)} bytes)")
            return
        kind = frame.payload_type
        if kind == "hb":
            self._on_heartbeat(frame)
        elif kind == "ack":
            self._on_ack(frame)
        elif kind == "im_enter_room":
            self._on_enter_room(frame)
        else:
            self.violation(f"client sent a frame of unexpected payload_type {kind!r}")

    def _on_enter_room(self, frame: transport_pb2.PushFrame) -> None:
        elapsed = self._loop.time() - self._opened
        self._enter_count += 1
        if self._enter_count > 1:
            self.violation("client sent the enter-room frame again on the same connection (once is enough)")
        elif elapsed > self._sim.enter_room_timeout and not self._enter_reported:
            self.violation(f"enter-room frame came {elapsed:.2f} s after open (due within {self._enter_limit()})")
        if frame.payload_encoding != "pb":
            self.violation(f"enter-room frame has payload_encoding {frame.payload_encoding!r}, expected 'pb'")
        try:
            enter = transport_pb2.EnterRoomMessage.FromString(frame.payload)
        except DecodeError:
            self.violation("enter-room payload is not an EnterRoomMessage")
            enter = transport_pb2.EnterRoomMessage()
        else:
            if enter.room_id != self._sim.room_id:
                self.violation(f"enter-room room_id is {enter.room_id}, expected {self._sim.room_id}")
            if enter.live_id != 12:
                self.violation(f"enter-room live_id is {enter.live_id}, expected 12")
            if enter.identity != "audience":
                self.violation(f"enter-room identity is {enter.identity!r}, expected 'audience'")
        self._sim._record(self._sim.enter_room, enter)
        self._hb_reset_allowed = True
        if not self._entered.is_set():
            self._entered.set()
            if self._script_started:  # late: the sender stopped waiting, so reply from here (from a task, so the
                self._spawn(self._reply_enter_room())  # reader never blocks on a write)
        self._wake.set()

    async def _reply_enter_room(self) -> None:
        await self._send(_ENTER_ROOM_RESP_BODY)

    def _spawn(self, coroutine: Coroutine[object, object, object]) -> None:
        task: asyncio.Task[object] = asyncio.create_task(coroutine, name=f"simulator reply #{self.number}")
        self._tasks.add(task)
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[object]) -> None:
        if not task.cancelled() and task.exception() is not None:
            logger.debug("simulator connection #%d: reply not sent: %s", self.number, task.exception())
        self._tasks.discard(task)

    def _on_ack(self, frame: transport_pb2.PushFrame) -> None:
        self._sim._record(self._sim.acks, (frame.log_id, frame.payload))
        pending = self._pending.pop(frame.log_id, None)
        if pending is None:
            if frame.log_id in self._acked:
                self.violation(f"frame log_id={frame.log_id} was acked twice")
            else:
                self.violation(f"ack for log_id={frame.log_id}, which no frame on this connection carried")
            return
        self._acked[frame.log_id] = None
        if len(self._acked) > _ACKED_MEMORY:
            self._acked.popitem(last=False)
        expected = pending.internal_ext.encode()
        if frame.payload != expected:
            self.violation(
                f"ack of frame seq_id={pending.seq_id} (log_id={frame.log_id}) carries {frame.payload[:80]!r}, "
                f"expected that frame's internal_ext {expected!r}"
            )
        if not self._pending:  # the watchdog needs no wake-up: an ack only moves its next deadline later
            self._acks_changed.set()

    def _on_heartbeat(self, frame: transport_pb2.PushFrame) -> None:
        now = self._loop.time()
        gap = now - self._last_hb
        if gap > self._hb_limit() and not self._gap_reported:
            self.violation(self._gap_text(gap))
        self._last_hb = now
        self._gap_reported = False
        try:
            beat = transport_pb2.HeartbeatMessage.FromString(frame.payload)
        except DecodeError:
            self.violation("heartbeat payload is not a HeartbeatMessage")
            return
        self._sim._record(self._sim.heartbeats, (time.monotonic(), beat.send_packet_seq_id))
        seq = beat.send_packet_seq_id
        if seq != self._hb_seq + 1 and not (seq == 1 and self._hb_reset_allowed):
            self.violation(f"heartbeat send_packet_seq_id is {seq}, expected {self._hb_seq + 1}")
        self._hb_seq = seq
        self._hb_reset_allowed = False
        if beat.room_id != self._sim.room_id:
            self.violation(f"heartbeat room_id is {beat.room_id}, expected {self._sim.room_id}")
        self._wake.set()

    def _hb_limit(self) -> float:
        return 2 * self._sim.ping_interval + self._sim.heartbeat_grace

    def _gap_text(self, gap: float) -> str:
        since = "since the last heartbeat" if self._hb_seq else "since open"
        return (
            f"no heartbeat for {gap:.2f} s {since} (ping-interval {self._sim.ping_interval:g} s; "
            f"allowed {self._hb_limit():g} s)"
        )

    def _enter_limit(self) -> str:
        return f"{self._sim.enter_room_timeout:g} s"

    async def _watch(self) -> None:
        """Report missing enter-room, heartbeats and acks as their deadlines pass."""
        sim = self._sim
        while True:
            now = self._loop.time()
            deadlines: list[float] = []
            if not self._entered.is_set() and not self._enter_reported:
                deadline = self._opened + sim.enter_room_timeout
                if now >= deadline:
                    self._enter_reported = True
                    self.violation(f"no enter-room frame within {self._enter_limit()} of open")
                else:
                    deadlines.append(deadline)
            if not self._gap_reported:
                deadline = self._last_hb + self._hb_limit()
                if now >= deadline:
                    self._gap_reported = True
                    self.violation(self._gap_text(now - self._last_hb))
                else:
                    deadlines.append(deadline)
            while self._pending:
                log_id, pending = next(iter(self._pending.items()))
                deadline = pending.sent_at + sim.ack_grace
                if now < deadline:
                    deadlines.append(deadline)
                    break
                del self._pending[log_id]
                self._acks_changed.set()
                self.violation(
                    f"frame seq_id={pending.seq_id} (log_id={log_id}) needed an ack and got none within "
                    f"{sim.ack_grace:g} s"
                )
            self._wake.clear()
            timeout = max(min(deadlines) - now, 0.0) if deadlines else None
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that lands as the event is
            # set, and this loop would then outlive its connection (the simulator never finished closing it).
            try:
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            except TimeoutError:
                pass

    def _final_checks(self) -> None:
        """Duties still open when the client closed (or the script ended): report them."""
        for log_id, pending in self._pending.items():
            self.violation(
                f"frame seq_id={pending.seq_id} (log_id={log_id}) needed an ack; the connection closed without one"
            )
        self._pending.clear()
        if not self._entered.is_set() and not self._enter_reported:
            self.violation("the connection closed without an enter-room frame")
        gap = self._loop.time() - self._last_hb
        if gap > self._hb_limit() and not self._gap_reported:
            self.violation(self._gap_text(gap))
