"""What the lookups return, parsed from TikTok's JSON: the room's owner, its stream URLs and the gift catalogue.

Pure functions over already-decoded JSON (no I/O): :func:`parse_owner`, :func:`parse_stream_urls` and
:func:`parse_gifts` never raise on odd input; a value of the wrong type, a URL that is not ``http(s)://``, an id
that is not a number or a nested JSON string that does not parse is left out, so what TikTok (or something pretending
to be it) sends can only make the result smaller.

Stream URLs come in two forms in ``/webcast/room/info/``'s ``data.stream_url``, and a room may carry either, both or
neither:

- ``flv_pull_url``: quality -> FLV URL, with TikTok's legacy names ``FULL_HD1`` (1080p), ``HD1`` (720p), ``SD1``
  (480p) and ``SD2`` (360p); ``hls_pull_url_map`` the same for HLS, and ``hls_pull_url`` one HLS URL of the
  ``default_resolution``;
- ``live_core_sdk_data.pull_data.stream_data``: a JSON *string* whose ``data`` maps the player's quality names
  (``origin``, ``uhd``, ``hd``, ``sd``, ``ld``, ``ao`` for audio only) to ``{"main": {"flv": url, "hls": url,
  "sdk_params": "{…}"}}``, ``sdk_params`` (JSON again) holding the resolution and bitrate.

:func:`parse_stream_urls` merges both into one mapping keyed by the player's names (the legacy names map to ``uhd``,
``hd``, ``sd`` and ``ld``), the best quality first; the SDK form wins where both name a URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Final
from urllib.parse import urlsplit

from tiktok_live._http import get_path, json_object, to_int

__all__ = [
    "LEGACY_QUALITIES",
    "QUALITIES",
    "GiftInfo",
    "RoomOwner",
    "StreamURL",
    "first_url",
    "owner_dict",
    "parse_gifts",
    "parse_owner",
    "parse_stream_urls",
    "stream_dict",
    "text",
    "timestamp",
]

QUALITIES: Final = ("origin", "uhd", "hd", "sd", "ld", "ao")
"""The quality names of TikTok's player, best first: original, 1080p, 720p, 480p, 360p, audio only."""
LEGACY_QUALITIES: Final[Mapping[str, str]] = MappingProxyType(
    {"FULL_HD1": "uhd", "HD1": "hd", "SD1": "sd", "SD2": "ld"}
)
"""``flv_pull_url``'s quality names -> the player's names."""
_MAX_TEXT: Final = 4096
_LATEST_TIMESTAMP: Final = 32_503_680_000  # the year 3000: later "start times" are garbage


def text(value: object, limit: int = _MAX_TEXT) -> str:
    """``value`` when it is a string (cut at ``limit`` characters), else ``""``."""
    return value[:limit] if isinstance(value, str) else ""


def _url(value: object) -> str | None:
    if not isinstance(value, str) or len(value) > _MAX_TEXT or not value.startswith(("https://", "http://")):
        return None
    try:
        return value if urlsplit(value).hostname else None
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return None


def first_url(image: object) -> str:
    """The first ``http(s)`` URL of an image object's ``url_list`` (TikTok's ``ImageModel`` in JSON), else ``""``."""
    urls = get_path(image, "url_list")
    if isinstance(urls, list):
        for candidate in urls:
            url = _url(candidate)
            if url is not None:
                return url
    return ""


def timestamp(value: object) -> datetime | None:
    """A Unix time in seconds (or milliseconds) as an aware UTC datetime; None when absent or absurd."""
    seconds = 0 if isinstance(value, bool) else to_int(value)
    if seconds > _LATEST_TIMESTAMP:
        seconds //= 1000  # milliseconds
    if not 0 < seconds <= _LATEST_TIMESTAMP:
        return None
    return datetime.fromtimestamp(seconds, UTC)


