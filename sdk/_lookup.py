"""Room lookup over TikTok's web and webcast APIs: no WebSocket, no signature.

The room id comes from the host's live page (the ``SIGI_STATE`` JSON embedded in ``/@user/live``), falling back to
the room API (``/api-live/user/room/``), since the page is often blocked or changed. ``/webcast/room/check_alive/``
says whether rooms are live; ``/webcast/room/info/`` describes one. Every answer is size-bounded and parsed
defensively: whatever TikTok (or something pretending to be TikTok) answers becomes a typed error.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Final, Unpack
from urllib.parse import quote

import aiohttp

from tiktok_live._config import ClientConfig, ClientOptions, normalize_unique_id
from tiktok_live._http import (
    FetchError,
    browser_params,
    get,
    get_path,
    host_of,
    json_object,
    number,
    redact,
    safe_error,
    to_int,
)
from tiktok_live._info import (
    GiftInfo,
    RoomOwner,
    StreamURL,
    first_url,
    owner_dict,
    parse_gifts,
    parse_owner,
    parse_stream_urls,
    stream_dict,
    text,
    timestamp,
)
from tiktok_live._proxy import HttpSession
from tiktok_live.errors import (
    AgeRestrictedError,
    RequestError,
    RoomIdNotFoundError,
    TikTokLiveError,
    UserNotFoundError,
    UserOfflineError,
)

__all__ = [
    "CHECK_BATCH",
    "MAX_ROOM_ID",
    "OFFLINE",
    "GiftInfo",
    "RoomInfo",
    "RoomLookup",
    "RoomOwner",
    "StreamURL",
    "check_live",
    "request_cookies",
]

logger = logging.getLogger("tiktok_live.lookup")

OFFLINE: Final = 4
"""The room status TikTok gives an offline room (2 is live, 3 paused)."""
MAX_ROOM_ID: Final = 2**63 - 1
"""The largest room id there can be (TikTok's room ids are 64-bit signed integers); a larger one in an answer is no
room id at all."""
CHECK_BATCH: Final = 50
"""Room ids per ``/webcast/room/check_alive/`` request in :func:`check_live`."""
_SIGI_STATE = re.compile(r'<script id="SIGI_STATE" type="application/json">(.*?)</script>', re.DOTALL)
_AGE_RESTRICTED_STATUS: Final = 4003110
_MAX_RETRY_AFTER: Final = 86_400.0


@dataclass(frozen=True, slots=True)
class RoomInfo:
    """The room as ``/webcast/room/info/`` describes it (``client.fetch_room_info()``, or ``client.room_info`` after
    connecting). Unknown numbers are ``0``, unknown text ``""``; ``raw`` holds the whole ``data`` object."""

    room_id: int
    title: str
    status: int
    """2: live, 3: paused, 4: offline."""
    user_count: int
    """Viewers in the room now."""
    like_count: int
    """Likes so far in this LIVE."""
    total_user: int
    """Viewers who came in this LIVE, in all."""
    owner_unique_id: str
    """The host's @handle (also ``owner.unique_id``)."""
    owner_nickname: str
    """The host's display name (also ``owner.nickname``)."""
    raw: Mapping[str, object] = field(repr=False)
    owner: RoomOwner | None = None
    """The host: id, @handle, nickname, avatar and followers (None when the answer had no owner)."""
    started_at: datetime | None = None
    """When this LIVE started (UTC), if known."""
    cover_url: str = ""
    """The room's cover picture."""
    age_restricted: bool = False
    """Whether TikTok marks the room 18+ (watching it needs a logged-in session id)."""
    stream_urls: Mapping[str, StreamURL] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    """The video's pull URLs by quality, best first: ``stream_urls["hd"].flv`` (see :class:`StreamURL`)."""

    @property
    def is_live(self) -> bool:
        """Whether the room is live (status 2) or paused (3), not offline (4)."""
        return self.status != OFFLINE

    @property
    def qualities(self) -> tuple[str, ...]:
        """The stream qualities offered, best first (the keys of ``stream_urls``)."""
        return tuple(self.stream_urls)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict of everything but ``raw``: 64-bit ids as decimal strings (they do not fit JSON
        numbers), ``started_at`` as ISO 8601, ``stream_urls`` as ``{quality: {"flv", "hls", ...}}``."""
        owner = self.owner
        return {
            "room_id": str(self.room_id),
            "title": self.title,
            "status": self.status,
            "is_live": self.is_live,
            "user_count": self.user_count,
            "like_count": self.like_count,
            "total_user": self.total_user,
            "owner": None if owner is None else owner_dict(owner),
            "started_at": None if self.started_at is None else self.started_at.isoformat(),
            "cover_url": self.cover_url,
            "age_restricted": self.age_restricted,
            "stream_urls": {name: stream_dict(url) for name, url in self.stream_urls.items()},
        }


class RoomLookup:
    """The HTTP requests about one host's room. ``http`` gives the session to use (made by the caller);
    ``cookies`` are the cookies TikTok's requests carry (the client's, possibly with a session id)."""

    def __init__(
        self,
        unique_id: str,
        config: ClientConfig,
        http: Callable[[], aiohttp.ClientSession],
        cookies: Mapping[str, str],
    ) -> None:
        self.unique_id = unique_id
        self._config = config
        self._http = http
        self._cookies = cookies

    # ── requests ────────────────────────────────────────────────────────────────────────────────────────────────

    def _headers(self) -> dict[str, str]:
        return {
            "User-Agent": self._config.user_agent,
            "Referer": "https://www.tiktok.com/",
            "Origin": "https://www.tiktok.com",
            "Accept-Language": "en-US,en;q=0.9",
            "Accept": "text/html,application/json,application/protobuf",
        }

    def web_params(self) -> dict[str, str]:
        """The query parameters a browser's webcast requests carry."""
        return {
            **browser_params(self._config.user_agent),
            "device_platform": "web_pc",
            "focus_state": "true",
            "from_page": "user",
            "is_fullscreen": "false",
            "is_page_visible": "true",
            "screen_height": "1080",
            "screen_width": "1920",
            "tz_name": "Europe/London",
            "webcast_language": "en",
        }

    async def get_text(self, url: str, params: Mapping[str, str] | None = None) -> tuple[int, str]:
        """GET ``url`` (status, text); raises :class:`RequestError` when no usable answer came."""
        host = host_of(url)
        try:
            answer = await get(
                self._http(),
                url,
                params=params,
                headers=self._headers(),
                cookies=self._cookies,
                proxy=self._config.request_proxy,
                max_body=self._config.max_body_size,
            )
        except TimeoutError as error:
            raise RequestError(
                f"request to {host} timed out after {self._config.http_timeout:g} s: check the network or raise "
                "http_timeout",
                host=host,
                retryable=True,
            ) from error
        except (aiohttp.ClientError, FetchError) as error:
            raise RequestError(
                f"request to {host} failed: {safe_error(error)}", host=host, retryable=not isinstance(error, FetchError)
            ) from error
        if answer.status == 429 or answer.status >= 500:
            raise RequestError(
                f"{host} answered HTTP {answer.status}: TikTok is refusing or failing; retry later",
                host=host,
                status=answer.status,
                retryable=True,
                retry_after=number(answer.headers.get("Retry-After"), maximum=_MAX_RETRY_AFTER),
            )
        return answer.status, answer.body.decode("utf-8", "replace")  # captcha pages need not be UTF-8

    async def get_json(self, url: str, params: Mapping[str, str]) -> dict[str, object]:
        """GET ``url`` as a JSON object; :class:`RequestError` when the answer is not one (a captcha page, say)."""
        status, text = await self.get_text(url, params)
        data = json_object(text)
        if data is None:
            raise RequestError(
                f"{host_of(url)} answered HTTP {status} with something that is not a JSON object (a captcha or a "
                "block page?): retry later or from another network",
                host=host_of(url),
                status=status,
                retryable=True,
            )
        return data

    # ── the room id ─────────────────────────────────────────────────────────────────────────────────────────────

    async def resolve_room_id(self) -> int:
        """The host's current room id: from the live page, falling back to the room API. Raises
        UserOfflineError, UserNotFoundError, AgeRestrictedError, RoomIdNotFoundError or RequestError."""
        try:
            return await self._room_id_from_page()
        except UserOfflineError:
            raise
        except TikTokLiveError as page_error:
            logger.info("room id from the live page failed (%s); trying the room API", page_error)
            try:
                return await self._room_id_from_api()
            except (RoomIdNotFoundError, RequestError):
                raise page_error from None

    async def _room_id_from_page(self) -> int:
        status, html = await self.get_text(f"{self._config.web_url}/@{quote(self.unique_id)}/live")
        match = _SIGI_STATE.search(html)
        if match is None:
            raise RoomIdNotFoundError(self.unique_id, f"no SIGI_STATE in the live page (HTTP {status})")
        state = json_object(match.group(1))
        if state is None:
            raise RoomIdNotFoundError(self.unique_id, "the live page's SIGI_STATE is not a JSON object (captcha?)")
        live_room = state.get("LiveRoom")
        if not isinstance(live_room, dict):
            raise UserNotFoundError(self.unique_id, "no LiveRoom on the live page")
        user = get_path(live_room, "liveRoomUserInfo", "user")
        room_status = to_int(get_path(live_room, "liveRoomUserInfo", "liveRoom", "status"))
        if OFFLINE in (to_int(get_path(user, "status")), room_status):
            raise UserOfflineError(self.unique_id)
        room_id = to_int(get_path(user, "roomId"), maximum=MAX_ROOM_ID)
        if not room_id:
            raise RoomIdNotFoundError(self.unique_id, "the live page has no usable roomId")
        return room_id

    async def _room_id_from_api(self) -> int:
        params = {**self.web_params(), "uniqueId": self.unique_id, "sourceType": "54"}
        data = await self.get_json(f"{self._config.web_url}/api-live/user/room/", params)
        if data.get("message") == "user_not_found":
            raise UserNotFoundError(self.unique_id, "the room API says user_not_found")
        if to_int(data.get("statusCode")) == _AGE_RESTRICTED_STATUS:
            raise AgeRestrictedError(self.unique_id)
        statuses = (
            to_int(get_path(data, "data", "user", "status")),
            to_int(get_path(data, "data", "liveRoom", "status")),
        )
        if OFFLINE in statuses:
            raise UserOfflineError(self.unique_id)
        room_id = to_int(get_path(data, "data", "user", "roomId"), maximum=MAX_ROOM_ID)
        if not room_id:
            message = redact(str(data.get("message"))[:100])
            raise RoomIdNotFoundError(self.unique_id, f"the room API answered without a usable roomId ({message})")
        return room_id

    # ── live checks and room info ───────────────────────────────────────────────────────────────────────────────

    async def check_alive(self, room_ids: list[int]) -> dict[int, bool]:
        """Which of ``room_ids`` are live, in one request (rooms TikTok does not mention are left out)."""
        params = {**self.web_params(), "room_ids": ",".join(str(room_id) for room_id in room_ids)}
        data = await self.get_json(f"{self._config.webcast_url}/webcast/room/check_alive/", params)
        rooms = data.get("data")
        alive: dict[int, bool] = {}
        if isinstance(rooms, list):
            for index, item in enumerate(rooms):
                if not isinstance(item, dict) or not isinstance(item.get("alive"), bool):
                    continue
                room_id = to_int(item.get("room_id") or item.get("room_id_str"))
                if not room_id and len(room_ids) == 1 and index == 0:
                    room_id = room_ids[0]
                if room_id:
                    alive[room_id] = bool(item["alive"])
        return alive

    async def ensure_live(self, room_id: int) -> None:
        """Raise UserOfflineError when the live check says ``room_id`` is not live; a failing check is logged and
        ignored (the sign server and the socket will tell)."""
        try:
            alive = await self.check_alive([room_id])
        except TikTokLiveError as error:
            logger.warning("live check failed (%s); going on", error)
            return
        if alive.get(room_id) is False:
            raise UserOfflineError(self.unique_id)

    async def room_info(self, room_id: int) -> RoomInfo:
        """``/webcast/room/info/`` for ``room_id``. Raises AgeRestrictedError, UserOfflineError or RequestError."""
        params = {**self.web_params(), "room_id": str(room_id)}
        body = await self.get_json(f"{self._config.webcast_url}/webcast/room/info/", params)
        data = body.get("data")
        if not isinstance(data, dict) or "prompts" in data or len(data) <= 1:
            raise AgeRestrictedError(self.unique_id)
        status = to_int(data.get("status"))
        if status == OFFLINE:
            raise UserOfflineError(self.unique_id)
        owner = parse_owner(data)
        return RoomInfo(
            room_id=room_id,
            title=text(data.get("title")),
            status=status,
            user_count=to_int(data.get("user_count")),
            like_count=to_int(get_path(data, "stats", "like_count")),
            total_user=to_int(get_path(data, "stats", "total_user")),
            owner_unique_id=owner.unique_id if owner is not None else "",
            owner_nickname=owner.nickname if owner is not None else "",
            raw=data,
            owner=owner,
            started_at=timestamp(data.get("create_time") or data.get("start_time")),
            cover_url=first_url(data.get("cover")),
            age_restricted=get_path(data, "age_restricted", "restricted") is True,
            stream_urls=parse_stream_urls(data.get("stream_url")),
        )

    # ── lookups for users (no connection needed) ────────────────────────────────────────────────────────────────

    async def live_room_id(self, room_id: int | None = None) -> int | None:
        """The host's room id when they are live now, else None: the room id (``room_id``, else resolved from the
        live page or the room API), then ``/webcast/room/check_alive/`` for it. A room the check does not mention
        counts as not live. Raises UserNotFoundError, AgeRestrictedError, RoomIdNotFoundError or RequestError when
        the answer cannot be had."""
        if room_id is None:
            try:
                room_id = await self.resolve_room_id()
            except UserOfflineError:
                return None
        alive = await self.check_alive([room_id])
        return room_id if alive.get(room_id) is True else None

    async def gifts(self, room_id: int | None = None) -> list[GiftInfo]:
        """The gift catalogue (``/webcast/gift/list/``): the room's when ``room_id`` is given, else the region's.
        Raises RequestError when the answer holds no gift list."""
        params = {**self.web_params()}
        if room_id:
            params["room_id"] = str(room_id)
        url = f"{self._config.webcast_url}/webcast/gift/list/"
        body = await self.get_json(url, params)
        data = body.get("data")
        gifts = parse_gifts(data)
        if not gifts and not (isinstance(data, dict) and isinstance(data.get("gifts"), list)):
            code = to_int(body.get("status_code"))
            detail = redact(text(get_path(data, "message") or body.get("message"), 200)) or "no data"
            raise RequestError(
                f"{host_of(url)} answered without a gift list (status_code {code}: {detail}); retry later",
                host=host_of(url),
                retryable=True,
            )
        return gifts


