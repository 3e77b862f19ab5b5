"""Every generated event, found by walking ``REGISTRY`` (never a hand list): properties, round-trips and names."""

from __future__ import annotations

import base64
import keyword
from collections.abc import Mapping
from typing import Any, TypeAlias

import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

import tiktok_live.events as ev
from tiktok_live._base import BaseEvent, ProtoEvent, UnknownEvent
from tiktok_live._derived import DERIVED
from tiktok_live._generated.registry import REGISTRY
from tiktok_live._protocol import decode_message

EventClass = type[ProtoEvent[Message]]
Field: TypeAlias = Any
"""A field descriptor: the pure-Python and the upb descriptor classes have different stubs."""
CLASSES: list[EventClass] = sorted(set(REGISTRY.values()), key=lambda cls: cls.__name__)
WEBCAST = "Webcast"

# ProtoEvent's public attributes, plus `method`: UnknownEvent's wire method, which a field must not look like.
RESERVED = frozenset({"PROTO", "method", *(name for name in dir(ProtoEvent) if not name.startswith("_"))})
"""Event attributes a field must not shadow (``type``, ``bytes``, ``size``, ``proto``, ...)."""


def _class_id(cls: EventClass) -> str:
    return cls.__name__


def _generated_properties(cls: type) -> dict[str, property]:
    """The class's own properties: one per top-level field of its message."""
    return {name: value for name, value in vars(cls).items() if isinstance(value, property)}


def _mixin_properties(cls: type) -> dict[str, property]:
    """Properties the class inherits from mixins (not from BaseEvent / ProtoEvent)."""
    found: dict[str, property] = {}
    for base in cls.__mro__[1:]:
        if base in (BaseEvent, ProtoEvent, object):
            continue
        for name, value in vars(base).items():
            if isinstance(value, property):
                found.setdefault(name, value)
    return found


def _field_of(cls: EventClass, name: str) -> Field:
    fields = cls.PROTO.DESCRIPTOR.fields_by_name
    field = fields.get(name) or (fields.get(name[:-1]) if name.endswith("_") else None)
    assert field is not None, f"{cls.__name__}.{name} reads no field of {cls.PROTO.DESCRIPTOR.name}"
    return field


def _expected_property_name(field: Field) -> str:
    return f"{field.name}_" if field.name in RESERVED or keyword.iskeyword(field.name) else field.name


def _is_default(value: object) -> bool:
    if isinstance(value, Message):
        return value.ByteSize() == 0
    if isinstance(value, str | bytes | int | float):
        return not value
    return len(value) == 0  # type: ignore[arg-type]  # repeated and map containers


# ── Building populated messages from descriptors. ───────────────────────────────────────────────────────────────

_SIGNED_32 = {FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SFIXED32}
_UNSIGNED_32 = {FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32}
_SIGNED_64 = {FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_SFIXED64}
_UNSIGNED_64 = {FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64}


def sample_value(field: Field) -> object:
    """A non-default value for a scalar or enum field, distinct per field number (64-bit ones beyond 2**53)."""
    kind, number = field.type, field.number
    if kind in _SIGNED_32:
        return -(1000 + number)
    if kind in _UNSIGNED_32:
        return 1000 + number
    if kind in _SIGNED_64:
        return 2**62 + number
    if kind in _UNSIGNED_64:
        return 2**63 + number
    if kind == FieldDescriptor.TYPE_FLOAT:
        return number + 0.5  # exact in float32
    if kind == FieldDescriptor.TYPE_DOUBLE:
        return number + 0.25
    if kind == FieldDescriptor.TYPE_BOOL:
        return True
    if kind == FieldDescriptor.TYPE_STRING:
        return f"{field.name}-é✓"
    if kind == FieldDescriptor.TYPE_BYTES:
        return b"\x00\xff" + field.name.encode()
    if kind == FieldDescriptor.TYPE_ENUM:
        nonzero = [value.number for value in field.enum_type.values if value.number != 0]
        return nonzero[0] if nonzero else 1
    raise AssertionError(f"no sample for field {field.full_name} of type {kind}")


def _is_map(field: Field) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def set_one_scalar(message: Message, depth: int = 0) -> bool:
    """Make ``message`` non-empty with one value: its first singular scalar, else a repeated scalar, else (up to a
    few levels deep) one nested message. Returns False (leaving it merely present) when nothing can be set."""
    message.SetInParent()
    fields = message.DESCRIPTOR.fields
    for field in fields:
        if field.type != FieldDescriptor.TYPE_MESSAGE and not field.is_repeated:
            setattr(message, field.name, sample_value(field))
            return True
    for field in fields:
        if field.type != FieldDescriptor.TYPE_MESSAGE:
            getattr(message, field.name).append(sample_value(field))
            return True
    if depth < 4:
        for field in fields:
            container: Any = getattr(message, field.name)
            if _is_map(field):
                _fill_map(container, field)
                return True
            nested = container.add() if field.is_repeated else container
            if set_one_scalar(nested, depth + 1):
                return True
            if field.is_repeated:
                del container[:]
    return False


