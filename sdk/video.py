"""Recording a LIVE's video: the FLV stream over HTTP, saved as it comes (``TikTokLiveClient.record_video``).

The pull URLs come from the room info (``/webcast/room/info/``), in two forms: ``data.stream_url.flv_pull_url``
maps FULL_HD1, HD1, SD1 and SD2 to URLs, and ``data.stream_url.live_core_sdk_data.pull_data.stream_data`` is a
JSON *string* whose ``data`` maps the qualities origin, uhd, hd, sd, ld and ao (audio only) to
``{"main": {"flv": url, "hls": url}}``. :func:`flv_urls` reads both into one mapping (FULL_HD1 is uhd, HD1 hd,
SD1 sd, SD2 ld), as ``RoomInfo.stream_urls`` does.

The download needs no ffmpeg: the FLV bytes are written as they arrive, to ``<name>.part``, and an
:class:`FlvScanner` follows the tags, so that whenever the segment ends (the LIVE ended, the duration is reached,
the download dropped, the task was cancelled) the file is cut after its last whole tag, flushed to disk and only
then renamed to its final name. A crash leaves a ``.part`` file, never one that looks complete. A dropped download
whose LIVE goes on resumes into the next numbered segment (``live.flv``, ``live.002.flv``, …), each a whole FLV
file; the :class:`VideoRecording` lists them. With ``remux=True`` and ffmpeg on PATH each segment is then copied
into an MP4 container (``ffmpeg -c copy``; no re-encoding).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import math
import os
import random
import shutil
import struct
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Final

import aiohttp

from tiktok_live._config import ClientConfig
from tiktok_live._http import host_of, safe_error
from tiktok_live._info import LEGACY_QUALITIES, QUALITIES, parse_stream_urls
from tiktok_live._lookup import RoomLookup
from tiktok_live._proxy import new_session
from tiktok_live.errors import TikTokLiveError, VideoError, VideoQualityError

__all__ = [
    "LEGACY_QUALITIES",
    "QUALITIES",
    "FlvScanner",
    "VideoProgress",
    "VideoRecording",
    "VideoSegment",
    "VideoStop",
    "flv_urls",
    "pick_quality",
    "segment_path",
]

logger = logging.getLogger("tiktok_live.video")

FLV_SIGNATURE: Final = b"FLV"
_HEADER_SIZE: Final = 13  # the 9-byte header and the first previous-tag size
_TAG_HEADER: Final = 11
_MEDIA_TAGS: Final = frozenset({8, 9})
_CHUNK: Final = 64 * 1024


# ── the pull URLs ────────────────────────────────────────────────────────────────────────────────────────────


def flv_urls(room_data: Mapping[str, object]) -> dict[str, str]:
    """The FLV pull URLs of a room info's ``data`` object, by quality name (best first), from both forms: those of
    :attr:`RoomInfo.stream_urls <tiktok_live.RoomInfo.stream_urls>` that have an FLV URL.

    Tolerant: either form may be absent or malformed; entries that are not ``http(s)`` URLs are left out.
    """
    streams = parse_stream_urls(room_data.get("stream_url"))
    return {name: stream.flv for name, stream in streams.items() if stream.flv}


def pick_quality(urls: Mapping[str, str], quality: str) -> tuple[str, str]:
    """``(quality name, URL)`` for ``quality`` (a name of :data:`QUALITIES`, or a key of ``flv_pull_url`` such as
    FULL_HD1). ``origin`` falls back to the best quality offered when the room offers no origin stream.

    Raises :class:`~tiktok_live.errors.VideoQualityError` (listing the offered qualities) for one not offered,
    :class:`~tiktok_live.errors.VideoError` when the room offers none at all."""
    if not urls:
        raise VideoError(
            "the room info names no FLV stream (TikTok may hide it from visitors who are not logged in: pass a "
            "session_id, or try again when the LIVE has started)"
        )
    wanted = LEGACY_QUALITIES.get(quality, quality)
    if wanted in urls:
        return wanted, urls[wanted]
    if wanted == "origin":
        best = next((name for name in urls if name != "ao"), next(iter(urls)))
        logger.info("the room offers no origin stream; recording %s, the best offered", best)
        return best, urls[best]
    raise VideoQualityError(quality, tuple(urls))


# ── following an FLV stream ──────────────────────────────────────────────────────────────────────────────────


class FlvScanner:
    """Follows an FLV byte stream chunk by chunk without keeping it: where the last whole tag ends (``complete``,
    counting its previous-tag size), how many tags came, and the media timeline.

    :meth:`feed` raises ValueError when the stream does not start as FLV."""

    __slots__ = ("_head", "_need", "_skip", "_started", "_timestamp", "complete", "first_ms", "last_ms", "size", "tags")

    def __init__(self) -> None:
        self.size = 0
        """Bytes fed so far."""
        self.complete = 0
        """Offset just past the last whole tag (0 until the header is whole; then at least 13)."""
        self.tags = 0
        """Whole tags so far (script data included)."""
        self.first_ms: int | None = None
        """Timestamp of the first whole audio or video tag (ms)."""
        self.last_ms: int | None = None
        """Timestamp of the last whole audio or video tag (ms)."""
        self._head = bytearray()
        self._need = _HEADER_SIZE
        self._skip = 0
        self._started = False
        self._timestamp = 0

    @property
    def media_seconds(self) -> float:
        """The media time between the first and the last whole audio/video tag, in seconds."""
        if self.first_ms is None or self.last_ms is None:
            return 0.0
        return max(0, self.last_ms - self.first_ms) / 1000

    def feed(self, chunk: bytes) -> None:
        """Account for the next bytes of the stream."""
        index, length = 0, len(chunk)
        while index < length:
            if self._skip:
                take = min(self._skip, length - index)
                index += take
                self._skip -= take
                if not self._skip:
                    self._tag_done(self.size + index)
                continue
            take = min(self._need - len(self._head), length - index)
            self._head += chunk[index : index + take]
            index += take
            if len(self._head) == self._need:
                self._header_done()
        self.size += length

    def _header_done(self) -> None:
        head = bytes(self._head)
        self._head.clear()
        if not self._started:
            if head[:3] != FLV_SIGNATURE:
                raise ValueError(f"not an FLV stream (it starts with {head[:8]!r})")
            offset = struct.unpack(">I", head[5:9])[0]
            if offset < 9:
                raise ValueError(f"not an FLV stream (header size {offset})")
            self._started = True
            self._need = _TAG_HEADER
            self._skip = offset - 9  # a longer header (never seen) is skipped
            if not self._skip:
                self.complete = _HEADER_SIZE
            return
        kind = head[0] & 0x1F
        size = int.from_bytes(head[1:4], "big")
        timestamp = int.from_bytes(head[4:7], "big") | head[7] << 24
        self._timestamp = timestamp if kind in _MEDIA_TAGS else -1
        self._skip = size + 4

    def _tag_done(self, end: int) -> None:
        if self.complete == 0:  # the end of an over-long header
            self.complete = end
            return
        self.complete = end
        self.tags += 1
        if self._timestamp >= 0:
            if self.first_ms is None:
                self.first_ms = self._timestamp
            self.last_ms = self._timestamp


# ── results ──────────────────────────────────────────────────────────────────────────────────────────────────


class VideoStop(enum.Enum):
    """Why a recording stopped."""

    LIVE_ENDED = "live ended"
    """The LIVE ended (the stream ended and the room is no longer live)."""
    DURATION = "duration"
    """The requested duration was reached."""


@dataclass(frozen=True, slots=True)
class VideoSegment:
    """One saved file of a recording: a whole FLV (or, remuxed, MP4) file."""

    path: Path
    """Where it is."""
    size: int
    """Bytes of FLV saved (before any remux)."""
    tags: int
    """FLV tags saved (script data, audio and video)."""
    media_seconds: float
    """Media time from the first to the last audio/video tag."""
    dropped: bool
    """Whether the download dropped at its end (the next segment resumed the LIVE)."""


@dataclass(frozen=True, slots=True)
class VideoRecording:
    """What :meth:`~tiktok_live.TikTokLiveClient.record_video` saved: every segment in order, and why it stopped.

    More than one segment means the download dropped and resumed (``resumes`` times); between two segments the
    LIVE went on without being saved for a moment."""

    path: Path
    """The path asked for (the first segment's name, unless remuxed to MP4)."""
    quality: str
    """The quality recorded (e.g. ``origin``, or the best offered when asked for origin and none was)."""
    segments: tuple[VideoSegment, ...]
    """The saved files, in order (empty when nothing was received)."""
    stopped: VideoStop | None
    """Why it stopped (None: it failed; see the error that carries this recording)."""
    elapsed: float
    """Seconds from the first request to the end."""

    @property
    def size(self) -> int:
        """Bytes of FLV saved across all segments."""
        return sum(segment.size for segment in self.segments)

    @property
    def resumes(self) -> int:
        """How many times a dropped download resumed into a new segment."""
        return sum(segment.dropped for segment in self.segments)


@dataclass(frozen=True, slots=True)
class VideoProgress:
    """A recording's progress, given to ``on_progress`` as the bytes arrive."""

    size: int
    """Bytes saved so far (all segments)."""
    elapsed: float
    """Seconds since the recording started."""
    segment: int
    """The segment being written (1 for the first)."""
    media_seconds: float
    """Media time saved so far (all segments)."""


# ── recording ────────────────────────────────────────────────────────────────────────────────────────────────


def segment_path(path: Path, number: int) -> Path:
    """The file of segment ``number`` (1-based): ``path`` itself, then ``live.002.flv``, ``live.003.flv``, …"""
    if number == 1:
        return path
    return path.with_name(f"{path.stem}.{number:03d}{path.suffix}")


class _SegmentFile:
    """One segment being written: ``<name>.part``, every file operation on one worker thread (so in order, and
    the event loop never waits for the disk), cut after the last whole tag and renamed when it ends."""

    def __init__(self, target: Path, executor: ThreadPoolExecutor) -> None:
        self.target = target
        self.temp = target.with_name(target.name + ".part")
        self._executor = executor
        self._file: IO[bytes] | None = None

    async def _run(self, function: Callable[[], object]) -> object:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function)

    async def open(self) -> None:
        def open_file() -> None:
            self._file = self.temp.open("wb")

        await self._run(open_file)

    async def write(self, data: bytes) -> None:
        file = self._file
        if file is not None:
            await self._run(lambda: file.write(data))

    def _finish(self, keep: int) -> bool:
        file, self._file = self._file, None
        if file is None:
            return False
        try:
            file.flush()
            file.truncate(keep)
            os.fsync(file.fileno())
        finally:
            file.close()
        if keep <= _HEADER_SIZE:
            self.temp.unlink(missing_ok=True)
            return False
        os.replace(self.temp, self.target)
        return True

    async def finish(self, keep: int) -> bool:
        """Cut the file at ``keep`` bytes, flush it to disk and rename it (True); with no tag in it, delete it
        (False). Completes even when the caller is cancelled meanwhile (then the cancellation propagates)."""
        job = asyncio.get_running_loop().run_in_executor(self._executor, lambda: self._finish(keep))
        return bool(await asyncio.shield(job))


