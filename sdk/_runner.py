"""A client's runs: find the live room (waiting for one if asked), open it, read it to its end, and in follow mode
go on to the host's next LIVEs; also a recording's replay through the same session and dispatch.

:class:`Runner` holds the state of the room being read (its id, whether the caller gave it, the LIVE that just
ended, the room info) and the tasks (connecting, reading). The client façade keeps the public lifecycle around it:
``start``/``connect``/``run``/``stop``/``disconnect`` and the thread-safe parts.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from tiktok_live._config import ClientConfig
from tiktok_live._connection import ConnectEvent, DisconnectEvent
from tiktok_live._dispatch import Dispatcher
from tiktok_live._emitter import Emitter
from tiktok_live._info import GiftInfo
from tiktok_live._live import poll_until_live
from tiktok_live._lookup import RoomInfo, RoomLookup, request_cookies
from tiktok_live._proxy import HttpSession
from tiktok_live._sign import SignClient, SignGate
from tiktok_live._websocket import Connection
from tiktok_live.errors import RequestError, TikTokLiveError, UserOfflineError
from tiktok_live.protocol import Session
from tiktok_live.recording import Recorder, Recording, SignRecord

if TYPE_CHECKING:
    from tiktok_live.video import VideoProgress, VideoRecording

__all__ = ["Runner"]

logger = logging.getLogger("tiktok_live.client")


class Runner:
    """One client's parts (room lookup, sign client, connection, all over ``http``) and its runs with them.

    Events go out through ``dispatch``; handler failures and the stream's failure are reported to ``emitter``.
    ``sign_gate`` paces the sign requests; ``recorder`` saves every frame.
    """

    def __init__(
        self,
        unique_id: str,
        room_id: int | None,
        config: ClientConfig,
        http: HttpSession,
        *,
        dispatch: Dispatcher,
        emitter: Emitter,
        sign_gate: SignGate | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        self.unique_id = unique_id
        self.config = config
        self._http = http
        self._dispatch = dispatch
        self._emitter = emitter
        self.cookies = request_cookies(config)
        """The cookies TikTok's requests carry (the session id's too, when one is given)."""
        self.lookup = RoomLookup(unique_id, config, http, self.cookies)
        self.signer = SignClient(config, http, gate=sign_gate)
        self.connection = Connection(
            unique_id=unique_id,
            config=config,
            http=http,
            lookup=self.lookup,
            signer=self.signer,
            cookies=self.cookies,
            deliver=dispatch.deliver,
            emit=dispatch.emit,
            recorder=recorder,
        )
        self.room_id = room_id
        """The room id: given, or resolved while connecting."""
        self.room_id_given = room_id is not None
        self.room_info: RoomInfo | None = None
        """Room information fetched while connecting or by a lookup (None until then)."""
        self.reader: asyncio.Task[None] | None = None
        self.opening: asyncio.Task[None] | None = None
        self.closing = False
        """True from a disconnect until the next start (or replay)."""
        self.ended_room: int | None = None
        """The room whose LIVE just ended (follow mode): TikTok may still show it as live for a while."""
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self._decoded_before = 0

    @property
    def busy(self) -> bool:
        """Whether a connect or a read is under way."""
        return any(task is not None and not task.done() for task in (self.opening, self.reader))

    @property
    def decoded(self) -> int:
        """Message payloads decoded over every room so far."""
        return self._decoded_before + self.connection.session.decoded

    # ── start and disconnect ──────────────────────────────────────────────────────────────────────────────────

    async def start(self, *, wait_live: bool, resume: Session | None) -> asyncio.Task[None]:
        """Connect (waiting for the host to go live with ``wait_live``) and return the running reader task; a
        disconnect while this connects ends it quietly with a reader task that is already done."""
        self.closing = False
        self._http.active = True
        self.ended_room = None
        opening = asyncio.create_task(
            self._open(wait_live=wait_live, resume=resume), name=f"tiktok-live connect @{self.unique_id}"
        )
        self.opening = opening
        try:
            await opening  # cancelling start() cancels the connect too
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not (opening.cancelled() and self.closing and (current is None or not current.cancelling())):
                raise
            # disconnect() or stop() from elsewhere while connecting or waiting: nothing to read.
            self.reader = asyncio.create_task(_nothing(), name=f"tiktok-live reader @{self.unique_id}")
            return self.reader
        except BaseException:
            self._http.active = False
            raise
        finally:
            self.opening = None
        reader = self._follow() if self.config.follow else self._run()
        self.reader = asyncio.create_task(reader, name=f"tiktok-live reader @{self.unique_id}")
        return self.reader

    async def disconnect(self) -> None:
        """Cancel the connect and the reader (unless the caller is one of them), end the streams, close the socket
        and our session. Safe to call twice."""
        self.closing = True
        current = asyncio.current_task()
        for task in (self.opening, self.reader):
            if task is not None and not task.done() and task is not current:
                task.cancel()
                await asyncio.wait({task})
        await self._release()
        self._dispatch.close_streams()
        self._http.active = False

    # ── rooms ─────────────────────────────────────────────────────────────────────────────────────────────────

    def known_room_id(self) -> int | None:
        """The room id to ask about without resolving: given, or the one being read now."""
        running = self.reader is not None and not self.reader.done()
        return self.room_id if self.room_id_given or running else None

    async def live_room_id(self) -> int | None:
        """The host's live room id, or None while they are offline (a given room that ended: their next one)."""
        known = self.known_room_id()
        if known is not None and known != self.ended_room:
            room_id = await self.lookup.live_room_id(known)
            if room_id is not None:
                return room_id
        room_id = await self.lookup.live_room_id()
        return None if room_id == self.ended_room else room_id  # TikTok may still show an ended LIVE as live

    async def fetch_room_info(self) -> RoomInfo:
        """The room's information now (also kept in :attr:`room_info`), without connecting."""
        async with self._http.lookup():
            room_id = self.known_room_id() or await self.lookup.resolve_room_id()
            self.room_info = info = await self.lookup.room_info(room_id)
        return info

    async def gifts(self) -> list[GiftInfo]:
        """The gift catalogue: the room's while the host is live, else the region's."""
        async with self._http.lookup():
            room_id = self.known_room_id()
            if room_id is None:
                try:
                    room_id = await self.lookup.resolve_room_id()
                except UserOfflineError:
                    room_id = None
            return await self.lookup.gifts(room_id)

    async def wait_live(self, poll_interval: float) -> int:
        """Check every ``poll_interval`` seconds (backing off after failures) until the host is live."""
        return await poll_until_live(self.live_room_id, poll_interval, label=f"@{self.unique_id}", sleep=self.sleep)

    def _new_room(self, room_id: int, session: Session | None = None) -> None:
        """A new protocol session for ``room_id`` (or the given one): cursor, duplicate window and reconnect budget
        start over."""
        self._decoded_before += self.connection.session.decoded
        self.connection.reset(room_id, session)
        self.connection.session.wanted = self._dispatch.wanted

    # ── the connect sequence and the reader ──────────────────────────────────────────────────────────────────

    async def _open(self, *, wait_live: bool, keep_streams: bool = False, resume: Session | None = None) -> None:
        """Find the live room (waiting for one with ``wait_live``), fetch its info, sign and open the socket;
        ``resume``: continue that session's room from its cursor.

        On failure everything is released and, unless ``keep_streams``, the streams end."""
        try:
            room_id = self.room_id if self.room_id_given and self.room_id != self.ended_room else None
            if resume is not None and resume.room_id:
                room_id = resume.room_id
            while True:
                try:
                    if room_id is None:
                        room_id = await self.lookup.resolve_room_id()
                    if room_id == self.ended_room:  # TikTok may still show the LIVE that just ended
                        raise UserOfflineError(self.unique_id)
                    self.room_id = room_id
                    self._new_room(room_id, resume if resume is not None and resume.room_id == room_id else None)
                    await self.lookup.ensure_live(room_id)
                    break
                except UserOfflineError:
                    if not wait_live:
                        raise
                    logger.info("@%s is offline: waiting for the next LIVE", self.unique_id)
                    room_id = await self.wait_live(self.config.live_poll_interval)
            if self.config.fetch_room_info:
                try:
                    self.room_info = await self.lookup.room_info(room_id)
                except RequestError as error:
                    logger.warning("room info failed (%s); going on without it", error)
            await self.connection.open(await self.signer.sign_with_retry(room_id, self.config.reconnect_policy))
        except BaseException:
            await self._release()
            if not keep_streams:
                self._dispatch.close_streams()
            raise

    async def _follow(self) -> None:
        """The reader task of follow mode: read a LIVE, then wait for the host's next one and connect again.

        Errors that waiting may fix (the LIVE ended, the sign server limited us, the network) lead to the next
        wait; the others (a rejected key, an unknown user) end it. Streams stay open from LIVE to LIVE."""
        try:
            while not self.closing:  # also a guard should a cancel ever get lost on its way
                try:
                    await self._run(close_streams=False)
                except TikTokLiveError as error:
                    if not error.retryable:
                        raise
                    logger.warning("@%s: the stream failed (%s); waiting for the next LIVE", self.unique_id, error)
                if self.connection.session.ended:
                    self.ended_room = self.room_id
                while not self.closing:
                    try:
                        await self._open(wait_live=True, keep_streams=True)
                        break
                    except TikTokLiveError as error:
                        if not error.retryable:
                            raise
                        delay = self.config.live_poll_interval
                        logger.warning("@%s: connect failed (%s); trying again in %g s", self.unique_id, error, delay)
                        await self.sleep(delay)
        finally:
            self._dispatch.close_streams()

    async def _run(self, *, close_streams: bool = True) -> None:
        """The reader task: run the connection until the stream ends; emit DisconnectEvent last."""
        error: BaseException | None = None
        cancelled = False
        try:
            await self.connection.run()
        except asyncio.CancelledError:
            cancelled = True
            raise
        except Exception as failure:
            error = failure
            logger.error("the stream failed: %s", failure)
            self._emitter.report(failure)
            raise
        finally:
            try:
                await self.connection.close()
            except asyncio.CancelledError:  # disconnect() while closing (stop() from a LiveEndEvent handler, say)
                cancelled = True
                raise
            finally:  # DisconnectEvent comes last whatever happens, a cancel while closing included
                if close_streams:
                    self._dispatch.close_streams()
                ended = self.connection.session.ended
                reason = self.connection.close_reason or ("stream ended" if ended else "disconnected")
                self._dispatch.emit(
                    DisconnectEvent(self.connection.close_code, reason if error is None else str(error))
                )
            if not cancelled:
                # Let running async handlers finish. Not after a cancel: disconnect() may be awaited by one of them.
                await self._emitter.drain()

    async def _release(self) -> None:
        await self.connection.close()
        await self._http.close()

    async def record_video(
        self,
        path: str | os.PathLike[str],
        quality: str,
        duration: float | None,
        remux: bool,
        overwrite: bool,
        on_progress: Callable[[VideoProgress], object] | None,
    ) -> VideoRecording:
        """The client's ``record_video``, with its cookies, its session (when given) and its room id."""
        from tiktok_live.video import record_video

        return await record_video(
            unique_id=self.unique_id,
            config=self.config,
            cookies=dict(self.cookies),
            session=None if self._http.owned else self._http.session,
            # A room id found by an earlier connect may belong to a LIVE that is over: look it up again then.
            room_id=self.room_id if self.room_id_given or self.connection.connected else None,
            path=path,
            quality=quality,
            duration=duration,
            remux=remux,
            overwrite=overwrite,
            on_progress=on_progress,
        )

    # ── replay ────────────────────────────────────────────────────────────────────────────────────────────────

    async def replay(self, recording: Recording, speed: float | None) -> None:
        """Feed ``recording`` through a new session of its room and the dispatch, at ``speed`` times the recorded
        pace (None: at once); the streams end and DisconnectEvent comes (after a ConnectEvent) at its end."""
        self.closing = False
        self.room_id = recording.room_id or self.room_id
        self._new_room(self.room_id or 0)
        session = self.connection.session
        started = time.monotonic()
        connected = False
        try:
            for record in recording.records:
                if session.ended or self.closing:
                    break
                if speed is not None:
                    delay = record.t / 1000 / speed - (time.monotonic() - started)
                    if delay > 0:
                        await asyncio.sleep(delay)
                if isinstance(record, SignRecord):
                    self._dispatch.emit(ConnectEvent(self.unique_id, record.room_id))
                    connected = True
                    received = session.receive_fetch_result(record.body)
                    if self.config.process_initial_messages:
                        self._dispatch.deliver(b"", received)
                elif record.direction == "in":
                    self._dispatch.deliver(record.data, session.receive(record.data))
        finally:
            self._dispatch.close_streams()
            if connected:
                self._dispatch.emit(DisconnectEvent(None, "stream ended" if session.ended else "end of recording"))
            await self._emitter.drain()


async def _nothing() -> None:
    """The reader task of a connect that ended before it began (``disconnect()`` while connecting)."""