def _fill_map(container: Any, field: Field) -> None:
    key = sample_value(field.message_type.fields_by_name["key"])
    value_field = field.message_type.fields_by_name["value"]
    if value_field.type == FieldDescriptor.TYPE_MESSAGE:
        set_one_scalar(container[key])
    else:
        container[key] = sample_value(value_field)


def populate(message: Message) -> None:
    """Give every top-level field a non-default value (message fields get one nested scalar)."""
    used_oneofs: set[str] = set()
    for field in message.DESCRIPTOR.fields:
        oneof = field.containing_oneof
        if oneof is not None:
            if oneof.full_name in used_oneofs:
                continue
            used_oneofs.add(oneof.full_name)
        container: Any = getattr(message, field.name)
        if _is_map(field):
            _fill_map(container, field)
        elif field.is_repeated and field.type == FieldDescriptor.TYPE_MESSAGE:
            set_one_scalar(container.add())
        elif field.is_repeated:
            container.append(sample_value(field))
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            set_one_scalar(container)
        else:
            setattr(message, field.name, sample_value(field))


def _field_value(message: Message, field: Field) -> object:
    value: Any = getattr(message, field.name)
    if _is_map(field):
        return dict(value)
    if field.is_repeated:
        return list(value)
    return value


def _property_value(value: Any, field: Field) -> object:
    if _is_map(field):
        return dict(value)
    if field.is_repeated:
        return list(value)
    return value


# ── The walk over REGISTRY. ─────────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("cls", CLASSES, ids=_class_id)
def test_empty_payload(cls: EventClass) -> None:
    """An empty payload is a valid message: every property reads its default, mixins do not raise."""
    event = cls.from_bytes(b"")
    assert event.type == cls.__name__
    assert event.bytes == b""
    assert event.size == 0
    assert event.as_base64 == ""
    assert isinstance(event.proto, cls.PROTO)
    assert cls.__name__ in repr(event)
    properties = _generated_properties(cls)
    assert properties, f"{cls.__name__} has no generated properties"
    for name in properties:
        value = getattr(event, name)
        assert _is_default(value), f"{cls.__name__}.{name} = {value!r} on an empty payload"
    for name in _mixin_properties(cls):
        getattr(event, name)
    for method in cls.METHODS:
        decoded = decode_message(method, b"")
        assert type(decoded) is cls
        assert decoded.bytes == b""


@pytest.mark.parametrize("cls", CLASSES, ids=_class_id)
def test_one_property_per_field(cls: EventClass) -> None:
    """Each top-level field has exactly one property, named after it (``_`` appended on a collision)."""
    descriptor = cls.PROTO.DESCRIPTOR
    properties = _generated_properties(cls)
    by_field = {_field_of(cls, name).number: name for name in properties}
    assert len(by_field) == len(properties), f"{cls.__name__}: two properties read the same field"
    assert sorted(by_field) == sorted(field.number for field in descriptor.fields)
    for field in descriptor.fields:
        assert by_field[field.number] == _expected_property_name(field)
    clashes = set(properties) & set(_mixin_properties(cls))
    assert not clashes, f"{cls.__name__}: generated properties hide mixin properties {sorted(clashes)}"
    for klass in cls.__mro__:
        if klass not in (BaseEvent, ProtoEvent):
            shadowed = RESERVED & set(vars(klass))
            assert not shadowed or (klass is cls and shadowed <= {"METHODS", "PROTO"}), (klass, shadowed)


@pytest.mark.parametrize("cls", CLASSES, ids=_class_id)
def test_round_trip(cls: EventClass) -> None:
    """A message with every field set survives serialization, ``from_bytes`` and the properties."""
    built = cls.PROTO()
    populate(built)
    data = built.SerializeToString()
    assert data

    event = cls.from_bytes(data)
    assert event.proto == built
    assert event.bytes == data
    assert event.size == len(data)
    assert event.as_base64 == base64.b64encode(data).decode("ascii")
    assert base64.b64decode(event.as_base64) == data
    assert event.type == cls.__name__

    for name in _generated_properties(cls):
        field = _field_of(cls, name)
        actual = _property_value(getattr(event, name), field)
        expected = _field_value(built, field)
        if field.message_type is not None and not field.message_type.fields:  # an empty message: presence only
            assert event.proto.HasField(field.name)
        else:
            assert not _is_default(expected), f"the builder left {field.full_name} unset"
        assert actual == expected, f"{cls.__name__}.{name}: {actual!r} != {expected!r}"
        if field.type != FieldDescriptor.TYPE_MESSAGE and not field.is_repeated:
            assert actual == sample_value(field)

    for name in _mixin_properties(cls):
        getattr(event, name)

    from_proto = cls(built)
    assert from_proto.proto is built
    assert from_proto.bytes == data
    for method in cls.METHODS:
        decoded = decode_message(method, data)
        assert type(decoded) is cls
        assert decoded.proto == built


