"""JSON Lines sink: one line per event on stdout or in a file (appended)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO, Unpack

from tiktok_live.export._sink import PermanentSinkError, Record, Sink, SinkOptions

__all__ = ["JsonLinesSink"]


class JsonLinesSink(Sink):
    """Writes every record as one line (schema v1) to ``target``: ``"-"`` for stdout, a path (appended to, created
    if missing; UTF-8, LF), or an open text stream (never closed by the sink). Lines are flushed per batch.

    A file that cannot be opened (missing folder, no permission) or a pipe whose reader went away
    (``BrokenPipeError``) fails the sink for good (:attr:`~tiktok_live.export.Sink.failure`): what is pending and what
    comes later is dropped and counted.
    """

    def __init__(self, target: str | Path | TextIO = "-", **options: Unpack[SinkOptions]) -> None:
        name = "-" if target == "-" else str(target) if isinstance(target, str | Path) else "<stream>"
        super().__init__(name, **options)
        self.target = target
        self._file: TextIO | None = None
        self._owns_file = False

    async def connect(self) -> None:
        """Open the file (append) on first use; stdout and given streams are used as they are."""
        if self._file is not None:
            return
        if self.target == "-":
            self._file = sys.stdout
        elif isinstance(self.target, str | Path):
            try:
                self._file = await asyncio.to_thread(_open_append, Path(self.target))
            except OSError as error:  # a missing folder or no permission does not heal by retrying
                raise PermanentSinkError(f"cannot open {self.name}: {error.strerror or error}") from error
            self._owns_file = True
        else:
            self._file = self.target

    async def write(self, batch: Sequence[Record]) -> None:
        """Write and flush the lines of ``batch``."""
        file = self._file
        if file is None:
            raise ConnectionError("not open")
        try:
            file.write("".join(record.line + "\n" for record in batch))
            file.flush()
        except BrokenPipeError as error:
            raise PermanentSinkError(f"the reader of {self.name} went away") from error

    async def disconnect(self) -> None:
        """Close the file if the sink opened it; flush otherwise."""
        file, self._file = self._file, None
        if file is None:
            return
        if self._owns_file:
            file.close()
        else:
            try:
                file.flush()
            except (BrokenPipeError, ValueError):
                return


def _open_append(path: Path) -> TextIO:
    return path.open("a", encoding="utf-8", newline="\n")