def request_cookies(config: ClientConfig) -> dict[str, str]:
    """The cookies TikTok's own requests carry: the data-center cookie, and the session id when one is given
    (18+ rooms)."""
    cookies = {"tt-target-idc": config.tt_target_idc}
    if config.session_id:
        sid = config.session_id
        cookies.update(sessionid=sid, sessionid_ss=sid, sid_tt=sid)
    return cookies


async def check_live(
    users: Iterable[str],
    *,
    config: ClientConfig | None = None,
    session: aiohttp.ClientSession | None = None,
    failures: dict[str, TikTokLiveError] | None = None,
    concurrency: int = 4,
    **options: Unpack[ClientOptions],
) -> dict[str, bool]:
    """Which of ``users`` (``"@a"``, ``"a"`` or a live URL, each) are live now: ``{"@a": True, "@b": False}``,
    keyed by the strings as given. No sign server, no WebSocket.

    Each host's room id comes from their live page (else the room API), ``concurrency`` at a time; then one
    ``/webcast/room/check_alive/`` request asks about up to 50 rooms at once. A host who is offline has no room and
    is False without a live check. A handle that does not resolve (an unknown user, an 18+ room without a session
    id, a captcha page, a network failure) is False too, and its error goes into ``failures`` when you pass a dict
    (else it is logged as a warning). An invalid handle raises ValueError before any request; a failing live
    check raises RequestError (retry later). Options are the client's (``proxy=``, ``session_id=``, ...).
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    handles = {user: normalize_unique_id(user) for user in users}  # ValueError names the bad one
    base = config if config is not None else ClientConfig()
    config = base.replace(**options) if options else base
    http = HttpSession(session, config.proxy, timeout=config.http_timeout)
    cookies = request_cookies(config)
    limit = asyncio.Semaphore(concurrency)

    async def room_of(unique_id: str) -> int | None:
        async with limit:
            try:
                return await RoomLookup(unique_id, config, http, cookies).resolve_room_id()
            except UserOfflineError:
                return None
            except TikTokLiveError as error:
                if failures is None:
                    logger.warning("check_live: @%s could not be checked: %s", unique_id, error)
                for user, handle in handles.items():
                    if handle == unique_id and failures is not None:
                        failures[user] = error
                return None

    unique = list(dict.fromkeys(handles.values()))
    try:
        rooms = dict(zip(unique, await asyncio.gather(*(room_of(handle) for handle in unique)), strict=True))
        ids = [room_id for room_id in dict.fromkeys(rooms.values()) if room_id is not None]
        alive: dict[int, bool] = {}
        checker = RoomLookup(unique[0] if unique else "check_live", config, http, cookies)
        for start in range(0, len(ids), CHECK_BATCH):
            alive.update(await checker.check_alive(ids[start : start + CHECK_BATCH]))
    finally:
        await http.close()
    return {user: (room := rooms[handle]) is not None and alive.get(room) is True for user, handle in handles.items()}
