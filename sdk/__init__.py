"""tiktok-live: TikTok LIVE events as fully typed Python objects.

Start with :class:`TikTokLiveClient`. Events live in :mod:`tiktok_live.events` (every message type TikTok
sends, plus derived and connection events);
errors in :mod:`tiktok_live.errors`, all under :class:`TikTokLiveError`.
"""

from typing import TYPE_CHECKING

from tiktok_live._base import BaseEvent, UnknownEvent
from tiktok_live.errors import (
    AgeRestrictedError,
    FleetError,
    FrameDecodeError,
    HandlerOverloadError,
    MissingExtraError,
    PermanentSinkError,
    ReconnectExhaustedError,
    RecordingError,
    RequestError,
    RoomIdNotFoundError,
    ScenarioError,
    SchemaSourceError,
    SignAPIError,
    SignAPIKeyError,
    SignatureRateLimitError,
    SnapshotError,
    TikTokLiveError,
    UsageError,
    UserNotFoundError,
    UserOfflineError,
    VideoError,
    VideoQualityError,
    WebcastBlockedError,
    WebSocketRejectedError,
)

if TYPE_CHECKING:
    from tiktok_live.client import ClientConfig, EventStream, ReconnectPolicy, RoomInfo, TikTokLiveClient
    from tiktok_live.video import VideoProgress, VideoRecording, VideoSegment, VideoStop

__version__ = "0.1.0"
"""The installed version of tiktok-live."""

# The client pulls in aiohttp and the schema (~0.2 s): it loads on first use so `import tiktok_live` stays fast.
_LAZY = frozenset({"ClientConfig", "EventStream", "ReconnectPolicy", "RoomInfo", "TikTokLiveClient"})
_LAZY_VIDEO = frozenset({"VideoProgress", "VideoRecording", "VideoSegment", "VideoStop"})


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from tiktok_live import client

        value: object = getattr(client, name)
        globals()[name] = value
        return value
    if name in _LAZY_VIDEO:
        from tiktok_live import video as _video

        found: object = getattr(_video, name)
        globals()[name] = found
        return found
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AgeRestrictedError",
    "BaseEvent",
    "ClientConfig",
    "EventStream",
    "FleetError",
    "FrameDecodeError",
    "HandlerOverloadError",
    "MissingExtraError",
    "PermanentSinkError",
    "ReconnectExhaustedError",
    "ReconnectPolicy",
    "RecordingError",
    "RequestError",
    "RoomIdNotFoundError",
    "RoomInfo",
    "ScenarioError",
    "SchemaSourceError",
    "SignAPIError",
    "SignAPIKeyError",
    "SignatureRateLimitError",
    "SnapshotError",
    "TikTokLiveClient",
    "TikTokLiveError",
    "UnknownEvent",
    "UsageError",
    "UserNotFoundError",
    "UserOfflineError",
    "VideoError",
    "VideoProgress",
    "VideoQualityError",
    "VideoRecording",
    "VideoSegment",
    "VideoStop",
    "WebSocketRejectedError",
    "WebcastBlockedError",
    "__version__",
]
