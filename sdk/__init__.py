"""tiktok-live: TikTok LIVE events as fully typed Python objects.

Start with :class:`TikTokLiveClient`. Events live in :mod:`tiktok_live.events` (every message type TikTok
sends, plus derived and connection events);
errors in :mod:`tiktok_live.errors`, all under :class:`TikTokLiveError`.
"""

from typing import TYPE_CHECKING

from tiktok_live._lazy import lazy_attributes
from tiktok_live.errors import (
    AgeRestrictedError,
    EventLoopRunningError,
    FleetError,
    FrameDecodeError,
    HandlerOverloadError,
    MissingExtraError,
    PermanentSinkError,
    ReconnectExhaustedError,
    RecordingError,
    RecordingWriteError,
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
    from tiktok_live._base import BaseEvent, UnknownEvent
    from tiktok_live.client import (
        ClientConfig,
        EventStream,
        GiftInfo,
        ReconnectPolicy,
        RoomInfo,
        RoomOwner,
        StreamURL,
        TikTokLiveClient,
        check_live,
    )
    from tiktok_live.video import VideoProgress, VideoRecording, VideoSegment, VideoStop

__version__ = "0.1.0"
"""The installed version of tiktok-live."""

# The client pulls in aiohttp and the schema (~0.2 s), the event base protobuf (~20 ms): they load on first use,
# so `import tiktok_live` (and the pytest plugin, loaded by every pytest run where tiktok-live is installed) stays
# fast.
_LAZY = {
    "BaseEvent": "tiktok_live._base",
    "UnknownEvent": "tiktok_live._base",
    "ClientConfig": "tiktok_live.client",
    "EventStream": "tiktok_live.client",
    "ReconnectPolicy": "tiktok_live.client",
    "RoomInfo": "tiktok_live.client",
    "RoomOwner": "tiktok_live.client",
    "StreamURL": "tiktok_live.client",
    "GiftInfo": "tiktok_live.client",
    "TikTokLiveClient": "tiktok_live.client",
    "check_live": "tiktok_live.client",
    "VideoProgress": "tiktok_live.video",
    "VideoRecording": "tiktok_live.video",
    "VideoSegment": "tiktok_live.video",
    "VideoStop": "tiktok_live.video",
}


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)


__all__ = [
    "AgeRestrictedError",
    "BaseEvent",
    "ClientConfig",
    "EventLoopRunningError",
    "EventStream",
    "FleetError",
    "FrameDecodeError",
    "GiftInfo",
    "HandlerOverloadError",
    "MissingExtraError",
    "PermanentSinkError",
    "ReconnectExhaustedError",
    "ReconnectPolicy",
    "RecordingError",
    "RecordingWriteError",
    "RequestError",
    "RoomIdNotFoundError",
    "RoomInfo",
    "RoomOwner",
    "ScenarioError",
    "SchemaSourceError",
    "SignAPIError",
    "SignAPIKeyError",
    "SignatureRateLimitError",
    "SnapshotError",
    "StreamURL",
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
    "check_live",
]