@dataclass(slots=True)
class _Attempt:
    segment: VideoSegment | None
    outcome: str  # "ended" (the server closed the stream), "dropped", "duration"
    detail: str


class _Recorder:
    def __init__(
        self,
        *,
        lookup: RoomLookup,
        session: aiohttp.ClientSession,
        config: ClientConfig,
        path: Path,
        duration: float | None,
        on_progress: Callable[[VideoProgress], object] | None,
    ) -> None:
        self.lookup = lookup
        self.session = session
        self.config = config
        self.path = path
        self.on_progress = on_progress
        self.loop = asyncio.get_running_loop()
        self.started = self.loop.time()
        self.deadline = self.started + duration if duration is not None else None
        self.segments: list[VideoSegment] = []
        self.saved = 0
        self.saved_media = 0.0
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tiktok-live video")

    def elapsed(self) -> float:
        return self.loop.time() - self.started

    def result(self, quality: str, stopped: VideoStop | None) -> VideoRecording:
        return VideoRecording(self.path, quality, tuple(self.segments), stopped, self.elapsed())

    async def download(self, url: str, number: int) -> _Attempt:
        """One GET of the stream into segment ``number``, until it ends, drops or the deadline passes."""
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.config.http_timeout, sock_read=self.config.watchdog_timeout
        )
        headers = {"User-Agent": self.config.user_agent, "Referer": "https://www.tiktok.com/"}
        scanner = FlvScanner()
        kept = 0  # bytes of whole tags that reached the file
        file = _SegmentFile(segment_path(self.path, number), self.executor)
        outcome, detail = "ended", "the server ended the stream"
        deadline = asyncio.timeout_at(self.deadline)
        try:
            async with deadline:
                async with self.session.get(
                    url, headers=headers, proxy=self.config.request_proxy, timeout=timeout
                ) as response:
                    if response.status != 200:
                        return _Attempt(None, "dropped", f"the stream answered HTTP {response.status}")
                    await file.open()
                    async for chunk in response.content.iter_chunked(_CHUNK):
                        try:
                            scanner.feed(chunk)
                        except ValueError as error:
                            raise VideoError(
                                f"the stream at {host_of(url)} is not FLV ({error}): TikTok may have answered a "
                                "block page; try again later, or another quality"
                            ) from None
                        await file.write(chunk)
                        kept = scanner.complete
                        self._progress(scanner, number)
        except TimeoutError as error:
            if deadline.expired():
                outcome, detail = "duration", "the duration was reached"
            else:
                outcome, detail = "dropped", f"no data for {self.config.watchdog_timeout:g} s ({safe_error(error)})"
        except (aiohttp.ClientError, ConnectionError) as error:
            outcome, detail = "dropped", safe_error(error)
        finally:
            saved = await file.finish(kept)  # also on cancellation and errors: the file is whole up to here
            segment = None
            if saved:
                segment = VideoSegment(file.target, kept, scanner.tags, scanner.media_seconds, dropped=False)
                self.segments.append(segment)
                self.saved += kept
                self.saved_media += scanner.media_seconds
        return _Attempt(segment, outcome, detail)

    def _progress(self, scanner: FlvScanner, number: int) -> None:
        if self.on_progress is None:
            return
        progress = VideoProgress(
            self.saved + scanner.size, self.elapsed(), number, self.saved_media + scanner.media_seconds
        )
        try:
            self.on_progress(progress)
        except Exception:  # a failing callback must not stop the recording
            logger.exception("on_progress failed; it is called no more")
            self.on_progress = None

    def mark_dropped(self) -> None:
        if self.segments:
            self.segments[-1] = replace(self.segments[-1], dropped=True)

    async def still_live(self, room_id: int) -> bool:
        """Whether the LIVE goes on: the live check says so, or cannot tell (then trying again decides)."""
        try:
            alive = await self.lookup.check_alive([room_id])
        except TikTokLiveError as error:
            logger.info("live check failed (%s); assuming the LIVE goes on", error)
            return True
        return alive.get(room_id, True)

    async def fresh_url(self, room_id: int, quality: str, url: str) -> str:
        """The quality's URL from a new room info (pull URLs are signed and expire); ``url`` when that fails."""
        try:
            info = await self.lookup.room_info(room_id)
        except TikTokLiveError as error:
            logger.info("room info failed (%s); resuming with the previous URL", error)
            return url
        return flv_urls(info.raw).get(quality, url)


