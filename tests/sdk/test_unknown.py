"""UnknownEvent: unknown methods, payloads that do not decode, and the generic ``fields()`` view."""

from __future__ import annotations

import logging
import struct
from collections import deque
from typing import Any

import pytest
from google.protobuf.message import DecodeError

from tiktok_live import UnknownEvent
from tiktok_live._generated.pb import webcast_pb2 as pb
from tiktok_live._generated.registry import REGISTRY
from tiktok_live._protocol import decode_message
from tiktok_live.events import CommentEvent

# ── Hand-written wire format (the payloads here must not come from a schema). ───────────────────────────────────


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64 travels as ten bytes
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def tag(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def vint(number: int, value: int) -> bytes:
    return tag(number, 0) + varint(value)


def ldelim(number: int, data: bytes) -> bytes:
    return tag(number, 2) + varint(len(data)) + data


def fixed32(number: int, value: int) -> bytes:
    return tag(number, 5) + struct.pack("<I", value)


def fixed64(number: int, value: int) -> bytes:
    return tag(number, 1) + struct.pack("<Q", value)


# ── Unknown methods. ────────────────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("method", ["WebcastNoSuchMessage", "", "webcastchatmessage", "WebcastChatMessage "])
def test_unknown_method(method: str, caplog: pytest.LogCaptureFixture) -> None:
    payload = vint(1, 1)
    with caplog.at_level(logging.DEBUG, logger="tiktok_live"):
        event = decode_message(method, payload)
    assert isinstance(event, UnknownEvent)
    assert event.method == method
    assert event.bytes is payload
    assert event.size == len(payload)
    assert event.decode_error is None
    assert event.type == "UnknownEvent"
    assert repr(event) == f"<UnknownEvent method={method!r} size={len(payload)}>"
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


# ── Payloads that do not decode. ────────────────────────────────────────────────────────────────────────────────

CORRUPT = {
    "truncated-string": ldelim(3, b"SECRET-CONTENT")[:-4],
    "invalid-wire-type": tag(3, 7) + b"SECRET",
    "bad-utf8-string": ldelim(3, b"SECRET\xff\xfe"),
    "truncated-varint": vint(2, 2**40)[:-1],
    "truncated-nested": ldelim(1, ldelim(1, b"SECRET"))[:-2],
}


@pytest.mark.parametrize("payload", CORRUPT.values(), ids=CORRUPT.keys())
def test_corrupt_payload(payload: bytes, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(DecodeError):
        CommentEvent.from_bytes(payload)  # from_bytes raises; decode_message never does

    with caplog.at_level(logging.WARNING, logger="tiktok_live"):
        event = decode_message("WebcastChatMessage", payload)
    assert isinstance(event, UnknownEvent)
    assert event.method == "WebcastChatMessage"
    assert event.bytes is payload
    assert isinstance(event.decode_error, DecodeError)
    assert "decode_error=" in repr(event)

    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1, caplog.text
    message = warnings[0].getMessage()
    assert "WebcastChatMessage" in message
    assert str(len(payload)) in message
    assert "SECRET" not in caplog.text, "bad payloads are logged by method and size, never by content"


def test_corrupt_payload_of_alias(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="tiktok_live"):
        event = decode_message("ChatMessage", CORRUPT["invalid-wire-type"])
    assert isinstance(event, UnknownEvent)
    assert event.method == "ChatMessage"
    assert isinstance(event.decode_error, DecodeError)
    assert "ChatMessage" in caplog.text


# ── fields(): the generic view. ─────────────────────────────────────────────────────────────────────────────────


def test_fields_generic_view() -> None:
    payload = b"".join(
        [
            vint(1, 150),
            ldelim(2, "hello ✓".encode()),
            ldelim(3, vint(1, 7) + ldelim(2, b"inner") + ldelim(3, vint(1, 1))),
            ldelim(4, b"\xff\xfe\x00"),
            vint(5, 1),
            vint(5, 2),
            fixed32(6, 0x01020304),
            fixed64(7, 2**60 + 5),
            ldelim(8, b""),
            vint(9, -1),
            ldelim(10, b"hi"),  # valid as a message too (field 13 varint), but it reads as text
            ldelim(5, b"text in a repeated number"),
        ]
    )
    fields = UnknownEvent("WebcastSomethingNew", payload).fields()
    assert fields == {
        1: [150],
        2: ["hello ✓"],
        3: [{1: [7], 2: ["inner"], 3: [{1: [1]}]}],
        4: [b"\xff\xfe\x00"],
        5: [1, 2, "text in a repeated number"],
        6: [0x01020304],
        7: [2**60 + 5],
        8: [""],
        9: [2**64 - 1],
        10: ["hi"],
    }


def test_fields_of_a_known_message_under_an_unknown_method() -> None:
    message = pb.WebcastChatMessage(content="hello")
    message.common.method = "WebcastChatMessage"
    message.common.msg_id = 7286185090517568264
    message.user.nickname = "viewer"
    event = decode_message("WebcastChatMessageV2", message.SerializeToString())
    assert isinstance(event, UnknownEvent)
    fields = event.fields()
    assert fields[1] == [{1: ["WebcastChatMessage"], 2: [7286185090517568264]}]
    assert fields[2] == [{3: ["viewer"]}]
    assert fields[3] == ["hello"]


@pytest.mark.parametrize(
    "payload",
    [b"", b"\xff\xff\xff\xff", b"\x0f", ldelim(1, b"abc")[:-1], b"\x80" * 11],
    ids=["empty", "ff", "wire-type-7", "truncated", "overlong-varint"],
)
def test_fields_of_garbage_is_empty(payload: bytes) -> None:
    assert UnknownEvent("X", payload).fields() == {}


def test_fields_deep_nesting_is_bounded() -> None:
    payload = vint(1, 1)
    for _ in range(64):
        payload = ldelim(1, payload + vint(2, 0))
    fields = UnknownEvent("X", payload).fields()
    depth = 0
    value: object = fields
    while isinstance(value, dict):
        value = value[1][0]
        depth += 1
    assert 1 < depth < 64, "nesting stops at a fixed depth and the rest stays raw"
    assert isinstance(value, str | bytes)


def test_fields_group_does_not_raise() -> None:
    payload = tag(11, 3) + vint(1, 1) + tag(11, 4) + vint(1, 5)
    fields = UnknownEvent("X", payload).fields()
    assert fields[1] == [5]
    assert len(fields[11]) == 1


def _self_nesting_path() -> tuple[str, list[int], int]:
    """A registered method whose message reaches (through message fields) a type that contains itself."""
    for method, cls in sorted(REGISTRY.items()):
        paths: dict[str, list[int]] = {cls.PROTO.DESCRIPTOR.full_name: []}
        queue: deque[Any] = deque([cls.PROTO.DESCRIPTOR])
        while queue:
            descriptor = queue.popleft()
            for field in descriptor.fields:
                target = field.message_type
                if target is None:
                    continue
                if target.full_name == descriptor.full_name:
                    return method, paths[descriptor.full_name], field.number
                if target.full_name not in paths:
                    paths[target.full_name] = [*paths[descriptor.full_name], field.number]
                    queue.append(target)
    raise AssertionError("the schema has no self-nesting message")


def test_too_deep_nesting_is_a_decode_error(caplog: pytest.LogCaptureFixture) -> None:
    """Nesting past the parser's depth limit gives an UnknownEvent (DecodeError), not a crash or RecursionError."""
    method, path, self_field = _self_nesting_path()
    payload = b""
    for _ in range(300):
        payload = ldelim(self_field, payload)
    for number in reversed(path):
        payload = ldelim(number, payload)
    with caplog.at_level(logging.WARNING, logger="tiktok_live"):
        event = decode_message(method, payload)
    assert isinstance(event, UnknownEvent)
    assert isinstance(event.decode_error, DecodeError)
    assert isinstance(event.fields(), dict)
