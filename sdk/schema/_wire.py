"""Raw protobuf values: what the wire carries where the schema declares nothing, classified and rendered.

A length-delimited value is classified once, in this order: printable UTF-8 is :class:`Text`; bytes that parse as a
message with at least one field are :class:`Nested` (its fields classified the same way, to a bounded depth);
anything else is :class:`Binary`. Empty bytes are ``Text("")``. The order matters for ambiguous bytes (a short
message can be printable text, text can parse as a message): text wins, as a reader would guess.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, TypeAlias

from google.protobuf import empty_pb2
from google.protobuf.message import DecodeError
from google.protobuf.unknown_fields import UnknownFieldSet

from tiktok_live._base import printable_text

__all__ = [
    "WIRE_NAMES",
    "Binary",
    "Fixed32",
    "Fixed64",
    "Group",
    "Nested",
    "RawFields",
    "RawValue",
    "Text",
    "Varint",
    "from_unknown_set",
    "kind_of",
    "parse_fields",
    "render",
    "to_json",
]

WIRE_NAMES: Final = {0: "varint", 1: "fixed64", 2: "length-delimited", 3: "group", 5: "fixed32"}
"""Wire type number -> name, as in the protobuf encoding guide."""

MAX_DEPTH: Final = 12
"""Nested bytes deeper than this stay :class:`Binary` (the view is for reading, not a full decoder)."""

_JSON_SAFE_INT: Final = 2**53


@dataclass(frozen=True, slots=True)
class Varint:
    """Wire type 0: an integer (int32/int64/uint/bool/enum; sint types zigzag-encoded)."""

    value: int


@dataclass(frozen=True, slots=True)
class Fixed64:
    """Wire type 1: eight little-endian bytes (fixed64, sfixed64 or double), as an unsigned integer."""

    value: int


@dataclass(frozen=True, slots=True)
class Fixed32:
    """Wire type 5: four little-endian bytes (fixed32, sfixed32 or float), as an unsigned integer."""

    value: int


@dataclass(frozen=True, slots=True)
class Text:
    """Wire type 2 whose bytes are printable UTF-8 (or empty)."""

    data: bytes
    text: str


@dataclass(frozen=True, slots=True)
class Nested:
    """Wire type 2 whose bytes parse as a message: its fields, by number, classified."""

    data: bytes
    fields: RawFields


@dataclass(frozen=True, slots=True)
class Binary:
    """Wire type 2 that is neither text nor a message (or nested too deep to look into)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Group:
    """Wire type 3 (a deprecated group): its fields, like a message."""

    fields: RawFields


RawValue: TypeAlias = Varint | Fixed64 | Fixed32 | Text | Nested | Binary | Group
RawFields: TypeAlias = Mapping[int, tuple[RawValue, ...]]


def wire_type(value: RawValue) -> int:
    """The wire type ``value`` arrived with."""
    if isinstance(value, Varint):
        return 0
    if isinstance(value, Fixed64):
        return 1
    if isinstance(value, Fixed32):
        return 5
    if isinstance(value, Group):
        return 3
    return 2


def kind_of(value: RawValue) -> str:
    """What a value reads as: varint, fixed64, fixed32, group, text, empty, message or bytes."""
    if isinstance(value, Text):
        return "text" if value.text else "empty"
    if isinstance(value, Nested):
        return "message"
    if isinstance(value, Binary):
        return "bytes"
    return WIRE_NAMES[wire_type(value)]


def classify(data: bytes, depth: int = 0) -> Text | Nested | Binary:
    """Classify length-delimited bytes (see the module docstring)."""
    text = printable_text(data)
    if text is not None:
        return Text(data, text)
    if depth < MAX_DEPTH:
        fields = parse_fields(data, depth + 1)
        if fields:
            return Nested(data, fields)
    return Binary(data)


def parse_fields(data: bytes, depth: int = 0) -> RawFields | None:
    """``data`` read as a message of unknown type: its fields, or None when it is not a valid message."""
    holder = empty_pb2.Empty()
    try:
        holder.ParseFromString(data)
    except DecodeError:
        return None
    return from_unknown_set(UnknownFieldSet(holder), depth)


