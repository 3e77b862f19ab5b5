"""Recordings: a LIVE session saved losslessly, to examine or replay later.

Format ``tiktok-live-recording`` version 1: gzip-compressed JSON Lines, UTF-8, one object per line.

1. Header: ``{"format": "tiktok-live-recording", "version": 1, "created_at": <ms since epoch>,
   "unique_id": "...", "cookies_redacted": true|false}``.
2. ``{"kind": "sign", "t": <ms since the header>, "room_id": "...", "body": "<base64>", "cookies": {...}}``: the
   sign server's bundle (a ``ProtoMessageFetchResult``) and the cookies it set, values ``"<redacted>"`` unless
   recorded with ``keep_cookies``. One line per (re)connect.
3. ``{"kind": "frame", "t": <ms>, "dir": "in"|"out", "data": "<base64>"}``: every WebSocket binary message, as
   sent or received (push frames: ``msg`` in; ``ack``, ``hb``, ``im_enter_room`` out).

Readers must ignore unknown keys and unknown ``kind`` values; a new version number means an incompatible change.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from tiktok_live.errors import TikTokLiveError

__all__ = [
    "FORMAT",
    "VERSION",
    "FrameRecord",
    "Recorder",
    "Recording",
    "RecordingError",
    "RecordingWriteError",
    "SignRecord",
    "read_recording",
]

logger = logging.getLogger(__name__)

FORMAT: Final = "tiktok-live-recording"
VERSION: Final = 1
REDACTED: Final = "<redacted>"
FLUSH_EVERY: Final = 1.0
"""Seconds between sync flushes of a recording being written."""

Direction = Literal["in", "out"]


class RecordingError(TikTokLiveError):
    """A recording file is missing, not a recording, of an unsupported version, or corrupt."""


class RecordingWriteError(RecordingError):
    """A recording could not be created or written (a missing folder, no permission, a full disk). Raised by the
    :class:`Recorder` and, from a client recording a session, by ``connect()``: the stream stops, and the file keeps
    the lines written before (readers skip a cut-off end)."""


class Recorder:
    """Writes a session to ``path`` as it happens (pass it to ``TikTokLiveClient(recorder=...)``).

    Cookies are redacted unless ``keep_cookies``; the file's header says which. Call :meth:`close` at the end
    (or use it as a context manager); every line is flushed to the gzip stream as written.
    """

    def __init__(self, path: str | Path, *, unique_id: str, keep_cookies: bool = False) -> None:
        self.path = Path(path)
        self.keep_cookies = keep_cookies
        self.frames = 0
        self._start = self._flushed = time.monotonic()
        self._failure: RecordingWriteError | None = None
        try:
            self._file = gzip.GzipFile(self.path, "wb")
        except OSError as error:
            raise RecordingWriteError(f"cannot create the recording {self.path}: {error.strerror or error}") from error
        self._write(
            {
                "format": FORMAT,
                "version": VERSION,
                "created_at": int(time.time() * 1000),
                "unique_id": unique_id,
                "cookies_redacted": not keep_cookies,
            }
        )

    def _elapsed(self) -> int:
        return int((time.monotonic() - self._start) * 1000)

    def _write(self, record: Mapping[str, object]) -> None:
        line = json.dumps(record, separators=(",", ":")).encode("utf-8") + b"\n"
        with self._writing():
            self._file.write(line)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Turn a failing write (a full disk) into a RecordingWriteError, raised again by every later write."""
        if self._failure is not None:
            raise self._failure
        try:
            yield
        except OSError as error:
            self._failure = RecordingWriteError(
                f"cannot write the recording {self.path}: {error.strerror or error}; it holds what was written before"
            )
            raise self._failure from error

    def sign(self, room_id: int, body: bytes, cookies: Mapping[str, str]) -> None:
        """Record a sign-server bundle and its cookies (redacted unless ``keep_cookies``)."""
        shown = dict(cookies) if self.keep_cookies else dict.fromkeys(cookies, REDACTED)
        self._write(
            {
                "kind": "sign",
                "t": self._elapsed(),
                "room_id": str(room_id),
                "body": base64.b64encode(body).decode("ascii"),
                "cookies": shown,
            }
        )

    def frame(self, direction: Direction, data: bytes) -> None:
        """Record one WebSocket binary message."""
        self.frames += 1
        self._write({"kind": "frame", "t": self._elapsed(), "dir": direction, "data": base64.b64encode(data).decode()})
        now = time.monotonic()
        if now - self._flushed >= FLUSH_EVERY:
            # A sync flush: a crash now loses at most the last second, and the file stays readable up to here.
            with self._writing():
                self._file.flush()
            self._flushed = now

    def close(self) -> None:
        """Finish the file; raises RecordingWriteError if its last bytes cannot be written (unless a write failed
        already: that was raised). Safe to call twice."""
        if self._file.closed:
            return
        if self._failure is not None:
            with contextlib.suppress(OSError):  # what was buffered cannot be written either: close all the same
                self._file.close()
            return
        with self._writing():
            self._file.close()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class SignRecord:
    """A recorded sign bundle."""

    t: int
    room_id: int
    body: bytes
    cookies: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class FrameRecord:
    """A recorded WebSocket message."""

    t: int
    direction: Direction
    data: bytes