async def record_video(
    *,
    unique_id: str,
    config: ClientConfig,
    cookies: Mapping[str, str],
    session: aiohttp.ClientSession | None,
    room_id: int | None,
    path: str | os.PathLike[str],
    quality: str,
    duration: float | None,
    remux: bool,
    overwrite: bool,
    on_progress: Callable[[VideoProgress], object] | None,
    rng: random.Random | None = None,
) -> VideoRecording:
    """Record the host's LIVE video to ``path`` (see :meth:`~tiktok_live.TikTokLiveClient.record_video`).
    ``session``: the client's own session when the user gave one, else None (a session is made and closed here)."""
    target = Path(path)
    _check_arguments(target, quality, duration, remux, overwrite)
    flv_target = target.with_suffix(".flv") if remux else target
    owned = session is None
    http = session if session is not None else new_session(config.proxy, timeout=config.http_timeout)
    lookup = RoomLookup(unique_id, config, lambda: http, cookies)
    recorder: _Recorder | None = None
    try:
        room = room_id if room_id is not None else await lookup.resolve_room_id()
        info = await lookup.room_info(room)
        chosen, url = pick_quality(flv_urls(info.raw), quality)
        recorder = _Recorder(
            lookup=lookup, session=http, config=config, path=flv_target, duration=duration, on_progress=on_progress
        )
        logger.info("recording @%s (room %d, %s from %s) to %s", unique_id, room, chosen, host_of(url), flv_target)
        try:
            stopped = await _record(recorder, room, chosen, url, config, rng or random.Random())
        except VideoError as error:
            if error.recording is None:  # what was saved before the failure goes with it
                error.recording = recorder.result(chosen, None)
            raise
        if remux:
            recorder.segments[:] = [await _remux(segment) for segment in recorder.segments]
        result = recorder.result(chosen, stopped)
        logger.info(
            "recorded @%s: %d segment(s), %d bytes (%s)", unique_id, len(result.segments), result.size, stopped.value
        )
        return result
    finally:
        if recorder is not None:
            recorder.executor.shutdown(wait=False)
        if owned:
            await http.close()


