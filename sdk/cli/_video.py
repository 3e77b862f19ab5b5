"""``tiktok-live video @user FILE``: record the LIVE's video (FLV; MP4 with ``--remux`` and ffmpeg).

Wired into :mod:`tiktok_live.cli` by :func:`register` (adds the subcommand) and :func:`run` (the runner). On a terminal
a progress line (size, rate, elapsed, segment) is redrawn on stderr; the end (the LIVE's end, ``--duration`` or
Ctrl-C, which finishes the file properly) prints what was saved.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final, TextIO

from tiktok_live.errors import UsageError, VideoQualityError

if TYPE_CHECKING:
    from tiktok_live.cli._output import Printer
    from tiktok_live.video import VideoProgress, VideoRecording

__all__ = ["ProgressLine", "format_size", "register", "run"]

_REDRAW: Final = 0.5


def _duration(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not (math.isfinite(seconds) and seconds > 0):
        raise argparse.ArgumentTypeError("the duration is a positive number of seconds")
    return seconds


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``video`` subcommand to ``tiktok-live``'s subparsers (its runner is :func:`run`)."""
    from tiktok_live.cli._options import connection_options

    video = commands.add_parser(
        "video",
        help="record the LIVE's video to FILE (FLV, or MP4 with --remux)",
        description="Record the LIVE's video stream (FLV over HTTP, no ffmpeg needed) until the LIVE ends, "
        "--duration passes, or Ctrl-C (which finishes the file). A dropped download resumes into FILE's next "
        "numbered segment (live.002.flv, ...).",
    )
    video.add_argument("user", help="@handle of the host")
    video.add_argument("file", type=Path, help="the file to write (e.g. live.flv)")
    video.add_argument(
        "--quality",
        default="origin",
        help="origin (default; the best offered when there is no origin stream), uhd, hd, sd, ld or ao (audio only)",
    )
    video.add_argument("--duration", type=_duration, default=None, metavar="SECONDS", help="stop after this long")
    video.add_argument("--remux", action="store_true", help="copy each segment into an MP4 afterwards (needs ffmpeg)")
    video.add_argument("--overwrite", action="store_true", help="replace FILE (and its segments) if it exists")
    connection_options(video)
    video.set_defaults(json=False, summary=False)  # no events to print or count


def format_size(size: float) -> str:
    """``size`` bytes as B, KiB, MiB or GiB."""
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.2f} GiB"


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


class ProgressLine:
    """The progress line on a terminal (``err``): size, rate, elapsed and segment, redrawn at most twice a second.
    Off (draws nothing) when ``enabled`` is False."""

    def __init__(self, err: TextIO, *, enabled: bool) -> None:
        self.err = err
        self.enabled = enabled
        self.last: VideoProgress | None = None
        self._drawn = 0.0
        self._visible = False

    def update(self, progress: VideoProgress) -> None:
        """Take the latest progress; redraw when due."""
        self.last = progress
        now = time.monotonic()
        if self.enabled and now - self._drawn >= _REDRAW:
            self._drawn = now
            self.err.write("\r\x1b[2K" + self.text(progress))
            self.err.flush()
            self._visible = True

    @staticmethod
    def text(progress: VideoProgress) -> str:
        """``12.3 MiB  1.1 MiB/s  00:01:23  segment 2``."""
        rate = progress.size / progress.elapsed if progress.elapsed > 0 else 0.0
        segment = f"  segment {progress.segment}" if progress.segment > 1 else ""
        return f"recording {format_size(progress.size)}  {format_size(rate)}/s  {_clock(progress.elapsed)}{segment}"

    def clear(self) -> None:
        """Remove the line."""
        if self._visible:
            self.err.write("\r\x1b[2K")
            self.err.flush()
            self._visible = False


def _report(recording: VideoRecording) -> str:
    lines = [
        f"saved {format_size(recording.size)} of {recording.quality} video in {_clock(recording.elapsed)} "
        f"({recording.stopped.value if recording.stopped else 'failed'}):"
    ]
    for segment in recording.segments:
        note = " (dropped; resumed in the next file)" if segment.dropped else ""
        lines.append(f"  {segment.path}  {format_size(segment.size)}, {segment.media_seconds:.1f} s{note}")
    if not recording.segments:
        lines.append("  nothing was received")
    return "\n".join(lines) + "\n"


async def run(args: argparse.Namespace, printer: Printer) -> int:
    """Run ``tiktok-live video``: record until the LIVE ends, ``--duration`` or Ctrl-C."""
    from tiktok_live.cli._commands import make_client, maybe_simulator
    from tiktok_live.cli._common import EXIT_OK
    from tiktok_live.errors import VideoError
    from tiktok_live.video import VideoRecording

    progress = ProgressLine(printer.err, enabled=printer.err.isatty())  # no colour in it: NO_COLOR does not matter
    async with maybe_simulator(args) as simulator:
        client = make_client(args, simulator)
        try:
            recording = await client.record_video(
                args.file,
                args.quality,
                args.duration,
                remux=args.remux,
                overwrite=args.overwrite,
                on_progress=progress.update,
            )
        except VideoQualityError as error:
            raise UsageError(str(error)) from None
        except VideoError as error:
            progress.clear()
            saved = error.recording
            if isinstance(saved, VideoRecording) and saved.segments:
                printer.err.write(_report(saved))
            raise
        except asyncio.CancelledError:  # Ctrl-C: the file was finished before the cancellation got here
            progress.clear()
            last = progress.last
            if last is not None:
                printer.err.write(f"stopped: saved {format_size(last.size)} to {args.file} (and its segments)\n")
            raise
        progress.clear()
    printer.err.write(_report(recording))
    return EXIT_OK
