"""Every event class, the registry and ``decode_message``: the public events API.

- generated events, one per TikTok message type (``CommentEvent``, ``GiftEvent``, ...; see docs/events.md);
- derived events (``FollowEvent``, ``ShareEvent``, ``LiveEndEvent``, ``LivePauseEvent``, ``LiveUnpauseEvent`` and
  the super fan events), each emitted right after the event it is derived from;
- connection events: ``ConnectEvent``, ``DisconnectEvent``, ``ReconnectEvent``, ``ErrorEvent``,
  ``WebsocketResponseEvent``;
- ``BaseEvent``, ``ProtoEvent``, ``UnknownEvent``;
- ``REGISTRY``: read-only mapping wire method -> event class; ``decode_message(method, payload)``.

The generated classes and the protobuf schema load on first use of any of them (about 0.1 s), so that
``import tiktok_live`` stays fast; to mypy they are ordinary imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tiktok_live._base import BaseEvent, FieldValue, ProtoEvent, UnknownEvent
from tiktok_live._connection import ConnectEvent, DisconnectEvent, ErrorEvent, ReconnectEvent, WebsocketResponseEvent
from tiktok_live._generated.names import DERIVED_NAMES, EVENT_NAMES
from tiktok_live._lazy import lazy_attributes

if TYPE_CHECKING:
    from tiktok_live._derived import *  # noqa: F403  # the derived event classes (its __all__)
    from tiktok_live._generated.events import *  # noqa: F403
    from tiktok_live._generated.registry import REGISTRY as REGISTRY
    from tiktok_live._protocol import decode_message as decode_message

_LAZY: dict[str, str] = {
    **dict.fromkeys(EVENT_NAMES, "tiktok_live._generated.events"),
    **dict.fromkeys(DERIVED_NAMES, "tiktok_live._derived"),
    "REGISTRY": "tiktok_live._generated.registry",
    "decode_message": "tiktok_live._protocol",
}

__all__ = [  # the generated names come from tiktok_live._generated.names
    "BaseEvent",
    "ConnectEvent",
    "DisconnectEvent",
    "ErrorEvent",
    "ReconnectEvent",
    "WebsocketResponseEvent",
    "FieldValue",
    "ProtoEvent",
    "UnknownEvent",
    *sorted(_LAZY),
]


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