async def _record(
    recorder: _Recorder, room_id: int, quality: str, url: str, config: ClientConfig, rng: random.Random
) -> VideoStop:
    policy = config.reconnect_policy
    failures = 0
    number = 1
    while True:
        began = recorder.loop.time()
        attempt = await recorder.download(url, number)
        if attempt.outcome == "duration":
            return VideoStop.DURATION
        if not await recorder.still_live(room_id):
            return VideoStop.LIVE_ENDED
        segment = attempt.segment
        # As for the WebSocket: only downloads that die early (few tags, short-lived) count as failures in a row.
        lasted = segment is not None and (
            segment.tags >= policy.reset_after_frames or recorder.loop.time() - began >= policy.reset_after
        )
        failures = 0 if lasted else failures + 1
        if segment is not None:
            number += 1
        if not policy.enabled or failures > policy.max_attempts:
            tried = "reconnecting is off" if not policy.enabled else f"{failures} downloads in a row failed early"
            raise VideoError(
                f"the video download of the LIVE stopped ({attempt.detail}) and {tried}; what was saved is in "
                f"error.recording ({len(recorder.segments)} segment(s)). Try again, or allow more attempts with "
                "ReconnectPolicy(max_attempts=...)",
                recording=recorder.result(quality, None),
                retryable=True,
            )
        recorder.mark_dropped()
        logger.warning(
            "the video download dropped (%s) but the LIVE goes on: resuming into %s",
            attempt.detail,
            segment_path(recorder.path, number).name,
        )
        if failures:
            delay = policy.delay(failures, rng)
            if recorder.deadline is not None:
                delay = min(delay, max(0.0, recorder.deadline - recorder.loop.time()))
            await asyncio.sleep(delay)
        if recorder.deadline is not None and recorder.loop.time() >= recorder.deadline:
            return VideoStop.DURATION
        url = await recorder.fresh_url(room_id, quality, url)


