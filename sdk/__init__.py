"""tiktok-live: TikTok LIVE events as fully typed Python objects.

Events live in :mod:`tiktok_live.events` (every message type TikTok sends, plus derived and connection events);
errors in :mod:`tiktok_live.errors`, all under :class:`TikTokLiveError`.
"""

from tiktok_live._base import BaseEvent, UnknownEvent
from tiktok_live.errors import (
    AgeRestrictedError,
    FrameDecodeError,
    RoomIdNotFoundError,
    SignAPIError,
    SignAPIKeyError,
    SignatureRateLimitError,
    TikTokLiveError,
    UserNotFoundError,
    UserOfflineError,
    WebcastBlockedError,
    WebSocketRejectedError,
)

__version__ = "0.1.0"

__all__ = [
    "AgeRestrictedError",
    "BaseEvent",
    "FrameDecodeError",
    "RoomIdNotFoundError",
    "SignAPIError",
    "SignAPIKeyError",
    "SignatureRateLimitError",
    "TikTokLiveError",
    "UnknownEvent",
    "UserNotFoundError",
    "UserOfflineError",
    "WebSocketRejectedError",
    "WebcastBlockedError",
    "__version__",
]
