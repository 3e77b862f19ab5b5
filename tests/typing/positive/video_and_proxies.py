"""Typed use of video recording and proxies, as users write it. `make typecheck` runs mypy --strict on this file."""

from __future__ import annotations

from pathlib import Path
from typing import assert_type

from tiktok_live import (
    MissingExtraError,
    TikTokLiveClient,
    VideoError,
    VideoProgress,
    VideoQualityError,
    VideoRecording,
    VideoSegment,
    VideoStop,
)
from tiktok_live.pool import ProxyState, RoomPool


async def record(client: TikTokLiveClient) -> None:
    """Record, read the result, handle the typed errors."""

    def show(progress: VideoProgress) -> None:
        assert_type(progress.size, int)
        assert_type(progress.elapsed, float)

    try:
        recording = await client.record_video(Path("live.flv"), "hd", 60.0, on_progress=show)
    except VideoQualityError as error:
        assert_type(error.offered, tuple[str, ...])
        recording = await client.record_video("live.flv", error.offered[0], overwrite=True)
    except VideoError as error:
        assert_type(error.retryable, bool)
        return
    assert_type(recording, VideoRecording)
    assert_type(recording.stopped, VideoStop | None)
    for segment in recording.segments:
        assert_type(segment, VideoSegment)
        assert_type(segment.path, Path)
        assert_type(segment.dropped, bool)
    assert_type(recording.resumes, int)


def proxies() -> None:
    """A SOCKS proxy on a client; several on a pool."""
    try:
        TikTokLiveClient("@someone", proxy="socks5h://user:secret@127.0.0.1:1080")
    except MissingExtraError as error:
        assert_type(error.extra, str)
    pool = RoomPool(proxies=["socks5://127.0.0.1:1080", "http://127.0.0.1:3128"], proxy_failures=2)
    for state in pool.proxies:
        assert_type(state, ProxyState)
        assert_type(state.is_benched, bool)
        assert_type(state.name, str)
