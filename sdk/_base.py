"""Event base classes and the hand-written behaviour of generated events.

- :class:`BaseEvent`: what every event has — its name (``type``) and payload (``bytes``, ``as_base64``, ``size``).
- :class:`ProtoEvent`: an event that wraps a decoded protobuf (upb) message; every generated event derives from it.
- :class:`UnknownEvent`: a message no event class knows, or one whose payload did not decode.
- ``*Mixin`` classes: convenience properties of generated events. ``codegen/events.toml`` names the mixin an event
  gets; the generator reads the properties from this file for the Events reference.

This module is a leaf: at run time it imports nothing from ``tiktok_live._generated`` (the generated events import
it), so no import cycle can form. Protobuf types appear only in annotations.
"""

from __future__ import annotations

import base64
import builtins
import re
from collections.abc import Mapping, Sized
from typing import TYPE_CHECKING, ClassVar, Final, Generic, Protocol, TypeAlias, TypeVar, cast

from google.protobuf import empty_pb2
from google.protobuf.message import DecodeError, Message
from google.protobuf.unknown_fields import UnknownFieldSet

if TYPE_CHECKING:
    from typing import Self

    from google.protobuf.descriptor import FieldDescriptor

    from tiktok_live._generated.pb import webcast_pb2 as pb

__all__ = [
    "BaseEvent",
    "FieldValue",
    "ProtoEvent",
    "UnknownEvent",
    "enum_label",
    "user_label",
]

DIAMOND_USD: Final = 0.005
"""The USD estimate per diamond that TikTokLive uses for ``GiftEvent.value``."""
SUMMARY_FIELDS: Final = 5
"""How many set fields the generic summary of an event without a summary format shows."""
SUMMARY_TEXT: Final = 40
"""Longest text value (characters) the generic summary shows before cutting it with an ellipsis."""


class _UserLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def nickname(self) -> str: ...
    @property
    def unique_id(self) -> str: ...


def user_label(user: _UserLike) -> str:
    """How a summary names a user: ``nickname (@unique_id)``, or whichever of them is set, or ``user <id>``, or
    ``someone`` for an empty ``User``."""
    if user.nickname and user.unique_id:
        return f"{user.nickname} (@{user.unique_id})"
    if user.unique_id:
        return f"@{user.unique_id}"
    if user.nickname:
        return user.nickname
    return f"user {user.id}" if user.id else "someone"


def enum_label(message: Message, field: str) -> str:
    """The name of the value of enum field ``field`` of ``message``; its number when the schema does not know it
    (TikTok adds values before the schema does)."""
    number = getattr(message, field)
    enum_type = message.DESCRIPTOR.fields_by_name[field].enum_type
    value = enum_type.values_by_number.get(number) if enum_type is not None else None
    return value.name if value is not None else str(number)


class BaseEvent:
    """Base of every event: its name and the payload bytes it was built from.

    ``type`` is the event's class name (``"CommentEvent"``); ``bytes`` the payload exactly as received (empty for
    events not built from a payload, such as connection events); ``msg_id`` the id TikTok gave the message in its
    envelope (0 for events not built from a message).
    """

    __slots__ = ("_msg_id", "_payload")

    def __init__(self, payload: builtins.bytes = b"", msg_id: int = 0) -> None:
        self._payload = payload
        self._msg_id = msg_id

    @property
    def msg_id(self) -> int:
        """The message's id from its envelope (``BaseProtoMessage.msg_id``), the key TikTok deduplicates on; a
        derived event shares its source's. 0 for events that did not come from a message (connection events) and
        for messages sent without one."""
        return self._msg_id

    @property
    def type(self) -> str:
        """The event's name: its class name, e.g. ``"GiftEvent"``."""
        return type(self).__name__

    @property
    def bytes(self) -> builtins.bytes:
        """The payload as received from TikTok (no copy)."""
        return self._payload

    @property
    def as_base64(self) -> str:
        """The payload, base64-encoded (standard alphabet, padded)."""
        return base64.b64encode(self._payload).decode("ascii")

    @property
    def size(self) -> int:
        """The payload's length in bytes."""
        return len(self._payload)

    def _summary(self) -> str:
        """What ``str(event)`` shows after the event's name: who did what, the key values ("" for nothing)."""
        return ""

    def __str__(self) -> str:
        """The event's name and a one-line summary for people: ``CommentEvent: alice (@alice) says: hi``."""
        summary = self._summary()
        return f"{self.type}: {summary}" if summary else self.type

    def __repr__(self) -> str:
        return f"<{self.type} size={self.size}>"


