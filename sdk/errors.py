"""Errors raised by tiktok-live. Catch :class:`TikTokLiveError` to catch everything the library raises.

::

    TikTokLiveError                     base class; ``retryable`` says whether trying again later may succeed
    ├── UserNotFoundError               the @handle does not exist or never went live: check the spelling
    ├── UserOfflineError                the user is not live now: retry later (or wait for them to go live)
    ├── AgeRestrictedError              the room is 18+ / needs login: pass a logged-in session id
    ├── RoomIdNotFoundError             no room id in TikTok's answers (page layout changed, captcha, IP block)
    ├── RequestError                    an HTTP request to TikTok failed (network, HTTP status, unreadable answer)
    ├── SignAPIError                    the sign server failed or refused
    │   ├── SignatureRateLimitError     too many sign requests: wait ``retry_after`` seconds (or use an API key)
    │   └── SignAPIKeyError             the sign API key was rejected (401/403): check SIGN_API_KEY; never retried
    ├── WebcastBlockedError             TikTok answered the WebSocket handshake with a rejection (``handshake-msg``)
    ├── WebSocketRejectedError          the WebSocket upgrade failed for another reason (HTTP status, network)
    ├── ReconnectExhaustedError         the connection kept dropping: every reconnect attempt failed
    ├── FrameDecodeError                a frame was corrupt, truncated or too large (the client skips it and goes on)
    ├── SnapshotError                   a ``protocol.Session`` snapshot is not one (also a ValueError)
    ├── RecordingError                  a recording file is missing, not a recording, or corrupt
    │   └── RecordingWriteError         a recording could not be created or written (a full disk)
    ├── PermanentSinkError              an export sink cannot deliver any more (e.g. its reader went away)
    ├── FleetError                      the fleet's Redis is unreachable, or this worker lost a room's lease
    ├── HandlerOverloadError            async handlers fell behind: a handler call was dropped (in an ErrorEvent)
    ├── ScenarioError                   a simulator scenario is unknown or its data is not available (a LookupError)
    ├── EventLoopRunningError           ``client.run()`` inside a running event loop (a notebook): ``await connect()``
    ├── SchemaSourceError               a source of ``schema unknowns`` is missing or not in a format it reads
    ├── VideoError                      recording a LIVE's video failed (no stream, not FLV, kept dropping, bad path)
    │   └── VideoQualityError           the quality asked for is not offered; ``offered`` lists those that are
    ├── MissingExtraError               an option needs an optional dependency; the message has the pip line
    └── UsageError                      a command-line mistake (exit code 2)

Messages never contain the sign API key, session cookies, proxy credentials or secret query values.
"""

from __future__ import annotations

__all__ = [
    "AgeRestrictedError",
    "EventLoopRunningError",
    "FleetError",
    "FrameDecodeError",
    "HandlerOverloadError",
    "MissingExtraError",
    "PermanentSinkError",
    "ReconnectExhaustedError",
    "RecordingError",
    "RecordingWriteError",
    "RequestError",
    "RoomIdNotFoundError",
    "ScenarioError",
    "SchemaSourceError",
    "SignAPIError",
    "SignAPIKeyError",
    "SignatureRateLimitError",
    "SnapshotError",
    "TikTokLiveError",
    "UsageError",
    "UserNotFoundError",
    "UserOfflineError",
    "VideoError",
    "VideoQualityError",
    "WebSocketRejectedError",
    "WebcastBlockedError",
]


class TikTokLiveError(Exception):
    """Base of every error tiktok-live raises."""

    retryable: bool = False
    """Whether the same request may succeed later (a timeout, a 5xx, a dropped socket); False for mistakes that
    trying again cannot fix (a wrong key, an unknown user)."""


class UserNotFoundError(TikTokLiveError):
    """The user does not exist, or has never been able to go live. Check the @handle's spelling."""

    def __init__(self, unique_id: str, detail: str = "") -> None:
        self.unique_id = unique_id
        suffix = f" ({detail})" if detail else ""
        super().__init__(f"TikTok user @{unique_id} was not found{suffix}: check the spelling of the @handle")


class UserOfflineError(TikTokLiveError):
    """The user exists but is not live right now. Retry later, or connect with ``wait_live=True``."""

    retryable = True

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

    retryable = True

    def __init__(self, unique_id: str, detail: str = "") -> None:
        self.unique_id = unique_id
        suffix = f": {detail}" if detail else ""
        super().__init__(
            f"could not find the room id of @{unique_id}{suffix}. TikTok may be showing a captcha or blocking this "
            "IP; pass room_id= directly, or try another network"
        )