# ── the owner ───────────────────────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class RoomOwner:
    """The host of a room, as the room info describes them. Unknown values are ``0`` / ``""``."""

    id: int
    """The host's numeric user id."""
    unique_id: str
    """The @handle, without the ``@``."""
    nickname: str
    """The display name."""
    avatar_url: str
    """The largest avatar picture offered (``""`` when none)."""
    followers: int
    """The host's follower count."""
    sec_uid: str = ""
    """TikTok's opaque, stable user key (``""`` when absent)."""


def owner_dict(owner: RoomOwner) -> dict[str, object]:
    """``owner`` as a JSON-ready dict (the id as a decimal string)."""
    return {**asdict(owner), "id": str(owner.id)}


def parse_owner(data: object) -> RoomOwner | None:
    """The owner of a room info's ``data`` (its ``owner`` object); None when there is no owner object."""
    owner = get_path(data, "owner")
    if not isinstance(owner, dict):
        return None
    avatar = ""
    for key in ("avatar_large", "avatar_medium", "avatar_thumb"):
        avatar = first_url(owner.get(key))
        if avatar:
            break
    return RoomOwner(
        id=to_int(owner.get("id_str")) or to_int(owner.get("id")),
        unique_id=text(owner.get("display_id"), 64),
        nickname=text(owner.get("nickname"), 256),
        avatar_url=avatar,
        followers=to_int(get_path(owner, "follow_info", "follower_count")),
        sec_uid=text(owner.get("sec_uid"), 256),
    )


# ── stream URLs ─────────────────────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class StreamURL:
    """Where to pull one quality of a LIVE's video: an FLV URL, an HLS (``.m3u8``) URL, or both.

    ``quality`` is the player's name (``origin``, ``uhd``, ``hd``, ``sd``, ``ld``, ``ao``; another name TikTok
    adds comes through as it is); ``legacy_name`` the name in ``flv_pull_url`` (``FULL_HD1``, ``HD1``, ``SD1``,
    ``SD2``) when that form named it. ``resolution`` (``"1920x1080"``) and ``bitrate`` (bits/s) are known only from
    the SDK form. The URLs are signed and expire after a while: fetch the room info again for fresh ones.
    """

    quality: str
    flv: str | None = None
    hls: str | None = None
    legacy_name: str = ""
    resolution: str = ""
    bitrate: int = 0


@dataclass(slots=True)
class _Draft:
    flv: str | None = None
    hls: str | None = None
    legacy_name: str = ""
    resolution: str = ""
    bitrate: int = 0


def stream_dict(url: StreamURL) -> dict[str, object]:
    """``url`` as a JSON-ready dict."""
    return asdict(url)


def parse_stream_urls(stream_url: object) -> Mapping[str, StreamURL]:
    """Every quality the room info's ``data.stream_url`` offers, best first, from both forms (see the module doc).

    Read-only; empty when neither form is there (an offline room, or an answer without stream URLs).
    """
    drafts: dict[str, _Draft] = {}
    if isinstance(stream_url, dict):
        _legacy_form(stream_url, drafts)
        _sdk_form(stream_url, drafts)
    known = [name for name in QUALITIES if name in drafts]
    order = known + sorted(name for name in drafts if name not in QUALITIES)
    result = {
        name: StreamURL(name, d.flv, d.hls, d.legacy_name, d.resolution, d.bitrate)
        for name in order
        if (d := drafts[name]).flv or d.hls
    }
    return MappingProxyType(result)


def _quality_name(legacy: str) -> str:
    return LEGACY_QUALITIES.get(legacy, legacy.lower())


def _legacy_form(stream_url: dict[str, object], drafts: dict[str, _Draft]) -> None:
    for key, kind in (("flv_pull_url", "flv"), ("hls_pull_url_map", "hls")):
        urls = stream_url.get(key)
        if not isinstance(urls, dict):
            continue
        for legacy, value in urls.items():
            url = _url(value)
            if url is None or not legacy:
                continue
            draft = drafts.setdefault(_quality_name(legacy), _Draft())
            draft.legacy_name = draft.legacy_name or legacy
            setattr(draft, kind, url)
    # The lone HLS URL is the default resolution's.
    default = text(stream_url.get("default_resolution"), 32)
    hls = _url(stream_url.get("hls_pull_url"))
    if hls is not None and default:
        draft = drafts.setdefault(_quality_name(default), _Draft())
        draft.legacy_name = draft.legacy_name or default
        draft.hls = draft.hls or hls