M = TypeVar("M", bound=Message, covariant=True)


class ProtoEvent(BaseEvent, Generic[M]):
    """An event wrapping one decoded protobuf message: ``proto`` is the typed message, fields are attributes.

    Build one from wire bytes with :meth:`from_bytes` (raises ``google.protobuf.message.DecodeError`` on a corrupt
    payload; :func:`tiktok_live.events.decode_message` never raises) or from a message with the constructor.
    """

    __slots__ = ("_proto",)

    METHODS: ClassVar[tuple[str, ...]] = ()
    """Wire method names (``BaseProtoMessage.method``) that decode to this event."""
    PROTO: ClassVar[type[Message]]
    """The protobuf message class of the payload."""

    def __init__(self, proto: M, payload: builtins.bytes | None = None, msg_id: int = 0) -> None:
        super().__init__(proto.SerializeToString() if payload is None else payload, msg_id)
        self._proto = proto

    @classmethod
    def from_bytes(cls, payload: builtins.bytes, msg_id: int = 0) -> Self:
        """Decode ``payload`` with this event's message class (upb); raises ``DecodeError`` if it is corrupt.
        ``msg_id`` is the envelope's message id, if known."""
        proto = cls.PROTO()
        proto.ParseFromString(payload)
        # The constructor's work, inlined: this runs once per decoded message on the hot path.
        event = cls.__new__(cls)
        event._payload = payload
        event._msg_id = msg_id
        event._proto = proto  # type: ignore[assignment]  # PROTO is this class's M, by construction
        return event

    @property
    def proto(self) -> M:
        """The decoded protobuf message (typed); its fields are also this event's attributes."""
        return self._proto

    def _summary(self) -> str:
        """Generic summary, for events whose ``codegen/events.toml`` entry gives no ``summary`` format: up to
        :data:`SUMMARY_FIELDS` set fields as ``name=value`` (users first, ``common`` left out), then ``+N more``."""
        shown: list[tuple[bool, str]] = []
        more = 0
        for descriptor, value in self._proto.ListFields():
            if descriptor.name == "common":
                continue
            text = _field_text(descriptor, value)
            if text is None:
                more += 1
                continue
            attr = descriptor.name
            if isinstance(getattr(type(self), f"{attr}_", None), property):  # renamed attribute (``type_``)
                attr = f"{attr}_"
            is_user = descriptor.message_type is not None and not descriptor.is_repeated
            shown.append((not is_user, f"{attr}={text}"))
        shown.sort(key=lambda item: item[0])  # stable: users first, then the fields in number order
        more += max(len(shown) - SUMMARY_FIELDS, 0)
        parts = [text for _, text in shown[:SUMMARY_FIELDS]]
        return ", ".join([*parts, f"+{more} more"] if more else parts)

    def __repr__(self) -> str:
        msg_id = self._msg_id
        if not msg_id:  # built from a message alone: its common block may carry the id
            common = getattr(self._proto, "common", None)
            msg_id = getattr(common, "msg_id", 0) if isinstance(common, Message) else 0
        ident = f" msg_id={msg_id}" if msg_id else ""
        summary = self._summary()
        if len(summary) > 2 * SUMMARY_TEXT:
            summary = summary[: 2 * SUMMARY_TEXT - 1] + "…"
        return f"<{self.type} {type(self._proto).__name__}{ident} size={self.size}{': ' if summary else ''}{summary}>"


def _field_text(descriptor: FieldDescriptor, value: object) -> str | None:
    """A set field's value for the generic summary; None for nested messages other than users."""
    if descriptor.is_repeated:
        return f"<{len(value)} items>" if isinstance(value, Sized) else None
    if descriptor.message_type is not None:
        return user_label(cast("_UserLike", value)) if descriptor.message_type.name == "User" else None
    if descriptor.enum_type is not None and isinstance(value, int):
        known = descriptor.enum_type.values_by_number.get(value)
        return known.name if known is not None else str(value)
    if isinstance(value, str):
        return repr(value if len(value) <= SUMMARY_TEXT else value[: SUMMARY_TEXT - 1] + "…")
    if isinstance(value, builtins.bytes):
        return f"<{len(value)} bytes>"
    return str(value)


