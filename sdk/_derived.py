"""Custom events derived from TikTok's messages, as pure functions of the source event (the rules TikTokLive and
tiktok-live-connector agree on).

Each derived event subclasses its source event, shares its decoded message (no second parse) and is emitted right
after it: a follow gives ``SocialEvent`` then ``FollowEvent``. ``SOURCE`` names the source class, so the client
decodes a source message when someone listens to the source or to any event derived from it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import ClassVar, Final

from tiktok_live._base import BaseEvent, user_label
from tiktok_live._generated.events import BarrageEvent, ControlEvent, EnvelopeEvent, SocialEvent

__all__ = [  # the event classes only: tiktok_live.events re-exports this list
    "FollowEvent",
    "LiveEndEvent",
    "LivePauseEvent",
    "LiveUnpauseEvent",
    "ShareEvent",
    "SuperFanBoxEvent",
    "SuperFanEvent",
    "SuperFanJoinEvent",
]

_SHARE_VIEWERS: Final = re.compile(r"pm_mt_guidance_viewer_(\d+)_share")
SUPER_FAN_JOINED: Final = "ttlive_superfan_commentnotif_superfanjoined"
SUPER_FAN: Final = "ttlive_superfan"
SUPER_FAN_BOX: Final = "ttlive_superfanbox"
SUPER_FAN_BOX_BUSINESS_TYPE: Final = 19


class FollowEvent(SocialEvent):
    """A viewer followed the host: a SocialEvent whose display key contains ``follow``. Emitted after it."""

    __slots__ = ()
    METHODS: ClassVar[tuple[str, ...]] = ()
    SOURCE: ClassVar[type[BaseEvent]] = SocialEvent

    def _summary(self) -> str:
        return f"{user_label(self.proto.user)} followed the host"


class ShareEvent(SocialEvent):
    """A viewer shared the stream: a SocialEvent whose display key contains ``share``. Emitted after it."""

    __slots__ = ()
    METHODS: ClassVar[tuple[str, ...]] = ()
    SOURCE: ClassVar[type[BaseEvent]] = SocialEvent

    def _summary(self) -> str:
        joined = self.users_joined
        return f"{user_label(self.proto.user)} shared the LIVE" + (f", {joined} joined" if joined else "")

    @property
    def users_joined(self) -> int | None:
        """Viewers this share brought in (display key ``pm_mt_guidance_viewer_<N>_share``); None when not given."""
        match = _SHARE_VIEWERS.search(self.proto.common.display_text.key)
        return int(match.group(1)) if match else None


class LiveEndEvent(ControlEvent):
    """The stream ended: ControlEvent action 3 (ended by the host) or 4 (suspended by TikTok). The client stops."""

    __slots__ = ()
    METHODS: ClassVar[tuple[str, ...]] = ()
    SOURCE: ClassVar[type[BaseEvent]] = ControlEvent

    def _summary(self) -> str:
        return "the LIVE was suspended by TikTok" if self.proto.action == 4 else "the host ended the LIVE"


class LivePauseEvent(ControlEvent):
    """The host paused the stream (ControlEvent action 1)."""

    __slots__ = ()
    METHODS: ClassVar[tuple[str, ...]] = ()
    SOURCE: ClassVar[type[BaseEvent]] = ControlEvent

    def _summary(self) -> str:
        return "the host paused the LIVE"


class LiveUnpauseEvent(ControlEvent):
    """The host resumed a paused stream (ControlEvent action 2)."""

    __slots__ = ()
    METHODS: ClassVar[tuple[str, ...]] = ()
    SOURCE: ClassVar[type[BaseEvent]] = ControlEvent

    def _summary(self) -> str:
        return "the host resumed the LIVE"


class SuperFanJoinEvent(BarrageEvent):
    """A super fan joined the room: a BarrageEvent whose content key names ``superfanjoined``."""

    __slots__ = ()
    METHODS: ClassVar[tuple[str, ...]] = ()
    SOURCE: ClassVar[type[BaseEvent]] = BarrageEvent

    def _summary(self) -> str:
        return f"{user_label(self.proto.user)} joined as a super fan"


class SuperFanEvent(BarrageEvent):
    """A super fan banner (other than a join): a BarrageEvent whose content key contains ``ttlive_superfan``."""

    __slots__ = ()
    METHODS: ClassVar[tuple[str, ...]] = ()
    SOURCE: ClassVar[type[BaseEvent]] = BarrageEvent


class SuperFanBoxEvent(EnvelopeEvent):
    """A super fan box (treasure chest for super fans): display key ``ttlive_superfanbox`` or business type 19."""

    __slots__ = ()
    METHODS: ClassVar[tuple[str, ...]] = ()
    SOURCE: ClassVar[type[BaseEvent]] = EnvelopeEvent


def _from_social(event: SocialEvent) -> tuple[BaseEvent, ...]:
    # Follow is checked before share (TikTokLive and tiktok-live-connector agree); only Social messages qualify.
    key = event.proto.common.display_text.key.lower()
    if "follow" in key:
        return (FollowEvent(event.proto, event.bytes, event.msg_id),)
    if "share" in key:
        return (ShareEvent(event.proto, event.bytes, event.msg_id),)
    return ()


_CONTROL_ACTIONS: Final[Mapping[int, type[ControlEvent]]] = MappingProxyType(
    {1: LivePauseEvent, 2: LiveUnpauseEvent, 3: LiveEndEvent, 4: LiveEndEvent}
)


def _from_control(event: ControlEvent) -> tuple[BaseEvent, ...]:
    derived = _CONTROL_ACTIONS.get(event.proto.action)
    return (derived(event.proto, event.bytes, event.msg_id),) if derived is not None else ()


def _from_barrage(event: BarrageEvent) -> tuple[BaseEvent, ...]:
    # Read `key` of both texts: TikTokLive 7.0.1 reads a renamed attribute here and never fires these events.
    keys = (event.proto.content.key.lower(), event.proto.common_barrage_content.key.lower())
    if any(SUPER_FAN_JOINED in key for key in keys):
        return (SuperFanJoinEvent(event.proto, event.bytes, event.msg_id),)
    if any(SUPER_FAN in key for key in keys):
        return (SuperFanEvent(event.proto, event.bytes, event.msg_id),)
    return ()


def _from_envelope(event: EnvelopeEvent) -> tuple[BaseEvent, ...]:
    proto = event.proto
    if (
        SUPER_FAN_BOX in proto.common.display_text.key.lower()
        or proto.envelope_info.business_type == SUPER_FAN_BOX_BUSINESS_TYPE
    ):
        return (SuperFanBoxEvent(proto, event.bytes, event.msg_id),)
    return ()


_DERIVERS: Final[Mapping[type[BaseEvent], Callable[[BaseEvent], tuple[BaseEvent, ...]]]] = MappingProxyType(
    {
        SocialEvent: _from_social,  # type: ignore[dict-item]  # each deriver receives exactly its key's class
        ControlEvent: _from_control,  # type: ignore[dict-item]
        BarrageEvent: _from_barrage,  # type: ignore[dict-item]
        EnvelopeEvent: _from_envelope,  # type: ignore[dict-item]
    }
)

DERIVED: Final[Mapping[type[BaseEvent], tuple[type[BaseEvent], ...]]] = MappingProxyType(
    {
        SocialEvent: (FollowEvent, ShareEvent),
        ControlEvent: (LivePauseEvent, LiveUnpauseEvent, LiveEndEvent),
        BarrageEvent: (SuperFanJoinEvent, SuperFanEvent),
        EnvelopeEvent: (SuperFanBoxEvent,),
    }
)
"""Source event class -> the event classes that may be derived from it."""


def derive(event: BaseEvent) -> tuple[BaseEvent, ...]:
    """The custom events derived from ``event`` (usually none), in emission order. Pure; never raises for valid
    events."""
    deriver = _DERIVERS.get(type(event))
    return deriver(event) if deriver is not None else ()