class RequestError(TikTokLiveError):
    """An HTTP request to TikTok (live page, room API, room info, live check, gift list) failed.

    ``host`` is the host asked, ``status`` the HTTP status (None when no answer came: network failure, timeout).
    ``retryable`` is True for network failures, timeouts, 429 and 5xx answers; ``retry_after`` the seconds a 429 or
    5xx answer's ``Retry-After`` asked to wait (None when it named none).
    """

    def __init__(
        self,
        message: str,
        *,
        host: str,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.host = host
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after
        super().__init__(message)


class SignAPIError(TikTokLiveError):
    """The sign server failed, refused, or answered something unusable. ``retryable``: a timeout, a 5xx or an
    unusable bundle (worth another try); False for other refusals."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        self.retryable = retryable
        super().__init__(message)


class SignatureRateLimitError(SignAPIError):
    """The sign server rate-limited this client (HTTP 429). Wait ``retry_after`` seconds before connecting again."""

    def __init__(self, message: str, retry_after: float | None = None, reset_time: float | None = None) -> None:
        self.retry_after = retry_after
        self.reset_time = reset_time
        super().__init__(message, retryable=True)


class SignAPIKeyError(SignAPIError):
    """The sign server rejected the API key (HTTP 401/403). Check SIGN_API_KEY; this is never retried."""


class WebcastBlockedError(TikTokLiveError):
    """TikTok rejected the WebSocket handshake (HTTP 200/400 with ``handshake-msg``), e.g. DEVICE_BLOCKED."""

    retryable = True

    def __init__(self, message: str, handshake_msg: str = "", status: int | None = None) -> None:
        self.handshake_msg = handshake_msg
        self.status = status
        super().__init__(message)


class WebSocketRejectedError(TikTokLiveError):
    """The WebSocket connection could not be opened (HTTP error, network failure, bad signed URL)."""

    retryable = True

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class ReconnectExhaustedError(TikTokLiveError):
    """The connection kept dropping and every reconnect attempt failed: ``attempts`` in a row, the last one with
    ``last_error`` (None when the sockets opened and then dropped at once). TikTok or the network is unstable; try
    again later, or allow more attempts with ``ReconnectPolicy(max_attempts=...)``."""

    retryable = True

    def __init__(self, attempts: int, last_error: BaseException | None) -> None:
        self.attempts = attempts
        self.last_error = last_error
        detail = f": last error: {last_error}" if last_error is not None else ""
        super().__init__(
            f"the connection kept dropping ({attempts} reconnect attempts in a row failed){detail}; TikTok or the "
            "network is unstable: try again later"
        )


class FrameDecodeError(TikTokLiveError):
    """A WebSocket frame or fetch result could not be decoded (corrupt, truncated, or over a size limit).

    The client logs it, skips that frame and keeps reading; ``protocol.Session.receive`` reports it in
    ``Received.error``; it is raised only by the low-level frame functions.
    """


class SnapshotError(TikTokLiveError, ValueError):
    """``protocol.Session.restore`` was given something that is not a session snapshot of a known version."""


class RecordingError(TikTokLiveError):
    """A recording file is missing, not a recording, of an unsupported version, or corrupt (the message names the
    line)."""


class PermanentSinkError(TikTokLiveError):
    """An export sink cannot deliver anything any more (e.g. the reader of stdout went away): it stops retrying, and
    what is pending and what comes later is dropped and counted."""


class FleetError(TikTokLiveError):
    """The fleet's Redis is unreachable or failed, or a worker lost a room's lease (another worker has it now)."""

    retryable = True


class HandlerOverloadError(TikTokLiveError):
    """Async handlers fell behind: ``limit`` calls were running, so a new call was not started (``dropped`` so far).

    Reported in an :class:`ErrorEvent` whose ``event`` is the event not handled. Make the handler faster, hand the
    work to a queue of your own, or raise the limit (``max_handlers_in_flight``)."""

    def __init__(self, dropped: int, limit: int) -> None:
        self.dropped = dropped
        self.limit = limit
        super().__init__(
            f"async handlers are not keeping up: {limit} calls are running, so {dropped} handler call(s) were "
            "dropped so far; make the handlers faster, queue the work yourself, or raise max_handlers_in_flight"
        )


class SchemaSourceError(TikTokLiveError):
    """A source of ``tiktok-live schema unknowns`` is missing, empty or not in a format it reads; the message says
    which."""


class ScenarioError(TikTokLiveError, LookupError):
    """A simulator scenario is unknown, or its data (e.g. the captured fixtures) is not available here."""


class EventLoopRunningError(TikTokLiveError, RuntimeError):
    """``client.run()`` was called where an event loop is already running (a Jupyter notebook, an ``async def``):
    its blocking form cannot start another loop there. Use ``await client.connect()`` instead."""

    def __init__(self, method: str = "client.run()") -> None:
        super().__init__(
            f"{method} cannot start an event loop inside the one already running here (a Jupyter notebook or an "
            "async function): use `await client.connect()` instead, or `asyncio.create_task(client.connect())` to "
            "keep going while it runs"
        )


class VideoError(TikTokLiveError):
    """Recording a LIVE's video failed: the room offers no stream, the stream is not FLV, the download kept
    dropping, or the path is unusable. ``recording`` holds what was saved before the failure (a
    ``VideoRecording``; None when nothing was), so nothing is lost."""

    def __init__(self, message: str, *, recording: object | None = None, retryable: bool = False) -> None:
        self.recording = recording
        self.retryable = retryable
        super().__init__(message)


class VideoQualityError(VideoError, ValueError):
    """The quality asked for is not offered by the room: ``quality`` is what was asked, ``offered`` the qualities
    the room has (best first). Pick one of those."""

    def __init__(self, quality: str, offered: tuple[str, ...]) -> None:
        self.quality = quality
        self.offered = offered
        super().__init__(
            f"the room offers no {quality!r} stream: choose one of {', '.join(offered)} (e.g. quality={offered[0]!r})"
        )


class MissingExtraError(TikTokLiveError, ImportError):
    """An option needs an optional dependency that is not installed (e.g. a SOCKS proxy needs aiohttp-socks).
    ``extra`` names the extra to install; the message carries the ``pip install`` line."""

    def __init__(self, message: str, *, extra: str) -> None:
        self.extra = extra
        super().__init__(message)


class UsageError(TikTokLiveError):
    """A command-line mistake: printed with the command's usage line, exit code 2."""


class RecordingWriteError(RecordingError):
    """A recording could not be created or written (a missing folder, no permission, a full disk). Raised by the
    ``Recorder`` and, from a client recording a session, by ``connect()``: the stream stops, and the file keeps the
    lines written before (readers skip a cut-off end)."""