ScalarValue: TypeAlias = "int | builtins.bytes | str"
FieldValue: TypeAlias = "int | builtins.bytes | str | Mapping[int, list[FieldValue]]"
"""A raw field value in :meth:`UnknownEvent.fields`: a number, text, bytes, or a nested message's fields."""

_MAX_DEPTH: Final = 32


def _view(data: builtins.bytes, depth: int) -> dict[int, list[FieldValue]]:
    """Parse ``data`` as an unknown protobuf message; raise DecodeError when it is not one."""
    holder = empty_pb2.Empty()
    holder.ParseFromString(data)
    return _fields(UnknownFieldSet(holder), depth)


def _fields(unknown: UnknownFieldSet, depth: int) -> dict[int, list[FieldValue]]:
    fields: dict[int, list[FieldValue]] = {}
    for index in range(len(unknown)):
        item = unknown[index]
        raw: object = item.data
        value: FieldValue
        if isinstance(raw, builtins.bytes):
            value = _length_delimited(raw, depth)
        elif isinstance(raw, UnknownFieldSet):  # a group (wire type 3, deprecated): its fields, like a message
            value = _fields(raw, depth + 1)
        elif isinstance(raw, int):
            value = raw
        else:
            value = repr(raw)
        fields.setdefault(item.field_number, []).append(value)
    return fields


def _length_delimited(data: builtins.bytes, depth: int) -> FieldValue:
    """Best effort: a nested message if ``data`` parses as one, else UTF-8 text, else the bytes."""
    if data and depth < _MAX_DEPTH:
        try:
            nested = _view(data, depth + 1)
        except DecodeError:
            pass
        else:
            if nested and not _looks_like_text(data):
                return nested
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    return text


_PRINTABLE = re.compile(r"[\t\n\r\x20-\x7e\u00a0-\U0010ffff]*")


def printable_text(data: builtins.bytes) -> str | None:
    """``data`` as text when it is UTF-8 made only of printable characters (tabs and newlines allowed), else
    None: how raw length-delimited fields tell text from nested messages and binary."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if _PRINTABLE.fullmatch(text) else None


def _looks_like_text(data: builtins.bytes) -> bool:
    return printable_text(data) is not None


class UnknownEvent(BaseEvent):
    """A message no event class decodes: its method is unknown, or its payload failed to decode.

    ``decode_error`` is ``None`` for an unknown method and the decoder's error otherwise. The bytes are kept as
    received; :meth:`fields` gives a best-effort generic view of them for exploring.
    """

    __slots__ = ("_decode_error", "_method")

    def __init__(
        self, method: str, payload: builtins.bytes, decode_error: Exception | None = None, msg_id: int = 0
    ) -> None:
        super().__init__(payload, msg_id)
        self._method = method
        self._decode_error = decode_error

    @property
    def method(self) -> str:
        """The wire method name as TikTok sent it."""
        return self._method

    @property
    def decode_error(self) -> Exception | None:
        """Why the payload did not decode with its method's class; ``None`` when the method is simply unknown."""
        return self._decode_error

    def fields(self) -> dict[int, list[FieldValue]]:
        """The payload's raw fields by number (repeated fields give several values), decoded best-effort.

        Length-delimited values become a nested ``{number: [...]}`` view when they parse as a message and do not
        read as text, else ``str`` when valid UTF-8, else ``bytes``. Returns ``{}`` if the payload is not protobuf.
        """
        try:
            return _view(self._payload, 0)
        except DecodeError:
            return {}

    def _summary(self) -> str:
        state = "undecodable" if self._decode_error is not None else "no event class"
        return f"{self._method}, {self.size} bytes ({state})"

    def __repr__(self) -> str:
        error = f" decode_error={self._decode_error!r}" if self._decode_error is not None else ""
        return f"<UnknownEvent method={self._method!r} size={self.size}{error}>"


# ── Mixins: hand-written convenience properties of generated events (named in codegen/events.toml). ───────────
# Each mixin types ``self`` with a Protocol for the message it reads, so mypy checks the field accesses.


class _Chat(Protocol):
    @property
    def proto(self) -> pb.WebcastChatMessage: ...


class _Gift(Protocol):
    @property
    def proto(self) -> pb.WebcastGiftMessage: ...