# ── The registry. ───────────────────────────────────────────────────────────────────────────────────────────────


def test_registry_size() -> None:
    webcast = [method for method in REGISTRY if method.startswith(WEBCAST)]
    assert len(webcast) >= 222
    assert len(CLASSES) >= 222


def test_registry_is_read_only() -> None:
    with pytest.raises(TypeError):
        REGISTRY["WebcastChatMessage"] = UnknownEvent  # type: ignore[index]


def test_registry_aliases() -> None:
    for method, cls in REGISTRY.items():
        if method.startswith(WEBCAST):
            alias = method.removeprefix(WEBCAST)
            assert REGISTRY.get(alias) is cls, f"{alias} should map to {cls.__name__} like {method}"
            assert cls.PROTO.DESCRIPTOR.name == method, "a Webcast* method is its protobuf message's name"
        else:
            assert REGISTRY.get(WEBCAST + method) is cls, f"alias {method} without a Webcast{method}"


@pytest.mark.parametrize("cls", CLASSES, ids=_class_id)
def test_methods_match_registry(cls: EventClass) -> None:
    assert cls.METHODS, f"{cls.__name__} has no METHODS"
    assert sorted(cls.METHODS) == sorted(method for method, value in REGISTRY.items() if value is cls)
    assert issubclass(cls.PROTO, Message)
    assert cls.__name__.endswith("Event")
    assert getattr(ev, cls.__name__) is cls


NAMED_EVENTS = {
    "CommentEvent": "WebcastChatMessage",
    "JoinEvent": "WebcastMemberMessage",
    "GiftEvent": "WebcastGiftMessage",
    "LikeEvent": "WebcastLikeMessage",
    "SocialEvent": "WebcastSocialMessage",
    "ControlEvent": "WebcastControlMessage",
    "RoomUserSeqEvent": "WebcastRoomUserSeqMessage",
    "DiggEvent": "WebcastDiggMessage",
    "GoalUpdateEvent": "WebcastGoalUpdateMessage",
    "PollEvent": "WebcastPollMessage",
    "RoomPinEvent": "WebcastRoomPinMessage",
    "SubNotifyEvent": "WebcastSubNotifyMessage",
    "EmoteChatEvent": "WebcastEmoteChatMessage",
    "LinkMicBattleEvent": "WebcastLinkMicBattle",
    "RankUpdateEvent": "WebcastRankUpdateMessage",
    "SubPinEventEvent": "WebcastSubPinEventMessage",
    "MessageDetectEvent": "WebcastMsgDetectMessage",
}
"""Public event names set by the spec (protocol.md §9): renaming one is a breaking change."""


@pytest.mark.parametrize(("name", "method"), sorted(NAMED_EVENTS.items()))
def test_named_event(name: str, method: str) -> None:
    cls = getattr(ev, name)
    assert cls.__name__ == name
    assert REGISTRY[method] is cls
    assert REGISTRY[method.removeprefix(WEBCAST)] is cls
    assert method in cls.METHODS
    assert cls.PROTO.DESCRIPTOR.name == method


@pytest.mark.parametrize("alias", ["RoomMessage", "LinkMicMethod"])
def test_prefixless_wire_methods(alias: str) -> None:
    """TikTok sends some methods without the Webcast prefix; they decode like the prefixed name."""
    cls = REGISTRY[alias]
    assert cls is REGISTRY[WEBCAST + alias]
    built = cls.PROTO()
    populate(built)
    event = decode_message(alias, built.SerializeToString())
    assert type(event) is cls
    assert event.proto == built


def test_collision_renames_exist() -> None:
    """Fields named like an event attribute or keyword get a trailing underscore; the attribute keeps working."""
    renamed = [
        (cls, field)
        for cls in CLASSES
        for field in cls.PROTO.DESCRIPTOR.fields
        if field.name in RESERVED or keyword.iskeyword(field.name)
    ]
    assert any(field.name == "type" for _, field in renamed), "the schema has `type` fields: expect `type_`"
    for cls, field in renamed:
        built = cls.PROTO()
        setattr(built, field.name, sample_value(field))
        event = cls.from_bytes(built.SerializeToString())
        assert getattr(event, f"{field.name}_") == sample_value(field)
        assert event.type == cls.__name__  # BaseEvent.type, not the field
        assert isinstance(event.bytes, bytes)


def test_derived_events_are_not_registered() -> None:
    registered = set(REGISTRY.values())
    for derived in DERIVED.values():
        for cls in derived:
            assert cls not in registered
            assert cls.METHODS == ()  # type: ignore[attr-defined]  # derived events are ProtoEvents


def test_every_class_has_events_module_entry() -> None:
    public: Mapping[str, object] = {name: getattr(ev, name) for name in ev.__all__}
    assert {cls.__name__ for cls in CLASSES} <= set(public)