def from_unknown_set(unknown: UnknownFieldSet, depth: int = 0) -> dict[int, tuple[RawValue, ...]]:
    """Every field of a protobuf ``UnknownFieldSet``, classified, grouped by number in wire order."""
    fields: dict[int, list[RawValue]] = {}
    for index in range(len(unknown)):
        item = unknown[index]
        fields.setdefault(item.field_number, []).append(raw_value(item.wire_type, item.data, depth))
    return {number: tuple(values) for number, values in fields.items()}


def raw_value(wire: int, data: object, depth: int = 0) -> RawValue:
    """One unknown field's data (as protobuf hands it over) as a classified value."""
    if isinstance(data, UnknownFieldSet):
        return Group(from_unknown_set(data, depth + 1))
    if isinstance(data, bytes):
        return classify(data, depth)
    if isinstance(data, int):
        if wire == 1:
            return Fixed64(data)
        if wire == 5:
            return Fixed32(data)
        return Varint(data)
    return Binary(repr(data).encode())  # not produced by protobuf today; kept visible rather than dropped


# ── rendering ────────────────────────────────────────────────────────────────────────────────────────────────


def render(value: RawValue, limit: int = 160) -> str:
    """A one-line, human-readable rendering of ``value``, cut to about ``limit`` characters."""
    text = _render(value, limit)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _render(value: RawValue, budget: int) -> str:
    if isinstance(value, Varint):
        signed = value.value - 2**64 if value.value >= 2**63 else None
        return f"{value.value}" + (f" (int64 {signed})" if signed is not None else "")
    if isinstance(value, Fixed64):
        (double,) = struct.unpack("<d", value.value.to_bytes(8, "little"))
        return f"{value.value} (fixed64; as double {double:g})"
    if isinstance(value, Fixed32):
        (single,) = struct.unpack("<f", value.value.to_bytes(4, "little"))
        return f"{value.value} (fixed32; as float {single:g})"
    if isinstance(value, Text):
        shown = value.text if len(value.text) <= budget else value.text[:budget] + "…"
        return json.dumps(shown, ensure_ascii=False)
    if isinstance(value, Binary):
        shown = value.data[: max(budget // 2, 8)].hex()
        return f"0x{shown}{'…' if len(shown) < 2 * len(value.data) else ''} ({len(value.data)} bytes)"
    return "{" + _render_fields(value.fields, budget) + "}"


def _render_fields(fields: RawFields, budget: int) -> str:
    parts: list[str] = []
    used = 0
    for number, values in fields.items():
        if used > budget:
            parts.append("…")
            break
        shown = [_render(item, min(48, max(budget - used, 16))) for item in values]
        part = f"{number}: " + (shown[0] if len(shown) == 1 else "[" + ", ".join(shown) + "]")
        parts.append(part)
        used += len(part) + 2
    return ", ".join(parts)


def to_json(value: RawValue) -> dict[str, object]:
    """``value`` as a JSON object: ``kind`` (varint, fixed64, fixed32, text, message, bytes, group) and its data.

    Integers of 2**53 and more are decimal strings (as in the JSON Lines event schema); bytes are hex.
    """
    if isinstance(value, Varint | Fixed64 | Fixed32):
        kind = {Varint: "varint", Fixed64: "fixed64", Fixed32: "fixed32"}[type(value)]
        return {"kind": kind, "value": _json_int(value.value)}
    if isinstance(value, Text):
        return {"kind": "text", "value": value.text}
    if isinstance(value, Binary):
        return {"kind": "bytes", "hex": value.data.hex(), "size": len(value.data)}
    kind = "message" if isinstance(value, Nested) else "group"
    return {"kind": kind, "fields": fields_to_json(value.fields)}


def fields_to_json(fields: RawFields) -> dict[str, list[dict[str, object]]]:
    """A field view as JSON: ``{"number": [value, ...]}`` (see :func:`to_json`)."""
    return {str(number): [to_json(item) for item in values] for number, values in fields.items()}


def _json_int(value: int) -> int | str:
    return str(value) if abs(value) >= _JSON_SAFE_INT else value