@dataclass(frozen=True, slots=True)
class Recording:
    """A parsed recording: its header and its records in order."""

    unique_id: str
    created_at: int
    cookies_redacted: bool
    records: tuple[SignRecord | FrameRecord, ...]

    @property
    def room_id(self) -> int:
        """The room id of the first sign record (0 when there is none)."""
        return next((record.room_id for record in self.records if isinstance(record, SignRecord)), 0)


def _lines(path: Path) -> Iterator[dict[str, object]]:
    number = 0
    try:
        with gzip.open(path, "rb") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.endswith(b"\n"):
                    logger.warning("%s: the last line is cut off (the recorder stopped abruptly); ignored", path)
                    return
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    raise RecordingError(f"{path}: line {number} is not JSON") from error
                if not isinstance(record, dict):
                    raise RecordingError(f"{path}: line {number} is not a JSON object")
                yield record
    except FileNotFoundError as error:
        raise RecordingError(f"no recording at {path}") from error
    except EOFError:
        # Cut off mid-stream (a crash while recording): keep the complete lines before it.
        if number == 0:
            raise RecordingError(f"{path} is an empty or cut-off recording") from None
        logger.warning("%s ends abruptly after line %d (the recorder stopped); reading what is complete", path, number)
    except OSError as error:  # gzip.BadGzipFile is an OSError
        raise RecordingError(f"{path} is not a readable gzip recording: {error}") from error


def _b64(value: object, where: str) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except ValueError as error:
        raise RecordingError(f"{where}: invalid base64") from error


def read_recording(path: str | Path) -> Recording:
    """Parse a recording; raises RecordingError for anything that is not a valid version-1 recording."""
    path = Path(path)
    lines = _lines(path)
    header = next(lines, None)
    if header is None or header.get("format") != FORMAT:
        raise RecordingError(f"{path} is not a {FORMAT} file")
    if header.get("version") != VERSION:
        raise RecordingError(f"{path} is version {header.get('version')}; this library reads version {VERSION}")
    records: list[SignRecord | FrameRecord | None] = []
    for index, line in enumerate(lines, start=2):
        where = f"{path}: line {index}"
        try:
            records.append(_record(line, where))
        except ValueError as error:
            raise RecordingError(f"{where}: {error}") from error
    return Recording(
        unique_id=str(header.get("unique_id", "")),
        created_at=int(str(header.get("created_at", 0))),
        cookies_redacted=bool(header.get("cookies_redacted", True)),
        records=tuple(record for record in records if record is not None),
    )


def _record(line: dict[str, object], where: str) -> SignRecord | FrameRecord | None:
    """One record line; None for a kind this version does not know (ignored, as the format says)."""
    kind, t = line.get("kind"), int(str(line.get("t", 0)))
    if kind == "sign":
        cookies = line.get("cookies")
        return SignRecord(
            t=t,
            room_id=int(str(line.get("room_id", "0"))),
            body=_b64(line.get("body"), where),
            cookies={str(k): str(v) for k, v in cookies.items()} if isinstance(cookies, dict) else {},
        )
    if kind == "frame":
        direction = line.get("dir")
        if direction not in ("in", "out"):
            raise RecordingError(f"{where}: frame direction must be 'in' or 'out'")
        return FrameRecord(t=t, direction=direction, data=_b64(line.get("data"), where))
    return None
