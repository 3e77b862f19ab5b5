"""The live connection: TikTok's push WebSocket over aiohttp, driven by a :class:`~tiktok_live.protocol.Session`.

One :class:`Connection` per client. :meth:`Connection.open` opens the socket for a sign bundle, enters the room and
starts the heartbeat task; :meth:`Connection.run` reads until the stream ends, reconnecting (live check, sign,
open) with backoff when the socket drops or stays silent. Every received binary message goes through the session;
its events go to the client's ``deliver`` callback and its ack back to TikTok in the same event-loop round: the
acks of frames read in one round (a burst) leave in one write. Only data frames count as life for the watchdog
(TEXT, PING and PONG frames do not keep a silent stream alive); the watchdog is one timer per deadline, not a
timeout on every receive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import struct
import time
from collections.abc import Awaitable, Callable
from typing import Final
from urllib.parse import urlencode

import aiohttp

from tiktok_live._base import BaseEvent
from tiktok_live._config import ClientConfig
from tiktok_live._connection import ConnectEvent, ReconnectEvent
from tiktok_live._http import browser_params, number, safe_error, scrub
from tiktok_live._lookup import RoomLookup
from tiktok_live._sign import Bundle, SignClient
from tiktok_live.errors import (
    ReconnectExhaustedError,
    SignAPIKeyError,
    SignatureRateLimitError,
    TikTokLiveError,
    UserNotFoundError,
    UserOfflineError,
    WebcastBlockedError,
    WebSocketRejectedError,
)
from tiktok_live.protocol import Received, Session
from tiktok_live.recording import Recorder

__all__ = ["MAX_HEARTBEAT", "MIN_HEARTBEAT", "Connection"]

logger = logging.getLogger("tiktok_live.connection")

MIN_HEARTBEAT: Final = 1.0
"""The shortest heartbeat period a server may ask for (``Handshake-Options: ping-interval``); shorter is clamped."""
MAX_HEARTBEAT: Final = 60.0
"""The longest heartbeat period a server may ask for; longer is clamped."""
DEFAULT_HEARTBEAT: Final = 10.0
_SESSION_COOKIES: Final = frozenset({"sessionid", "sessionid_ss", "sid_tt", "sid_guard"})
_YIELD_EVERY: Final = 0.02
_CLOSE_TIMEOUT: Final = 2.0
_PERMANENT: Final = (SignAPIKeyError, UserOfflineError, UserNotFoundError)


class SocketClosed(Exception):
    """Internal: the socket ended; ``code`` is its close code (None: no close frame). Never leaves this module's
    callers (the client's reader turns it into a reconnect or a disconnect)."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class Connection:
    """One client's WebSocket life: open, read, heartbeat, watchdog, reconnect.

    ``deliver`` receives what the session made of each data frame; ``emit`` gets the connection events
    (ConnectEvent, ReconnectEvent, WebsocketResponseEvent is the client's). ``clock`` and ``sleep`` are injectable.
    """

    def __init__(
        self,
        *,
        unique_id: str,
        config: ClientConfig,
        http: Callable[[], aiohttp.ClientSession],
        lookup: RoomLookup,
        signer: SignClient,
        cookies: dict[str, str],
        deliver: Callable[[bytes, Received], None],
        emit: Callable[[BaseEvent], None],
        recorder: Recorder | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.unique_id = unique_id
        self._config = config
        self._http = http
        self._lookup = lookup
        self._signer = signer
        self._cookies = cookies
        self._deliver = deliver
        self._emit = emit
        self._recorder = recorder
        self._rng = rng or random.Random()
        self._clock = clock
        self._sleep = sleep
        self.session = Session(dedupe_size=config.dedupe_size, max_decompressed_size=config.max_decompressed_size)
        """The protocol state of the current room (replaced by :meth:`reset` for a new room)."""
        self.room_id = 0
        self.close_code: int | None = None
        self.close_reason = ""
        self.frames = 0
        """Data frames received on the current socket."""
        self.attempts = 0
        """Failed reconnect attempts in a row."""
        self.heartbeat_interval = 0.0
        """Seconds between heartbeats on the current socket: ``heartbeat_interval`` when the user set it, else the
        server's announced period clamped to [:data:`MIN_HEARTBEAT`, :data:`MAX_HEARTBEAT`], else 10 (0 before
        the first socket)."""
        self.frame_hook: Callable[[Received], Awaitable[None]] | None = None
        """Awaited with every frame's result (the bundle's too) before it is acked and delivered: a fleet worker
        commits the events and the session's snapshot there. If it raises, the connection stops with that error."""
        self._hook_error: BaseException | None = None
        self._acks: list[bytes] = []
        self._acks_out: asyncio.WriteTransport | None = None
        self._receiving = False
        self._silent = False
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._last_data = 0.0
        self._opened_at = 0.0

    @property
    def connected(self) -> bool:
        """Whether the WebSocket is open right now."""
        return self._ws is not None and not self._ws.closed

    def reset(self, room_id: int, session: Session | None = None) -> None:
        """Start over for ``room_id``: a new session (cursor, dedupe window) — or ``session``, one restored from a
        snapshot to resume where it stopped — and a fresh reconnect budget."""
        wanted = self.session.wanted
        if session is None:
            session = Session(
                wanted,
                self._config.dedupe_size,
                max_decompressed_size=self._config.max_decompressed_size,
                room_id=room_id,
            )
        self.session = session
        self.room_id = room_id
        self.attempts = 0
        self.close_code, self.close_reason = None, ""

    # ── opening ─────────────────────────────────────────────────────────────────────────────────────────────────

    def url(self, bundle: Bundle) -> str:
        """The signed WebSocket URL for ``bundle``, resuming at the session's cursor when it has one."""
        result = bundle.result
        params: dict[str, str] = {
            **browser_params(self._config.user_agent),
            "device_platform": "web",
            "did_rule": "3",
            "identity": "audience",
            "live_id": "12",
            "sup_ws_ds_opt": "1",
            "update_version_code": "2.0.0",
            "version_code": "180800",
            "client_enter": "1",
            "heartbeat_duration": "0",
            "resp_content_type": "protobuf",
            "history_comment_count": "6",
            "last_rtt": str(self._rng.randint(100, 200)),
            "room_id": str(self.room_id),
            "compress": "gzip",
            "cursor": self.session.cursor or result.cursor,
            "internal_ext": self.session.internal_ext or result.internal_ext,
        }
        params.update({key: value for key, value in result.route_params.items() if value})
        separator = "&" if "?" in result.push_server else "?"
        return f"{result.push_server}{separator}{urlencode(params)}&version_code=270000"

    async def open(self, bundle: Bundle) -> None:
        """Open the WebSocket for ``bundle``, enter the room, start heartbeats, emit ConnectEvent, then deliver the
        bundle's messages (the room's recent history; after a reconnect, what was missed, duplicates dropped) unless
        ``process_initial_messages`` is off (they still enter the duplicate window)."""
        self._cookies.update(bundle.cookies)
        if self._recorder is not None:
            self._recorder.sign(self.room_id, bundle.body, bundle.cookies)
        # TikTok's requests carry the session id, but the WebSocket only when the bundle was signed with it.
        skipped = set() if self._signer.authenticated() else _SESSION_COOKIES
        headers = {
            "User-Agent": self._config.user_agent,
            "Cookie": "; ".join(f"{k}={v}" for k, v in self._cookies.items() if k not in skipped),
        }
        url = self.url(bundle)
        try:
            ws = await self._http().ws_connect(
                url,
                headers=headers,
                autoping=False,
                heartbeat=None,
                proxy=self._config.request_proxy,
                max_msg_size=self._config.max_frame_size,
            )
        except aiohttp.WSServerHandshakeError as error:
            message = error.headers.get("handshake-msg", "") if error.headers is not None else ""
            if error.status in (200, 400) and message:
                raise WebcastBlockedError(
                    f"TikTok rejected the WebSocket: {message[:200]} (HTTP {error.status}); often transient or "
                    "regional — retry later, check the user agent, or use a session",
                    handshake_msg=message,
                    status=error.status,
                ) from scrub(error)
            raise WebSocketRejectedError(
                f"the WebSocket upgrade failed with HTTP {error.status}", status=error.status
            ) from scrub(error)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise WebSocketRejectedError(f"could not open the WebSocket: {safe_error(error)}") from scrub(error)
        self._ws = ws
        self._acks_out = _ack_transport(ws)
        self.close_code, self.close_reason = None, ""
        self._last_data = self._opened_at = self._clock()
        self.frames = 0
        try:
            await self._send(self.session.enter_room(self.room_id))
        except SocketClosed as closed:  # SocketClosed never leaves this module: a typed error, the socket released
            await self.close()
            raise WebSocketRejectedError(f"the WebSocket closed while entering the room: {closed.reason}") from None
        interval = self._config.heartbeat_interval or _announced_interval(ws) or DEFAULT_HEARTBEAT
        self.heartbeat_interval = interval
        self._stop_heartbeat()
        self._heartbeat = asyncio.create_task(self._beat(ws, interval), name="tiktok-live heartbeat")
        logger.info("connected to @%s (room %s)", self.unique_id, self.room_id)
        self._emit(ConnectEvent(self.unique_id, self.room_id))
        cursor, internal_ext = self.session.cursor, self.session.internal_ext
        received = self.session.receive_fetch_result(bundle.body)
        if cursor:
            # Resuming: the socket delivers from our cursor (in its URL), not from the bundle's (signed for a
            # newcomer); keep ours, or a reconnect or a snapshot taken before the next frame would go back.
            self.session.cursor, self.session.internal_ext = cursor, internal_ext
        await self._hook(received)
        if self._config.process_initial_messages:
            self._deliver(b"", received)

    async def _hook(self, received: Received) -> None:
        """Await the frame hook; its failure is remembered, so a reconnect does not take it for a failed attempt."""
        if self.frame_hook is None:
            return
        try:
            await self.frame_hook(received)
        except Exception as error:
            self._hook_error = error
            raise

    async def _send(self, data: bytes) -> None:
        """Send one frame; a socket that broke meanwhile raises SocketClosed (the reader reconnects)."""
        ws = self._ws
        if ws is None or ws.closed:
            raise SocketClosed(ws.close_code if ws is not None else None, "socket closed before sending")
        if self._recorder is not None:
            self._recorder.frame("out", data)
        try:
            await ws.send_bytes(data)
        except (aiohttp.ClientError, ConnectionError) as error:
            raise SocketClosed(ws.close_code, f"socket broke while sending ({type(error).__name__})") from error

    async def _beat(self, ws: aiohttp.ClientWebSocketResponse, interval: float) -> None:
        """Send heartbeats on ``ws`` until it closes. Never fails: a broken socket ends the beat quietly and the
        reader, which sees the close, reconnects."""
        while not ws.closed:
            await asyncio.sleep(interval)
            if ws is not self._ws:
                return
            try:
                await self._send(self.session.heartbeat(self.room_id))
            except SocketClosed as closed:
                logger.debug("heartbeat stopped: %s", closed.reason)
                return

    def _stop_heartbeat(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None

    async def close(self) -> None:
        """Stop the heartbeat and close the socket (bounded). Never raises but cancellation."""
        task, self._heartbeat = self._heartbeat, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task})  # the beat never fails; a cancelled close still propagates here
        if self._ws is not None:
            self._flush_acks(self._ws)  # before the close frame: nothing may follow it
        ws, self._ws = self._ws, None
        self._acks_out = None
        if ws is not None and not ws.closed:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that lands as the close
            # completes, and a follow-mode client would then go on waiting for the next LIVE after Ctrl-C.
            with contextlib.suppress(aiohttp.ClientError, ConnectionError, TimeoutError):
                async with asyncio.timeout(_CLOSE_TIMEOUT):
                    await ws.close()

    # ── reading ─────────────────────────────────────────────────────────────────────────────────────────────────

    async def run(self) -> None:
        """Read until the stream ends (returns) or a permanent error (raises); reconnect per the policy in
        between. Raises ReconnectExhaustedError when reconnecting kept failing."""
        while True:
            try:
                await self._read()
                return
            except SocketClosed as closed:
                self.close_code, self.close_reason = closed.code, closed.reason
                if self.session.ended:
                    return
                if not self._config.reconnect_policy.enabled:
                    logger.info("socket closed (%s); reconnect disabled", closed.reason)
                    return
                await self._reconnect(closed)

    async def _read(self) -> None:
        ws = self._ws
        reader = asyncio.current_task()
        if ws is None or reader is None:
            raise SocketClosed(None, "no socket")
        self._silent = False
        guard = asyncio.create_task(self._guard(reader), name="tiktok-live watchdog")
        try:
            await self._read_frames(ws, reader)
        finally:
            guard.cancel()

    async def _read_frames(self, ws: aiohttp.ClientWebSocketResponse, reader: asyncio.Task[object]) -> None:
        """The read loop: one ``receive`` per message, no per-call timeout (the watchdog is :meth:`_guard`)."""
        watchdog = self._config.watchdog_timeout
        clock = self._clock
        yielded = clock()
        session = self.session
        while not session.ended:
            now = clock()
            if now - yielded > _YIELD_EVERY:
                # receive() does not suspend while frames are buffered: under a flood, let the heartbeat and
                # handler tasks run (TikTok drops sockets that miss heartbeats).
                await asyncio.sleep(0)
                yielded = now = clock()
            if self._last_data + watchdog <= now:
                raise SocketClosed(None, f"no data frame for {watchdog:g} s")
            self._receiving = True
            try:
                message = await ws.receive()
            except asyncio.CancelledError:
                if self._silent and reader.uncancel() == 0:  # the watchdog's cancel, not the caller's
                    raise SocketClosed(None, f"no data frame for {watchdog:g} s") from None
                raise
            finally:
                self._receiving = False
            kind = message.type
            if kind == aiohttp.WSMsgType.BINARY:
                data: bytes = message.data
                self._last_data = clock()
                self.frames += 1
                if self._recorder is not None:
                    self._recorder.frame("in", data)
                received = session.receive(data)
                if self.frame_hook is not None:
                    await self._hook(received)
                ack = received.ack
                if ack is not None:
                    if self._acks_out is not None:
                        self._queue_ack(ws, ack)
                    else:
                        await self._send(ack)
                self._deliver(data, received)
            elif kind in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                raise SocketClosed(ws.close_code, f"socket closed (code {ws.close_code})")
            elif kind == aiohttp.WSMsgType.ERROR:
                raise SocketClosed(ws.close_code, f"socket error: {safe_error(ws.exception() or Exception())}")
            elif kind == aiohttp.WSMsgType.PING:
                with contextlib.suppress(aiohttp.ClientError, ConnectionError):
                    await ws.pong(message.data)

    async def _guard(self, reader: asyncio.Task[object]) -> None:
        """The watchdog of one socket: sleeps until the silence deadline (the last data frame plus
        ``watchdog_timeout``, re-read on waking: data frames push it on), then cancels the reader if it is waiting
        in ``receive`` (the reader turns that cancel into SocketClosed). A reader busy elsewhere (a frame hook, a
        pong) checks the deadline itself before it reads again. One timer per deadline, not one per frame."""
        watchdog = self._config.watchdog_timeout
        while True:
            remaining = self._last_data + watchdog - self._clock()
            if remaining > 0:
                await self._sleep(remaining)
            else:
                if self._receiving:
                    self._silent = True
                    reader.cancel()
                return

    # ── acks ────────────────────────────────────────────────────────────────────────────────────────────────────

    def _queue_ack(self, ws: aiohttp.ClientWebSocketResponse, ack: bytes) -> None:
        """Send ``ack`` with the others of this event-loop round in one write (see :func:`_ack_transport`)."""
        if self._recorder is not None:
            self._recorder.frame("out", ack)
        if not self._acks:
            asyncio.get_running_loop().call_soon(self._flush_acks, ws)
        self._acks.append(ack)

    def _flush_acks(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Write the queued acks as masked WebSocket frames in one transport write. Acks queued for a socket that
        closed or was replaced meanwhile are dropped: the next socket resumes from the session's cursor."""
        acks, self._acks = self._acks, []
        transport = self._acks_out
        if not acks or transport is None or ws is not self._ws or ws.closed or transport.is_closing():
            return
        masks = os.urandom(4 * len(acks))
        transport.write(b"".join(client_frame(ack, masks[4 * n : 4 * n + 4]) for n, ack in enumerate(acks)))

    async def _reconnect(self, closed: SocketClosed) -> None:
        """Reconnect with backoff; raises ReconnectExhaustedError after ``max_attempts`` failures in a row, or a
        permanent error (the user went offline, the key was rejected).

        Attempts count across short-lived connections: one that dies within ``reset_after`` seconds and before
        ``reset_after_frames`` frames does not reset the count, so a server that accepts and drops at once cannot
        cause a reconnect storm.
        """
        gap = self._clock() - self._last_data
        await self.close()
        policy = self._config.reconnect_policy
        if self._clock() - self._opened_at >= policy.reset_after or self.frames >= policy.reset_after_frames:
            self.attempts = 0
        last_error: BaseException | None = None
        while self.attempts < policy.max_attempts:
            self.attempts += 1
            attempt = self.attempts
            delay = policy.delay(attempt, self._rng)
            logger.warning("%s: reconnecting in %.1f s (attempt %d)", closed.reason, delay, attempt)
            self._emit(ReconnectEvent(attempt, delay, gap, closed.reason))
            await self._sleep(delay)
            try:
                await self._lookup.ensure_live(self.room_id)  # the host may have ended the LIVE meanwhile
                await self.open(await self._signer.sign(self.room_id, policy))
                return
            except _PERMANENT:
                raise
            except SignatureRateLimitError as error:
                last_error = error
                if error.retry_after is not None and error.retry_after <= policy.max_delay:
                    await self._sleep(error.retry_after)
            except TikTokLiveError as error:
                if error is self._hook_error:
                    raise  # the frame hook failed: the connection stops with its error (no more attempts)
                last_error = error
                logger.warning("reconnect attempt %d failed: %s", attempt, error)
        raise ReconnectExhaustedError(self.attempts, last_error)


def _announced_interval(ws: aiohttp.ClientWebSocketResponse) -> float | None:
    """The heartbeat period TikTok announced in ``Handshake-Options: ping-interval=<s>``, clamped to
    [:data:`MIN_HEARTBEAT`, :data:`MAX_HEARTBEAT`]; None when absent or not a number."""
    # aiohttp keeps the handshake response private.
    response = getattr(ws, "_response", None)
    headers = getattr(response, "headers", None)
    options = headers.get("Handshake-Options", "") if headers is not None else ""
    for part in str(options).split(";"):
        key, _, value = part.strip().partition("=")
        if key == "ping-interval":
            interval = number(value)
            if interval is not None and interval > 0:
                return min(MAX_HEARTBEAT, max(MIN_HEARTBEAT, interval))
    return None


def _ack_transport(ws: aiohttp.ClientWebSocketResponse) -> asyncio.WriteTransport | None:
    """The transport aiohttp writes ``ws``'s frames to, when acks can be written there directly: a client
    (masking) writer without compression. aiohttp has no public call that writes several frames at once, and one
    write (one system call) per ack costs as much as reading the frame under a flood; writing to the same
    transport keeps the order of everything sent. None otherwise (another aiohttp layout, a test double): each ack
    then goes out through ``send_bytes``."""
    writer: object = getattr(ws, "_writer", None)  # aiohttp keeps its writer private
    transport = getattr(writer, "transport", None)
    masks: object = getattr(writer, "use_mask", False)
    compress: object = getattr(writer, "compress", 0)
    if masks is not True or compress:
        return None
    return transport if isinstance(transport, asyncio.WriteTransport) else None


def client_frame(payload: bytes, mask: bytes) -> bytes:
    """One final BINARY WebSocket frame as a client sends it (RFC 6455, section 5.2): ``payload`` masked with the
    4-byte ``mask``."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x82, 0x80 | size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x82, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", 0x82, 0x80 | 127, size)
    key = int.from_bytes((mask * (size // 4 + 1))[:size], "big")
    return header + mask + (int.from_bytes(payload, "big") ^ key).to_bytes(size, "big")
