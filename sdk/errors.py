"""Errors raised by tiktok-live. Catch :class:`TikTokLiveError` to catch everything the library raises.

::

    TikTokLiveError                 base class
    ├── UserNotFoundError           the @handle does not exist or never went live: check the spelling
    ├── UserOfflineError            the user is not live now: retry later (or wait for them to go live)
    ├── AgeRestrictedError          the room is 18+ / needs login: pass a logged-in session id
    ├── RoomIdNotFoundError         no room id in TikTok's answers (page layout changed, captcha, IP block)
    ├── SignAPIError                the sign server failed or refused
    │   ├── SignatureRateLimitError too many sign requests: wait ``retry_after`` seconds (or use an API key)
    │   └── SignAPIKeyError         the sign API key was rejected (401/403): check SIGN_API_KEY; never retried
    ├── WebcastBlockedError         TikTok answered the WebSocket handshake with a rejection (``handshake-msg``)
    ├── WebSocketRejectedError      the WebSocket upgrade failed for another reason (HTTP status, network)
    └── FrameDecodeError            a frame was corrupt, truncated or too large (the client skips it and goes on)

Messages never contain the sign API key or session cookies.
"""

from __future__ import annotations

__all__ = [
    "AgeRestrictedError",
    "FrameDecodeError",
    "RoomIdNotFoundError",
    "SignAPIError",
    "SignAPIKeyError",
    "SignatureRateLimitError",
    "TikTokLiveError",
    "UserNotFoundError",
    "UserOfflineError",
    "WebSocketRejectedError",
    "WebcastBlockedError",
]


class TikTokLiveError(Exception):
    """Base of every error tiktok-live raises."""


class UserNotFoundError(TikTokLiveError):
    """The user does not exist, or has never been able to go live. Check the @handle's spelling."""

    def __init__(self, unique_id: str, detail: str = "") -> None:
        self.unique_id = unique_id
        suffix = f" ({detail})" if detail else ""
        super().__init__(f"TikTok user @{unique_id} was not found{suffix}: check the spelling of the @handle")


class UserOfflineError(TikTokLiveError):
    """The user exists but is not live right now. Retry later."""

    def __init__(self, unique_id: str) -> None:
        self.unique_id = unique_id
        super().__init__(f"@{unique_id} is not live right now: try again when they are streaming")


class AgeRestrictedError(TikTokLiveError):
    """The room is age-restricted (or needs a login): TikTok returns no room data without a session."""

    def __init__(self, unique_id: str) -> None:
        self.unique_id = unique_id
        super().__init__(
            f"@{unique_id}'s LIVE is age-restricted: pass a logged-in session id (sessionid cookie) to watch it"
        )


class RoomIdNotFoundError(TikTokLiveError):
    """No room id could be found: TikTok's page layout changed, or a captcha / IP block replaced the page."""

    def __init__(self, unique_id: str, detail: str = "") -> None:
        self.unique_id = unique_id
        suffix = f": {detail}" if detail else ""
        super().__init__(
            f"could not find the room id of @{unique_id}{suffix}. TikTok may be showing a captcha or blocking this "
            "IP; pass room_id= directly, or try another network"
        )


class SignAPIError(TikTokLiveError):
    """The sign server failed, refused, or answered something unusable."""


class SignatureRateLimitError(SignAPIError):
    """The sign server rate-limited this client (HTTP 429). Wait ``retry_after`` seconds before connecting again."""

    def __init__(self, message: str, retry_after: float | None = None, reset_time: float | None = None) -> None:
        self.retry_after = retry_after
        self.reset_time = reset_time
        super().__init__(message)


class SignAPIKeyError(SignAPIError):
    """The sign server rejected the API key (HTTP 401/403). Check SIGN_API_KEY; this is never retried."""


class WebcastBlockedError(TikTokLiveError):
    """TikTok rejected the WebSocket handshake (HTTP 200/400 with ``handshake-msg``), e.g. DEVICE_BLOCKED."""

    def __init__(self, message: str, handshake_msg: str = "", status: int | None = None) -> None:
        self.handshake_msg = handshake_msg
        self.status = status
        super().__init__(message)


class WebSocketRejectedError(TikTokLiveError):
    """The WebSocket connection could not be opened (HTTP error, network failure, bad signed URL)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class FrameDecodeError(TikTokLiveError):
    """A WebSocket frame or fetch result could not be decoded (corrupt, truncated, or over a size limit).

    The client logs it, skips that frame and keeps reading; it reaches user code only from the decode functions.
    """