def _check_arguments(path: Path, quality: str, duration: float | None, remux: bool, overwrite: bool) -> None:
    if not quality:
        raise ValueError("quality must be a quality name such as 'origin', 'hd' or 'sd'")
    if duration is not None and not (math.isfinite(duration) and duration > 0):
        raise ValueError("duration must be a positive number of seconds (or None: until the LIVE ends)")
    if path.suffix.lower() == ".mp4" and not remux:
        raise ValueError(f"{path.name}: the stream is FLV; name the file .flv, or pass remux=True for an MP4")
    if not path.parent.is_dir():
        raise VideoError(f"cannot record to {path}: the folder {path.parent} does not exist")
    if remux and shutil.which("ffmpeg") is None:
        raise VideoError("remux=True needs ffmpeg on PATH: install ffmpeg, or record FLV (remux=False)")
    flv = path.with_suffix(".flv") if remux else path
    names = (path, flv, segment_path(flv, 2), flv.with_suffix(".mp4") if remux else flv)
    taken = [p for p in names if p.exists()]
    if taken and not overwrite:
        raise VideoError(f"{taken[0]} already exists: choose another name, or pass overwrite=True")


async def _remux(segment: VideoSegment) -> VideoSegment:
    """Copy ``segment`` into an MP4 container with ffmpeg (no re-encoding); the FLV is removed when that worked,
    kept (with a warning) when it did not."""
    target = segment.path.with_suffix(".mp4")
    temp = target.with_name(target.name + ".part")
    command = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", str(segment.path)]
    command += ["-c", "copy", "-f", "mp4", str(temp)]
    process = await asyncio.create_subprocess_exec(
        *command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    try:
        _, errors = await process.communicate()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        temp.unlink(missing_ok=True)
        raise
    if process.returncode != 0 or not temp.exists():
        temp.unlink(missing_ok=True)
        text = errors.decode("utf-8", "replace").strip().splitlines()
        logger.warning(
            "ffmpeg could not remux %s (exit %s: %s); the FLV is kept",
            segment.path.name,
            process.returncode,
            text[-1] if text else "no message",
        )
        return segment
    os.replace(temp, target)
    segment.path.unlink(missing_ok=True)
    return replace(segment, path=target)
