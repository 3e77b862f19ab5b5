"""Captured payloads and frames (../shared/fixtures) decode to the values two reference decoders agree on.

Every payload in the manifest must decode with its method's registry class and match every key field of its
``expected`` block; every frame must match its ``expected_frame`` / ``expected_fetch_result``. The manifest's
conventions (``manifest["conventions"]``): integers >= 2**53 are JSON strings, ``null`` or an absent key means unset
(the proto3 default), field names differ between schemas so fields are matched by number. A manifest key this file
cannot map fails the test: new keys need a mapping here, never a silent skip.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

from tests.sdk.conftest import MANIFEST_PATH, MISSING_FIXTURES, item_id, load_manifest, manifest_items
from tiktok_live._base import ProtoEvent, UnknownEvent
from tiktok_live._derived import DERIVED
from tiktok_live._generated.pb import transport_pb2, webcast_pb2
from tiktok_live._generated.registry import REGISTRY
from tiktok_live._protocol import (
    decode_fetch_result,
    decode_message,
    decode_push_frame,
    frame_header,
    frame_payload,
)
from tiktok_live.protocol import Session

if not MANIFEST_PATH.is_file():
    pytest.skip(MISSING_FIXTURES, allow_module_level=True)

MANIFEST = load_manifest() or {}
ITEMS = manifest_items()
FRAMES: list[dict[str, Any]] = list(MANIFEST.get("frames", []))

GZIP_MAGIC = b"\x1f\x8b\x08"
DERIVED_CLASSES = frozenset(cls for classes in DERIVED.values() for cls in classes)
ELLIPSIS = "\u2026"
"""Long strings in the manifest are cut to a prefix ending in an ellipsis."""

# ── Specs: manifest keys -> field numbers (nested specs for message fields). ────────────────────────────────────

Spec: TypeAlias = Mapping[str, "int | tuple[int, Spec]"]

USER: Spec = {"id": 1, "nickname": 3, "unique_id": 38, "sec_uid": 46, "id_str": 1028}
"""``User`` key fields; ``unique_id`` is field 38 (TikTokLive ``display_id``)."""
GIFT: Spec = {"id": 5, "name": 16, "diamond_count": 12, "type": 11, "combo": 10}
CONTRIBUTOR: Spec = {"score": 1, "rank": 3, "user": (2, USER)}
COMMON: Spec = {"method": 1, "msg_id": 2, "room_id": 3, "create_time": 4}
"""``CommonMessageData``: every key is checked, an absent one against the default (some messages omit create_time)."""

# A core type's expected key -> how to read it from the event (generated properties where they exist), plus the
# spec of its value when that is a message (or a list of messages).
Getter: TypeAlias = Callable[[Any], object]
Reader: TypeAlias = "Getter | tuple[Getter, Spec]"


def _prop(name: str) -> Getter:
    def read(event: Any) -> object:
        return getattr(event, name)

    return read


def _by_number(number: int) -> Getter:
    def read(event: Any) -> object:
        return _field_value(event.proto, number)

    return read


def _display_key(event: Any) -> object:
    return event.common.display_text.key


_USER_FIELD: tuple[Getter, Spec] = (_prop("user"), USER)

CORE: Mapping[str, Mapping[str, Reader]] = {
    "WebcastChatMessage": {
        "user": _USER_FIELD,
        "content": _prop("content"),
        "content_language": _prop("content_language"),
        "at_user": (_prop("at_user"), USER),
        "n_emotes": lambda event: len(event.emotes),
    },
    "WebcastControlMessage": {"action": _prop("action")},
    "WebcastEmoteChatMessage": {"user": _USER_FIELD, "n_emotes": lambda event: len(event.emote_list)},
    "WebcastGiftMessage": {
        "user": _USER_FIELD,
        "to_user": (_prop("to_user"), USER),
        "gift": (_prop("gift"), GIFT),
        "gift_id_top_level_field2": _by_number(2),
        "repeat_count": _prop("repeat_count"),
        "repeat_end": _prop("repeat_end"),
        "group_count": _prop("group_count"),
        "combo_count": _prop("combo_count"),
        "group_id": _prop("group_id"),
        "fan_ticket_count": _prop("fan_ticket_count"),
    },
    "WebcastImDeleteMessage": {
        "delete_msg_ids": _prop("delete_msg_ids"),
        "delete_user_ids": _prop("delete_user_ids"),
    },
    "WebcastLikeMessage": {
        "user": _USER_FIELD,
        "count": _prop("count"),
        "total": _prop("total"),
        "display_key": _display_key,
    },
    "WebcastLiveIntroMessage": {"user": _USER_FIELD, "content": _prop("content")},
    "WebcastMemberMessage": {
        "user": _USER_FIELD,
        "member_count": _prop("member_count"),
        "action": _prop("action"),
        "enter_type": _prop("enter_type"),
        "display_key": _display_key,
    },
    "WebcastQuestionNewMessage": {
        "question_text": lambda event: event.question.content,
        "user": (lambda event: event.question.user, USER),
    },
    "WebcastRoomUserSeqMessage": {
        "total": _prop("total"),
        "total_user": _prop("total_user"),
        "popularity": _prop("popularity"),
        "n_ranks": lambda event: len(event.ranks),
        "top_ranks": (_prop("ranks"), CONTRIBUTOR),
    },
    "WebcastSocialMessage": {
        "user": _USER_FIELD,
        "share_type": _prop("share_type"),
        "action": _prop("action"),
        "share_target": _prop("share_target"),
        "follow_count": _prop("follow_count"),
        "share_count": _prop("share_count"),
        "display_key": _display_key,
    },
    "WebcastSubNotifyMessage": {"user": _USER_FIELD, "sub_month": _prop("sub_month")},
}

SCALAR_SOURCES = ("top_level_scalars_tiktoklive", "top_level_scalars_webcast_proto")
ITEM_KEYS = {"sha256", "size", "method", "expected", "key_field_conflicts", "decoder_disagreements", "file"}
ITEM_INFO_KEYS = {"create_time_utc", "notes", "provenance"}
"""Manifest item keys that describe the capture and hold nothing to compare."""

# ── Comparison helpers. ─────────────────────────────────────────────────────────────────────────────────────────


def _field_value(message: Message, number: int) -> Any:
    field = message.DESCRIPTOR.fields_by_number.get(number)
    assert field is not None, f"{message.DESCRIPTOR.full_name} has no field {number}"
    return getattr(message, field.name)


def _is_default(value: object) -> bool:
    if isinstance(value, Message):
        return value.ByteSize() == 0
    if isinstance(value, str | bytes | int | float):
        return not value
    return len(value) == 0  # type: ignore[arg-type]  # repeated and map containers


def _check_scalar(expected: object, actual: object, where: str) -> None:
    """Compare one manifest scalar with a decoded value (big ints are strings; long strings may be cut)."""
    if expected is None:
        assert _is_default(actual), f"{where}: expected unset, got {actual!r}"
    elif isinstance(actual, bool):
        assert expected in (True, False, 0, 1), f"{where}: {expected!r} is not a boolean"
        assert actual is bool(expected), f"{where}: expected {expected!r}, got {actual!r}"
    elif isinstance(actual, int):
        assert isinstance(expected, int | str), f"{where}: expected {expected!r} for an integer field"
        assert actual == int(expected), f"{where}: expected {expected!r}, got {actual!r}"
    elif isinstance(actual, str) and isinstance(expected, str) and expected.endswith(ELLIPSIS) and actual != expected:
        prefix = expected.removesuffix(ELLIPSIS)
        assert actual.startswith(prefix) and len(actual) > len(prefix), f"{where}: {actual!r} !~ {expected!r}"
    else:
        assert actual == expected, f"{where}: expected {expected!r}, got {actual!r}"


def _check(expected: object, actual: object, spec: Spec | None, where: str) -> None:
    """Compare a manifest value with a decoded one: a message by ``spec``, a list element-wise, else a scalar."""
    if isinstance(expected, Mapping) and set(expected) == {"tiktoklive", "webcast_proto"}:
        raise AssertionError(f"{where}: decoder conflict {dict(expected)!r} must be resolved by the caller")
    if isinstance(actual, Message):
        assert spec is not None, f"{where}: no spec to compare a {actual.DESCRIPTOR.name} with {expected!r}"
        if expected is None:
            assert _is_default(actual), f"{where}: expected an unset {actual.DESCRIPTOR.name}, got {actual}"
            return
        assert isinstance(expected, Mapping), f"{where}: expected {expected!r} for a {actual.DESCRIPTOR.name}"
        _check_message(expected, actual, spec, where)
    elif isinstance(expected, list):
        assert not isinstance(actual, str | bytes | int) and actual is not None, f"{where}: {actual!r} is no list"
        values = list(actual)  # type: ignore[call-overload]  # repeated containers
        if values and isinstance(values[0], Message):  # only the top entries of a message list are given
            assert len(values) >= len(expected), f"{where}: {len(values)} entries, expected at least {len(expected)}"
            values = values[: len(expected)]
        assert len(values) == len(expected), f"{where}: expected {len(expected)} entries, got {len(values)}"
        for index, (want, got) in enumerate(zip(expected, values, strict=True)):
            _check(want, got, spec, f"{where}[{index}]")
    else:
        _check_scalar(expected, actual, where)


def _check_message(expected: Mapping[str, object], message: Message, spec: Spec, where: str) -> None:
    unmapped = sorted(set(expected) - set(spec))
    assert not unmapped, f"{where}: no mapping for manifest keys {unmapped} of {message.DESCRIPTOR.name}"
    for key, value in expected.items():
        target = spec[key]
        number, nested = target if isinstance(target, tuple) else (target, None)
        _check(value, _field_value(message, number), nested, f"{where}.{key}")


def _check_common(expected: Mapping[str, object], event: ProtoEvent[Message], where: str) -> None:
    """Compare ``common``: every COMMON key, an absent one against the default (the message left it unset)."""
    unmapped = sorted(set(expected) - set(COMMON))
    assert not unmapped, f"{where}: no mapping for common keys {unmapped}"
    common = event.common  # type: ignore[attr-defined]  # every fixture's message has a `common` property
    assert isinstance(common, webcast_pb2.CommonMessageData)
    for key in COMMON:
        _check(expected.get(key), _field_value(common, COMMON[key]), None, f"{where}.common.{key}")  # type: ignore[arg-type]


def _conflict(item: Mapping[str, Any], key: str) -> Mapping[str, object] | None:
    value = item["expected"].get(key)
    if isinstance(value, Mapping) and set(value) == {"tiktoklive", "webcast_proto"}:
        listed = [str(conflict) for conflict in item["key_field_conflicts"]]
        assert any(key in conflict for conflict in listed), f"conflict on {key!r} not in key_field_conflicts"
        return value
    return None


def _check_either(values: Sequence[object], actual: object, spec: Spec | None, where: str) -> None:
    """Where the reference decoders disagree, our value must be one of theirs."""
    failures: list[str] = []
    for value in values:
        try:
            _check(value, actual, spec, where)
        except AssertionError as error:
            failures.append(str(error))
        else:
            return
    raise AssertionError(f"{where}: matches none of the decoders' values: {failures}")


def _property_name(event_class: type[ProtoEvent[Message]], field: Any) -> str:
    """The generated property of a top-level field: its name, or name + ``_`` when that collides."""
    for name in (field.name, f"{field.name}_"):
        attribute = vars(event_class).get(name)
        if isinstance(attribute, property):
            return name
    raise AssertionError(f"{event_class.__name__} has no property for field {field.number} {field.name!r}")


def _check_scalars(item: Mapping[str, Any], event: ProtoEvent[Message], where: str) -> None:
    """Top-level scalars of a non-core type, merged over both decoders and matched by field number."""
    by_number: dict[int, list[object]] = {}
    for source in SCALAR_SOURCES:
        for key, value in (item["expected"][source] or {}).items():
            number_text, _, _ = key.partition(":")
            by_number.setdefault(int(number_text), []).append(value)
    disagreeing = {
        entry["field_path"] for entry in item["decoder_disagreements"] or () if entry.get("kind") == "value differs"
    }
    descriptor = event.proto.DESCRIPTOR
    for number, values in sorted(by_number.items()):
        field = descriptor.fields_by_number.get(number)
        assert field is not None, f"{where}: {descriptor.name} has no field {number} (manifest: {values!r})"
        assert field.type != FieldDescriptor.TYPE_MESSAGE and not field.is_repeated, f"{where}: {number} not scalar"
        actual = getattr(event.proto, field.name)
        assert getattr(event, _property_name(type(event), field)) == actual
        label = f"{where}.{number}:{field.name}"
        if len({repr(value) for value in values}) > 1:
            assert str(number) in disagreeing, f"{label}: decoders disagree ({values!r}) but no disagreement listed"
            _check_either(values, actual, None, label)
        else:
            _check(values[0], actual, None, label)


# ── Payload items. ──────────────────────────────────────────────────────────────────────────────────────────────


def test_manifest_has_items() -> None:
    assert len(ITEMS) >= 80
    assert {item["method"] for item in ITEMS} >= set(CORE), "every core mapping should have a fixture"


@pytest.mark.parametrize("item", ITEMS, ids=item_id)
def test_payload_fixture(item: dict[str, Any]) -> None:
    unknown = sorted(set(item) - ITEM_KEYS - ITEM_INFO_KEYS)
    assert not unknown, f"manifest item keys without a mapping: {unknown}"
    where = item_id(item)
    data = (MANIFEST_PATH.parent / item["file"]).read_bytes()
    assert len(data) == item["size"]
    assert hashlib.sha256(data).hexdigest() == item["sha256"]

    method: str = item["method"]
    event = decode_message(method, data)
    assert not isinstance(event, UnknownEvent), f"{where}: decoded to {event!r}"
    assert type(event) is REGISTRY[method]
    assert isinstance(event, ProtoEvent)
    assert event.bytes == data
    assert event.size == len(data)
    assert event.type == REGISTRY[method].__name__

    expected: dict[str, Any] = item["expected"]
    if method in CORE:
        readers = CORE[method]
        common_part = {key: value for key, value in expected.items() if key in COMMON}
        _check_common(common_part, event, where)
        unmapped = sorted(set(expected) - set(COMMON) - set(readers))
        assert not unmapped, f"{where}: no mapping for manifest keys {unmapped}"
        for key in sorted(set(expected) - set(COMMON)):
            reader = readers[key]
            getter, spec = reader if isinstance(reader, tuple) else (reader, None)
            actual = getter(event)
            conflict = _conflict(item, key)
            if conflict is not None:
                _check_either(list(conflict.values()), actual, spec, f"{where}.{key}")
            else:
                _check(expected[key], actual, spec, f"{where}.{key}")
    else:
        unmapped = sorted(set(expected) - {"common", *SCALAR_SOURCES})
        assert not unmapped, f"{where}: no mapping for manifest keys {unmapped} (a new core type?)"
        _check_common(expected["common"], event, where)
        _check_scalars(item, event, where)


# ── Frames and fetch results: frame functions on the captured bytes, then a session reading them. ───────────────────

FRAME_FIELDS: Mapping[str, Callable[[transport_pb2.PushFrame], object]] = {
    "seq_id": lambda frame: frame.seq_id,
    "log_id": lambda frame: frame.log_id,
    "service": lambda frame: frame.service,
    "method": lambda frame: frame.method,
    "headers": lambda frame: {header.key: header.value for header in frame.headers},
    "payload_encoding": lambda frame: frame.payload_encoding,
    "payload_type": lambda frame: frame.payload_type,
    "payload_len": lambda frame: len(frame.payload),
    "payload_gzip": lambda frame: frame.payload.startswith(GZIP_MAGIC),
}
FETCH_FIELDS: Mapping[str, Callable[[webcast_pb2.ProtoMessageFetchResult], object]] = {
    "cursor": lambda result: result.cursor,
    "fetch_interval": lambda result: result.fetch_interval,
    "now": lambda result: result.now,
    "internal_ext": lambda result: result.internal_ext,
    "heartbeat_duration": lambda result: result.heartbeat_duration,
    "need_ack": lambda result: result.need_ack,
    "is_first": lambda result: result.is_first,
    "fetch_type": lambda result: result.fetch_type,
    "route_params": lambda result: dict(result.route_params),
    "n_messages": lambda result: len(result.messages),
}
MESSAGE_FIELDS: Mapping[str, Callable[[Any], object]] = {
    "method": lambda message: message.method,
    "payload_len": lambda message: len(message.payload),
    "msg_id": lambda message: message.msg_id,
}
FRAME_ENTRY_KEYS = {
    "sha256",
    "size",
    "kind",
    "file",
    "expected_frame",
    "decompressed_payload_len",
    "decompressed_payload_sha256",
    "expected_fetch_result",
}
FRAME_INFO_KEYS = {"platform", "provenance", "notes", "fetch_result_disagreements", "inner_message_decode_status"}


def _check_fields(expected: Mapping[str, Any], fields: Mapping[str, Callable[[Any], object]], value: object) -> None:
    unmapped = sorted(set(expected) - set(fields))
    assert not unmapped, f"no mapping for manifest keys {unmapped}"
    for key, want in expected.items():
        got = fields[key](value)
        if isinstance(want, dict):
            assert got == want, f"{key}: expected {want!r}, got {got!r}"
        else:
            _check_scalar(want, got, key)


def test_manifest_has_both_frame_kinds() -> None:
    assert sorted(frame["kind"] for frame in FRAMES) == ["fetch_result", "push_frame"]


@pytest.mark.parametrize("entry", FRAMES, ids=item_id)
def test_frame_fixture(entry: dict[str, Any]) -> None:
    unknown = sorted(set(entry) - FRAME_ENTRY_KEYS - FRAME_INFO_KEYS)
    assert not unknown, f"manifest frame keys without a mapping: {unknown}"
    data = (MANIFEST_PATH.parent / entry["file"]).read_bytes()
    assert len(data) == entry["size"]
    assert hashlib.sha256(data).hexdigest() == entry["sha256"]

    if entry["kind"] == "push_frame":
        frame = decode_push_frame(data)
        _check_fields(entry["expected_frame"], FRAME_FIELDS, frame)
        headers = entry["expected_frame"]["headers"]
        assert frame_header(frame, "compress_type") == headers.get("compress_type")
        payload = frame_payload(frame)
        assert len(payload) == entry["decompressed_payload_len"]
        assert hashlib.sha256(payload).hexdigest() == entry["decompressed_payload_sha256"]
    else:
        assert entry["kind"] == "fetch_result", f"unknown frame kind {entry['kind']!r}"
        assert not {"expected_frame", "decompressed_payload_len"} & set(entry)
        payload = data

    result = decode_fetch_result(payload)
    expected: dict[str, Any] = dict(entry["expected_fetch_result"])
    messages = expected.pop("messages")
    _check_fields(expected, FETCH_FIELDS, result)
    assert len(messages) == len(result.messages)
    for want, got in zip(messages, result.messages, strict=True):
        _check_fields(want, MESSAGE_FIELDS, got)


@pytest.mark.parametrize("entry", FRAMES, ids=item_id)
def test_frame_through_a_session(entry: dict[str, Any]) -> None:
    """Each frame as a client reads it: one protocol session (a fetch result alone: as a sign bundle's messages)."""
    data = (MANIFEST_PATH.parent / entry["file"]).read_bytes()
    expected: dict[str, Any] = entry["expected_fetch_result"]
    session = Session()
    received = session.receive(data) if entry["kind"] == "push_frame" else session.receive_fetch_result(data)
    assert received.error is None
    assert (received.cursor, received.internal_ext) == (expected["cursor"], expected["internal_ext"])
    assert received.messages == len(expected["messages"]) and received.duplicates == 0
    if entry["kind"] == "push_frame" and expected["need_ack"]:
        assert received.ack is not None
        ack = transport_pb2.PushFrame.FromString(received.ack)
        assert (ack.payload_type, ack.log_id) == ("ack", int(entry["expected_frame"]["log_id"]))
        assert ack.payload == (expected["internal_ext"] or "-").encode()
    else:
        assert received.ack is None
    sources = [event for event in received.events if type(event) not in DERIVED_CLASSES]
    assert [event.msg_id for event in sources] == [int(message["msg_id"]) for message in expected["messages"]]


@pytest.mark.parametrize("entry", FRAMES, ids=item_id)
def test_frame_inner_messages_never_raise(entry: dict[str, Any]) -> None:
    """The inner payloads are Douyin's (another schema): each decodes, or becomes an UnknownEvent saying why."""
    data = (MANIFEST_PATH.parent / entry["file"]).read_bytes()
    session = Session(wanted={*REGISTRY.values(), UnknownEvent})  # the messages themselves, not derived events
    received = session.receive(data) if entry["kind"] == "push_frame" else session.receive_fetch_result(data)
    messages = entry["expected_fetch_result"]["messages"]
    assert len(received.events) == len(messages) > 0
    for want, event in zip(messages, received.events, strict=True):
        method = want["method"]
        assert len(event.bytes) == want["payload_len"] and event.msg_id == int(want["msg_id"])
        registered = REGISTRY.get(method)
        if registered is None:
            assert isinstance(event, UnknownEvent) and event.decode_error is None
            assert event.method == method
        elif isinstance(event, UnknownEvent):
            assert isinstance(event.decode_error, DecodeError), f"{method}: {event!r}"
            assert event.method == method
        else:
            assert type(event) is registered
