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
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from tiktok_live.errors import RecordingError, RecordingWriteError

__all__ = [
    "DEFAULT_MAX_LINE_SIZE",
    "FORMAT",
    "MAX_GAP",
    "MAX_T",
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
"""The ``format`` value of a recording's header line."""
VERSION: Final = 1
"""The recording format version this library writes and reads (a new number is an incompatible change)."""
REDACTED: Final = "<redacted>"
FLUSH_EVERY: Final = 1.0
"""Seconds between sync flushes of a recording being written."""
DEFAULT_MAX_LINE_SIZE: Final = 16 * 1024 * 1024
"""The longest line :func:`read_recording` accepts, in bytes: a frame line holds a WebSocket message in base64, and
the client refuses messages over 8 MiB unless told otherwise (``max_frame_size``)."""
MAX_GAP: Final = 60_000
"""Milliseconds: a longer gap between two records is shortened to this when reading. Nothing in a live session is
silent that long (heartbeats go out every few seconds; the watchdog gives up after 30 s), so a longer one comes
from an edited or damaged file, and replaying it as written could wait for hours or forever."""
MAX_T: Final = 366 * 24 * 3600 * 1000
"""The largest ``t`` accepted (ms since the header: a year)."""
_MAX_CREATED_AT: Final = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, in ms
_MAX_ROOM_ID: Final = 2**64 - 1

Direction = Literal["in", "out"]


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


def read_recording(path: str | Path, *, max_line_size: int = DEFAULT_MAX_LINE_SIZE) -> Recording:
    """Parse a recording; raises RecordingError, naming the line, for anything that is not a valid version-1
    recording: damaged gzip, a line that is not UTF-8 JSON or longer than ``max_line_size`` bytes, a field of the
    wrong type or out of range, times that go backwards.

    The file is read line by line, so memory stays within about twice ``max_line_size`` beyond the records
    themselves. A gap longer than :data:`MAX_GAP` ms between two records is shortened to it (with a warning), so
    a replay never waits longer than that for the next record. A file cut off by a crash yields its complete lines
    (with a warning)."""
    path = Path(path)
    if max_line_size < 1:
        raise ValueError("max_line_size must be positive")
    lines = _lines(path, max_line_size)
    first = next(lines, None)
    if first is None or first[1].get("format") != FORMAT:
        raise RecordingError(f"{path} is not a {FORMAT} file (line 1 is not its header)")
    header = first[1]
    version = header.get("version")
    if isinstance(version, bool) or version != VERSION:
        newer = isinstance(version, int) and not isinstance(version, bool) and version > VERSION
        hint = ": upgrade tiktok-live to read it" if newer else ""
        raise RecordingError(f"{path} is version {_show(version)} (line 1); this library reads version {VERSION}{hint}")
    where = f"{path}: line 1"
    unique_id = header.get("unique_id", "")
    cookies_redacted = header.get("cookies_redacted", True)
    if not isinstance(unique_id, str):
        raise RecordingError(f"{where}: unique_id must be a string, not {_show(unique_id)}")
    if not isinstance(cookies_redacted, bool):
        raise RecordingError(f"{where}: cookies_redacted must be true or false, not {_show(cookies_redacted)}")
    created_at = _integer(header.get("created_at", 0), "created_at (ms since the epoch)", _MAX_CREATED_AT, where)
    records: list[SignRecord | FrameRecord] = []
    last = removed = shortened = 0  # the previous record's t as written; ms cut from long gaps so far
    for number, line in lines:
        where = f"{path}: line {number}"
        kind = line.get("kind")
        if kind not in ("sign", "frame"):
            continue  # a kind this version does not know: ignored, as the format says
        t = _integer(line.get("t", 0), "t (ms since the header)", MAX_T, where)
        if t < last:
            raise RecordingError(f"{where}: t goes backwards (from {last} to {t} ms); the file was edited or damaged")
        if t - last > MAX_GAP:
            removed += t - last - MAX_GAP
            shortened += 1
        last = t
        records.append(_record(kind, line, t - removed, where))
    if shortened:
        logger.warning(
            "%s: %d silences longer than %d s between records were shortened to %d s each",
            path,
            shortened,
            MAX_GAP // 1000,
            MAX_GAP // 1000,
        )
    return Recording(
        unique_id=unique_id, created_at=created_at, cookies_redacted=cookies_redacted, records=tuple(records)
    )


def _lines(path: Path, max_line_size: int) -> Iterator[tuple[int, dict[str, object]]]:
    """``(line number, JSON object)`` for each complete line, read one at a time (at most ``max_line_size`` bytes
    each): memory never holds more than one line, however large the file or the line it claims to have."""
    number = 0
    try:
        with gzip.open(path, "rb") as handle:
            while True:
                number += 1
                line = handle.readline(max_line_size + 1)
                if not line:
                    return
                if not line.endswith(b"\n"):
                    if len(line) > max_line_size:
                        raise RecordingError(
                            f"{path}: line {number} is longer than {max_line_size} bytes: damaged, or holding larger "
                            f"frames than usual (then pass a larger max_line_size)"
                        )
                    logger.warning("%s: line %d is cut off (the recorder stopped abruptly); ignored", path, number)
                    return
                yield number, _json(line, f"{path}: line {number}")
    except FileNotFoundError as error:
        raise RecordingError(f"no recording at {path}") from error
    except EOFError:
        # Cut off mid-stream (a crash while recording): keep the complete lines before it.
        if number <= 1:
            raise RecordingError(f"{path} is an empty or cut-off recording (it ends in line 1)") from None
        logger.warning(
            "%s ends abruptly in line %d (the recorder stopped); reading the %d complete lines",
            path,
            number,
            number - 1,
        )
    except (OSError, zlib.error) as error:  # gzip.BadGzipFile is an OSError; a damaged deflate stream a zlib.error
        raise RecordingError(f"{path} is not a readable gzip recording (at line {number}: {error})") from error


def _json(line: bytes, where: str) -> dict[str, object]:
    try:
        record = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise RecordingError(f"{where} is not UTF-8 text ({error.reason} at byte {error.start})") from error
    except RecursionError:
        raise RecordingError(f"{where} is JSON nested too deeply to be a record") from None
    except ValueError as error:  # JSONDecodeError, and integers beyond Python's digit limit
        raise RecordingError(f"{where} is not JSON ({_clip(str(error))})") from error
    if not isinstance(record, dict):
        raise RecordingError(f"{where} is not a JSON object")
    return record


def _record(kind: str, line: dict[str, object], t: int, where: str) -> SignRecord | FrameRecord:
    """One sign or frame record (``t`` checked and adjusted by the caller)."""
    if kind == "sign":
        room_id = line.get("room_id", "0")
        if isinstance(room_id, str) and room_id.isascii() and room_id.isdigit() and len(room_id) <= 20:
            room_id = int(room_id)  # written as a string: JSON readers lose precision on 64-bit numbers
        cookies = line.get("cookies", {})
        if not isinstance(cookies, dict) or not all(isinstance(value, str) for value in cookies.values()):
            raise RecordingError(f"{where}: cookies must be an object of strings")
        return SignRecord(
            t=t,
            room_id=_integer(room_id, "room_id", _MAX_ROOM_ID, where),
            body=_b64(line.get("body"), "body", where),
            cookies={str(key): value for key, value in cookies.items()},
        )
    direction = line.get("dir")
    if direction not in ("in", "out"):
        raise RecordingError(f"{where}: frame direction must be 'in' or 'out', not {_show(direction)}")
    return FrameRecord(t=t, direction=direction, data=_b64(line.get("data"), "data", where))


def _integer(value: object, name: str, high: int, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise RecordingError(f"{where}: {name} must be an integer from 0 to {high}, not {_show(value)}")
    return value


def _b64(value: object, name: str, where: str) -> bytes:
    if not isinstance(value, str):
        raise RecordingError(f"{where}: {name} must be a base64 string, not {_show(value)}")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError as error:
        raise RecordingError(f"{where}: {name} is not valid base64") from error


def _show(value: object) -> str:
    """A value for an error message, cut short (a hostile file may hold megabytes in one field)."""
    return _clip(json.dumps(value) if isinstance(value, str | int | float | bool | None) else type(value).__name__)


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else f"{text[:limit]}…"