def _sdk_form(stream_url: dict[str, object], drafts: dict[str, _Draft]) -> None:
    raw = get_path(stream_url, "live_core_sdk_data", "pull_data", "stream_data")
    parsed = json_object(raw) if isinstance(raw, str | bytes) else raw  # a JSON string; tolerated: already parsed
    qualities = get_path(parsed, "data")
    if not isinstance(qualities, dict):
        return
    for name, entry in qualities.items():
        main = get_path(entry, "main")
        if not name or not isinstance(main, dict):
            continue
        flv, hls = _url(main.get("flv")), _url(main.get("hls"))
        if flv is None and hls is None:
            continue
        draft = drafts.setdefault(name[:32], _Draft())
        draft.flv = flv or draft.flv
        draft.hls = hls or draft.hls
        params = main.get("sdk_params")
        details = json_object(params) if isinstance(params, str) else None
        if details is not None:
            draft.resolution = text(details.get("resolution"), 32)
            draft.bitrate = to_int(details.get("vbitrate"))


# ── the gift catalogue ──────────────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class GiftInfo:
    """One gift of a room's catalogue (``/webcast/gift/list/``)."""

    id: int
    """The gift id (``GiftEvent.gift.id`` of a sent gift)."""
    name: str
    diamond_count: int
    """What one costs, in diamonds."""
    image_url: str
    """The gift's picture (``""`` when none)."""
    streakable: bool
    """Whether it can be sent in a streak (combo): ``GiftEvent`` s then repeat until ``repeat_end``."""
    on_panel: bool
    """Whether the gift panel of TikTok's apps shows it (others exist but are sent by special means)."""
    type: int = 0
    """TikTok's gift type (1: a streakable gift)."""
    raw: Mapping[str, object] = field(default_factory=dict, repr=False, compare=False)
    """The gift's whole JSON object."""

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict of everything but ``raw``."""
        return {
            "id": self.id,
            "name": self.name,
            "diamond_count": self.diamond_count,
            "image_url": self.image_url,
            "streakable": self.streakable,
            "on_panel": self.on_panel,
            "type": self.type,
        }


def parse_gifts(data: object) -> list[GiftInfo]:
    """The gifts of a gift list's ``data``: ``data.gifts`` and the gifts of ``data.pages[*]``, once each by id, in
    the order given; entries without a usable id are skipped."""
    found: dict[int, GiftInfo] = {}
    groups: list[object] = [get_path(data, "gifts")]
    pages = get_path(data, "pages")
    if isinstance(pages, list):
        groups.extend(get_path(page, "gifts") for page in pages)
    for group in groups:
        if not isinstance(group, list):
            continue
        for item in group:
            gift = _gift(item)
            if gift is not None and gift.id not in found:
                found[gift.id] = gift
    return list(found.values())


def _gift(item: object) -> GiftInfo | None:
    if not isinstance(item, dict):
        return None
    gift_id = to_int(item.get("id"))
    if not gift_id:
        return None
    gift_type = to_int(item.get("type"))
    combo = item.get("combo")
    on_panel = item.get("is_displayed_on_panel")
    return GiftInfo(
        id=gift_id,
        name=text(item.get("name"), 256),
        diamond_count=to_int(item.get("diamond_count")),
        image_url=first_url(item.get("image")) or first_url(item.get("icon")),
        streakable=combo if isinstance(combo, bool) else gift_type == 1,
        on_panel=on_panel if isinstance(on_panel, bool) else True,
        type=gift_type,
        raw=item,
    )
