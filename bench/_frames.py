"""Stdlib-only helpers shared by every bench process, including the TikTokLive peer (which has no tiktok_live).

The corpus file is a sequence of WebSocket binary messages (serialized push frames), each prefixed by its length
as a little-endian u32.
"""

from __future__ import annotations

import resource
import struct
import sys
from collections.abc import Iterable
from pathlib import Path

__all__ = ["read_frames", "rss_kib", "write_frames"]

_LENGTH = struct.Struct("<I")


def write_frames(path: Path, frames: Iterable[bytes]) -> None:
    """Write ``frames`` length-prefixed to ``path`` (atomically: a temp file renamed over it)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("wb") as out:
        for frame in frames:
            out.write(_LENGTH.pack(len(frame)))
            out.write(frame)
    tmp.replace(path)


def read_frames(path: Path) -> list[bytes]:
    """The frames of a corpus file, in order."""
    data = path.read_bytes()
    frames: list[bytes] = []
    position = 0
    while position < len(data):
        (size,) = _LENGTH.unpack_from(data, position)
        position += _LENGTH.size
        frames.append(data[position : position + size])
        position += size
    return frames


def rss_kib() -> tuple[int, int]:
    """``(current, peak)`` resident set size of this process in KiB (``VmRSS`` and ``ru_maxrss``)."""
    current = 0
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                current = int(line.split()[1])
                break
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform == "darwin":  # bytes there, KiB on Linux
        peak //= 1024
    return current, peak
