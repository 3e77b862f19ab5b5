"""JSON Lines sink: one line per event on stdout or in a file (appended)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO, Unpack

from tiktok_live.export._sink import PermanentSinkError, Record, Sink, SinkOptions
from tiktok_live.jsonl import escape_non_ascii, is_unicode_stream

__all__ = ["JsonLinesSink"]


class JsonLinesSink(Sink):
    """Writes every record as one line (schema v1) to ``target``: ``"-"`` for stdout, a path (appended to, created
    if missing; UTF-8, LF), or an open text stream (never closed by the sink). Lines are flushed per batch.

    A file that cannot be opened (missing folder, no permission) or a pipe whose reader went away
    (``BrokenPipeError``) fails the sink for good (:attr:`~tiktok_live.export.Sink.failure`): what is pending and what
    comes later is dropped and counted. A file gets each batch whole or not at all: when a write fails (a full
    disk), the file is cut back to where the batch began, so it never ends with half a line, and the batch is
    retried like any failed delivery. A stream that cannot encode UTF-8 (``PYTHONIOENCODING=ascii``) gets
    non-ASCII characters as JSON ``\\u`` escapes: the same values, still valid JSON.
    """

    def __init__(self, target: str | Path | TextIO = "-", **options: Unpack[SinkOptions]) -> None:
        name = "-" if target == "-" else str(target) if isinstance(target, str | Path) else "<stream>"
        super().__init__(name, **options)
        self.target = target
        self._file: TextIO | None = None
        self._owned: io.FileIO | None = None

    async def connect(self) -> None:
        """Open the file (append) on first use; stdout and given streams are used as they are."""
        if self._file is not None or self._owned is not None:
            return
        if self.target == "-":
            self._file = sys.stdout
        elif isinstance(self.target, str | Path):
            try:
                self._owned = await asyncio.to_thread(io.FileIO, Path(self.target), "a")
            except OSError as error:  # a missing folder or no permission does not heal by retrying
                raise PermanentSinkError(f"cannot open {self.name}: {error.strerror or error}") from error
        else:
            self._file = self.target

    async def write(self, batch: Sequence[Record]) -> None:
        """Write and flush the lines of ``batch`` (to a file: all of them or none)."""
        text = "".join(record.line + "\n" for record in batch)
        if self._owned is not None:
            _append_whole(self._owned, text.encode("utf-8"))
            return
        file = self._file
        if file is None:
            raise ConnectionError("not open")
        if not is_unicode_stream(file):
            text = escape_non_ascii(text)
        try:
            file.write(text)
            file.flush()
        except BrokenPipeError as error:
            raise PermanentSinkError(f"the reader of {self.name} went away") from error

    async def disconnect(self) -> None:
        """Close the file if the sink opened it; flush otherwise."""
        owned, self._owned = self._owned, None
        if owned is not None:
            owned.close()
        file, self._file = self._file, None
        if file is not None:
            try:
                file.flush()
            except (BrokenPipeError, ValueError):
                return


def _append_whole(file: io.FileIO, data: bytes) -> None:
    """Append ``data`` to ``file`` (opened for appending, unbuffered) entirely or not at all: when a write fails
    part way (a full disk, a file size limit), cut the file back to its length before, then raise."""
    start = os.fstat(file.fileno()).st_size
    view = memoryview(data)
    written = 0
    try:
        while written < len(data):
            written += file.write(view[written:]) or 0
    except OSError:
        with contextlib.suppress(OSError):  # cannot cut it back (not a regular file): nothing more to do
            os.ftruncate(file.fileno(), start)
        raise
