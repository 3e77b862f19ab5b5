"""The connection options of a client, in one frozen object shared by the client, ``RoomPool`` and the simulator.

:class:`ClientConfig` holds every option; :class:`ClientOptions` is the same set as keyword arguments (what
``TikTokLiveClient(**options)``, ``RoomPool(**options)`` and ``RoomPool.add(user, **options)`` accept). A test
keeps the two in step, field for field.
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
import re
from dataclasses import dataclass
from typing import Final, TypedDict
from urllib.parse import urlsplit

from tiktok_live._protocol import DEFAULT_MAX_DECOMPRESSED_SIZE

__all__ = [
    "DEFAULT_SIGN_URL",
    "DEFAULT_USER_AGENT",
    "DEFAULT_WEBCAST_URL",
    "DEFAULT_WEB_URL",
    "ClientConfig",
    "ClientOptions",
    "ReconnectPolicy",
    "check_url",
    "normalize_unique_id",
]

DEFAULT_WEB_URL: Final = "https://www.tiktok.com"
"""TikTok's site: the live page and the room API (``ClientConfig.web_url``)."""
DEFAULT_WEBCAST_URL: Final = "https://webcast.tiktok.com"
"""TikTok's webcast API: the live check and room info (``ClientConfig.webcast_url``)."""
DEFAULT_SIGN_URL: Final = "https://api.eulerstream.com"
"""Euler Stream's public sign server, used when neither ``sign_url`` nor ``$SIGN_API_URL`` is given."""
DEFAULT_USER_AGENT: Final = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
"""The browser user agent sent by default (``ClientConfig.user_agent``)."""
ORIGIN_SCHEMES: Final = ("http", "https")
"""URL schemes of ``web_url``, ``webcast_url`` and ``sign_url``."""
PROXY_SCHEMES: Final = ("http", "https", "socks4", "socks5", "socks5h")
"""Proxy URL schemes a client accepts (SOCKS ones need the ``socks`` extra)."""
_UNIQUE_ID = re.compile(r"^[A-Za-z0-9._]{1,64}$")


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """When and how the client reconnects after the socket drops or goes silent.

    Delays grow exponentially from ``base_delay`` to ``max_delay`` with ±``jitter`` (a fraction); after
    ``max_attempts`` failed attempts in a row (counting connections that die early — before ``reset_after``
    seconds and ``reset_after_frames`` frames — as failures) the client stops with
    :class:`~tiktok_live.errors.ReconnectExhaustedError`. ``enabled=False`` never reconnects. Sign-server rate
    limits (``Retry-After``) are honoured up to ``max_delay``.
    """

    enabled: bool = True
    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0
    jitter: float = 0.2
    reset_after: float = 60.0
    """A connection that lasted this long (seconds) resets the attempt count..."""
    reset_after_frames: int = 10
    """...as does one that delivered this many frames: only connections that die early count as failures."""

    def __post_init__(self) -> None:
        numbers = (self.base_delay, self.max_delay, self.jitter, self.reset_after)
        if not all(math.isfinite(value) and value >= 0 for value in numbers):
            raise ValueError("ReconnectPolicy delays, jitter and reset_after must be finite and non-negative")
        if self.max_attempts < 0 or self.reset_after_frames < 0 or self.jitter > 1:
            raise ValueError("ReconnectPolicy needs max_attempts >= 0, reset_after_frames >= 0 and jitter <= 1")

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The delay before reconnect attempt ``attempt`` (1-based)."""
        raw: float = min(self.max_delay, self.base_delay * 2.0 ** min(attempt - 1, 64))
        return max(0.0, raw * (1.0 + rng.uniform(-self.jitter, self.jitter)))


class ClientOptions(TypedDict, total=False):
    """Keyword options of a client (see :class:`ClientConfig` for each); a pool passes them on to its rooms."""

    sign_api_key: str | None
    sign_url: str | None
    web_url: str
    webcast_url: str
    proxy: str | None
    user_agent: str
    fetch_room_info: bool
    process_initial_messages: bool
    reconnect: ReconnectPolicy | None
    watchdog_timeout: float
    heartbeat_interval: float | None
    http_timeout: float
    max_frame_size: int
    max_decompressed_size: int
    max_body_size: int
    dedupe_size: int
    session_id: str | None
    tt_target_idc: str
    strict: bool
    wait_live: bool
    follow: bool
    live_poll_interval: float
    max_handlers_in_flight: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientConfig:
    """Every connection option of a client, validated once. Build one with keyword arguments (the same as
    :class:`ClientOptions`) or change one with :meth:`replace`.

    The three base URLs are origins; the client appends TikTok's paths, so a simulator or a recording proxy that
    serves those paths on one origin works unchanged. ``sign_api_key`` defaults to ``$SIGN_API_KEY`` and
    ``sign_url`` to ``$SIGN_API_URL`` (else Euler Stream's public sign server), read when the config is built.
    ``proxy`` (``http://``, ``https://``, ``socks5://``, ``socks5h://``, ``socks4://``) applies to every request
    and the WebSocket. ``session_id`` (a logged-in ``sessionid`` cookie) goes with TikTok's own requests, and to
    the sign server only when ``$WHITELIST_AUTHENTICATED_SESSION_ID_HOST`` names its host. The API key, session id
    and proxy credentials never appear in a repr.
    """

    sign_api_key: str | None = dataclasses.field(default=None, repr=False)
    """The sign server's API key (``X-Api-Key``); None: ``$SIGN_API_KEY``, else none."""
    sign_url: str | None = None
    """The sign server's origin; None: ``$SIGN_API_URL``, else Euler Stream's public server."""
    web_url: str = DEFAULT_WEB_URL
    """Origin of TikTok's site (live page, room API)."""
    webcast_url: str = DEFAULT_WEBCAST_URL
    """Origin of TikTok's webcast API (live check, room info, gift list)."""
    proxy: str | None = dataclasses.field(default=None, repr=False)
    """A proxy URL for every request and the WebSocket."""
    user_agent: str = DEFAULT_USER_AGENT
    """The browser user agent sent to TikTok (and to the sign server, which signs for it)."""
    fetch_room_info: bool = True
    """Fetch the room info while connecting (``client.room_info``); a failure there never stops the connect."""
    process_initial_messages: bool = True
    """Emit the messages that come with the sign server's bundle (the room's recent history)."""
    reconnect: ReconnectPolicy | None = None
    """When to reconnect; None: the default :class:`ReconnectPolicy`."""
    watchdog_timeout: float = 30.0
    """Reconnect when no data frame arrived for this many seconds."""
    heartbeat_interval: float | None = None
    """Seconds between heartbeats; None: what TikTok's handshake announces (clamped to 1-60 s), else 10."""
    http_timeout: float = 10.0
    """Total timeout of each HTTP request, in seconds."""
    max_frame_size: int = 8 * 1024 * 1024
    """The largest WebSocket message accepted, in bytes."""
    max_decompressed_size: int = DEFAULT_MAX_DECOMPRESSED_SIZE
    """The largest decompressed frame payload accepted, in bytes (a gzip bomb stops here)."""
    max_body_size: int = 8 * 1024 * 1024
    """The largest HTTP answer read (live page, APIs, sign bundle), in bytes."""
    dedupe_size: int = 10_000
    """How many recent message ids to remember to drop duplicates."""
    session_id: str | None = dataclasses.field(default=None, repr=False)
    """A logged-in ``sessionid`` cookie (18+ rooms, all comments)."""
    tt_target_idc: str = "useast1a"
    """TikTok's data-center cookie, sent with requests (and to the sign server with a session id)."""
    strict: bool = False
    """Tests: re-raise the first exception a handler raised from ``connect()`` / ``run()`` once the stream ends."""
    wait_live: bool = False
    """Connecting waits while the host is offline (checking every ``live_poll_interval`` seconds) instead of
    raising UserOfflineError; ``connect(wait_live=...)`` overrides it for one call."""
    follow: bool = False
    """Keep watching the host across LIVEs: wait while they are offline, and after a LIVE ends wait for the next
    one and connect again (``connect()`` / ``run()`` then return only on ``disconnect()``, ``stop()`` or an error
    that waiting cannot fix)."""
    live_poll_interval: float = 30.0
    """Seconds between two live checks while waiting for the host to go live (``wait_live``, ``follow``)."""
    max_handlers_in_flight: int = 1_000
    """Async handler calls running at once at most; beyond, a call is dropped, counted and reported in an
    ``ErrorEvent`` (``HandlerOverloadError``) rather than piling up tasks without bound."""

    def __post_init__(self) -> None:
        key = self.sign_api_key if self.sign_api_key is not None else os.environ.get("SIGN_API_KEY") or None
        url = (self.sign_url or os.environ.get("SIGN_API_URL") or DEFAULT_SIGN_URL).rstrip("/")
        object.__setattr__(self, "sign_api_key", key)
        object.__setattr__(self, "sign_url", url)
        for name in ("sign_url", "web_url", "webcast_url"):
            object.__setattr__(self, name, check_url(name, str(getattr(self, name)), ORIGIN_SCHEMES).rstrip("/"))
        if self.proxy is not None:
            object.__setattr__(self, "proxy", check_url("proxy", self.proxy, PROXY_SCHEMES))
            from tiktok_live._proxy import require_socks

            require_socks(self.proxy)  # a SOCKS proxy needs the `socks` extra: say so now, not at the first request
        for name in ("watchdog_timeout", "http_timeout", "live_poll_interval"):
            value = getattr(self, name)
            if isinstance(value, bool) or not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds")
        if self.heartbeat_interval is not None and not (
            math.isfinite(self.heartbeat_interval) and self.heartbeat_interval > 0
        ):
            raise ValueError("heartbeat_interval must be a positive number of seconds (or None)")
        for name in ("max_frame_size", "max_decompressed_size", "max_body_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")
        if self.dedupe_size < 0:
            raise ValueError("dedupe_size cannot be negative")
        if self.max_handlers_in_flight < 1:
            raise ValueError("max_handlers_in_flight must be at least 1")

    @property
    def request_proxy(self) -> str | None:
        """The proxy each request names (aiohttp's ``proxy=``): an HTTP(S) ``proxy``, else None. A SOCKS proxy
        is the session's connector instead, so requests name none."""
        if self.proxy is None or urlsplit(self.proxy).scheme.lower() not in ("http", "https"):
            return None
        return self.proxy

    @property
    def reconnect_policy(self) -> ReconnectPolicy:
        """``reconnect``, or the default policy."""
        return self.reconnect if self.reconnect is not None else ReconnectPolicy()

    def replace(self, **options: object) -> ClientConfig:
        """A copy with ``options`` changed (keyword names as in :class:`ClientOptions`)."""
        return dataclasses.replace(self, **options)  # type: ignore[arg-type]  # validated in __post_init__

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{field.name}={getattr(self, field.name)!r}" for field in dataclasses.fields(self) if field.repr
        )
        secrets = [name for name in ("sign_api_key", "proxy", "session_id") if getattr(self, name)]
        return f"ClientConfig({shown}{', set: ' + ', '.join(secrets) if secrets else ''})"


def check_url(name: str, value: str, schemes: tuple[str, ...]) -> str:
    """``value`` without surrounding blanks, if it is a URL with one of ``schemes``, a host and a port that can be
    connected to; else ValueError naming ``name``. The message shows the scheme and host at most: never
    credentials or query values. The client's options and the command line's flags both check with it."""
    text = value.strip()
    try:
        parts = urlsplit(text)
        port = parts.port  # a port that is not a number, or out of range, raises here
    except ValueError:
        raise ValueError(f"{name}: not a valid URL (check its host and port)") from None
    if parts.scheme.lower() not in schemes or not parts.hostname:
        shown = f"{parts.scheme}://{parts.hostname}" if parts.scheme and parts.hostname else "a value"
        wanted = " or ".join(f"{scheme}://" for scheme in schemes)
        raise ValueError(f"{name}: expected a {wanted} URL with a host (got {shown})")
    if port == 0:
        raise ValueError(f"{name}: port 0 cannot be connected to")
    return text


def normalize_unique_id(value: str) -> str:
    """``"@user"``, ``"user"`` or ``"https://www.tiktok.com/@user/live"`` -> ``"user"``; ValueError if invalid."""
    text = value.strip()
    text = re.sub(r"^https?://(www\.)?tiktok\.com/", "", text)
    text = text.removesuffix("/").removesuffix("/live").removeprefix("@").strip()
    if not _UNIQUE_ID.fullmatch(text):
        raise ValueError(f"not a TikTok @handle: {value!r} (letters, digits, '.' and '_', at most 64)")
    return text