class _RoomUserSeq(Protocol):
    @property
    def proto(self) -> pb.WebcastRoomUserSeqMessage: ...


class _Social(Protocol):
    @property
    def proto(self) -> pb.WebcastSocialMessage: ...


class _Control(Protocol):
    @property
    def proto(self) -> pb.WebcastControlMessage: ...


def _is_super_fan(identity: pb.UserIdentity, present: bool) -> bool:
    return present and identity.is_subscriber_of_anchor


class CommentMixin:
    """Convenience properties of :class:`CommentEvent` (TikTokLive's names)."""

    __slots__ = ()

    @property
    def comment(self: _Chat) -> str:
        """The comment's text (``content``)."""
        return self.proto.content

    @property
    def user_info(self: _Chat) -> pb.User:
        """The commenting user (``user``)."""
        return self.proto.user

    @property
    def user_is_super_fan(self: _Chat) -> bool:
        """Whether the commenter is a super fan (subscriber) of the host, per ``user_identity``."""
        return _is_super_fan(self.proto.user_identity, self.proto.HasField("user_identity"))


class GiftMixin:
    """Convenience properties of :class:`GiftEvent`: streak state and value.

    A streakable gift (``gift.type == 1``) arrives several times while the sender repeats it, with a growing
    ``repeat_count``; the last message has ``repeat_end`` set. Count a gift once, when it is not ``streaking``.
    """

    __slots__ = ()

    @property
    def m_gift(self: _Gift) -> pb.Gift:
        """The gift (``gift``); TikTokLive's name."""
        return self.proto.gift

    @property
    def from_user(self: _Gift) -> pb.User:
        """The sender (``user``)."""
        return self.proto.user

    @property
    def streakable(self: _Gift) -> bool:
        """Whether the gift can be sent in a streak (``gift.type == 1``)."""
        return self.proto.gift.type == 1

    @property
    def streaking(self: _Gift) -> bool:
        """Whether a streak is still running: streakable and not ``repeat_end``. Count the gift when this is False."""
        return self.proto.gift.type == 1 and not self.proto.repeat_end

    @property
    def diamonds(self: _Gift) -> int | None:
        """Diamonds of this gift event (``gift.diamond_count`` times ``repeat_count``); None while streaking."""
        proto = self.proto
        if proto.gift.type == 1 and not proto.repeat_end:
            return None
        return proto.gift.diamond_count * max(proto.repeat_count, 1)

    @property
    def value(self: _Gift) -> float | None:
        """Estimated USD value (0.005 per diamond, TikTokLive's rate); None while streaking."""
        proto = self.proto
        if proto.gift.type == 1 and not proto.repeat_end:
            return None
        return proto.gift.diamond_count * max(proto.repeat_count, 1) * DIAMOND_USD

    @property
    def user_is_super_fan(self: _Gift) -> bool:
        """Whether the sender is a super fan (subscriber) of the host, per ``user_identity``."""
        return _is_super_fan(self.proto.user_identity, self.proto.HasField("user_identity"))


class RoomUserSeqMixin:
    """Convenience properties of :class:`RoomUserSeqEvent`: the viewer count and the ranked top viewers."""

    __slots__ = ()

    @property
    def viewer_count(self: _RoomUserSeq) -> int:
        """Current viewers (``total``)."""
        return self.proto.total

    @property
    def top_viewers(self: _RoomUserSeq) -> list[pb.Contributor]:
        """The ranked viewers (``ranks``), highest ``score`` first."""
        return sorted(self.proto.ranks, key=lambda contributor: contributor.score, reverse=True)


class SocialMixin:
    """Convenience properties of :class:`SocialEvent`; FollowEvent and ShareEvent are derived from it."""

    __slots__ = ()

    @property
    def display_key(self: _Social) -> str:
        """The display key (``common.display_text.key``), e.g. ``pm_main_follow_message_viewer_2``."""
        return self.proto.common.display_text.key


class ControlMixin:
    """Convenience properties of :class:`ControlEvent` (``action``: 1 paused, 2 unpaused, 3 ended, 4 suspended)."""

    __slots__ = ()

    @property
    def ends_stream(self: _Control) -> bool:
        """Whether this message ends the stream (action 3, ended by the host, or 4, suspended by TikTok)."""
        return self.proto.action in (3, 4)
