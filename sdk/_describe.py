"""Look up and describe the schema's message and enum types (``User``, ``Gift``, ``WebcastGiftMessage.GiftIMPriority``)
by name: what ``tiktok-live events NAME`` prints for a name that is a type rather than an event.

Names are short: the protobuf full name without the package (``tiktok_live.webcast.User`` -> ``User``); nested
types keep their outer message (``WebcastChatMessage.CommentTag``). The index is read from the generated protobuf
modules' descriptors, so it always matches the installed schema.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterator, Mapping
from typing import Final, TypeAlias

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

TypeDescriptor: TypeAlias = Descriptor | EnumDescriptor
"""A message's or an enum's protobuf descriptor."""

__all__ = ["TypeDescriptor", "describe_type", "field_types", "find_type", "similar_types", "type_names"]


def _walk(prefix: str, message: Descriptor) -> Iterator[tuple[str, TypeDescriptor]]:
    name = f"{prefix}{message.name}"
    if not message.GetOptions().map_entry:
        yield name, message
    for enum in message.enum_types:
        yield f"{name}.{enum.name}", enum
    for nested in message.nested_types:
        yield from _walk(f"{name}.", nested)


@functools.cache
def _index() -> Mapping[str, TypeDescriptor]:
    from tiktok_live._generated.pb import enums_pb2, webcast_pb2

    types: dict[str, TypeDescriptor] = {}
    for module in (enums_pb2, webcast_pb2):
        for enum in module.DESCRIPTOR.enum_types_by_name.values():
            types[enum.name] = enum
        for message in module.DESCRIPTOR.message_types_by_name.values():
            types.update(_walk("", message))
    return dict(sorted(types.items()))


def type_names() -> list[str]:
    """Every message and enum name of the schema, sorted."""
    return list(_index())


def find_type(name: str, *, exact: bool = True) -> tuple[str, TypeDescriptor] | None:
    """The type named ``name`` (case-sensitive when ``exact``, else case-insensitive), or None."""
    index = _index()
    if name in index:
        return name, index[name]
    if exact:
        return None
    folded = {key.lower(): key for key in index}
    key = folded.get(name.lower())
    return (key, index[key]) if key is not None else None


def similar_types(name: str, limit: int = 5) -> list[str]:
    """Type names close to ``name`` (for "did you mean" hints)."""
    folded = {key.lower(): key for key in _index()}
    return [folded[key] for key in difflib.get_close_matches(name.lower(), folded, n=limit, cutoff=0.75)]


def _short(full_name: str) -> str:
    from tiktok_live._generated.pb import webcast_pb2

    package = webcast_pb2.DESCRIPTOR.package
    return full_name.removeprefix(f"{package}.")


_PYTHON: Final[Mapping[int, str]] = {
    FieldDescriptor.TYPE_STRING: "str",
    FieldDescriptor.TYPE_BOOL: "bool",
    FieldDescriptor.TYPE_BYTES: "bytes",
    FieldDescriptor.TYPE_DOUBLE: "float",
    FieldDescriptor.TYPE_FLOAT: "float",
}
_PROTO: Final[Mapping[int, str]] = {
    FieldDescriptor.TYPE_DOUBLE: "double",
    FieldDescriptor.TYPE_FLOAT: "float",
    FieldDescriptor.TYPE_INT64: "int64",
    FieldDescriptor.TYPE_UINT64: "uint64",
    FieldDescriptor.TYPE_INT32: "int32",
    FieldDescriptor.TYPE_FIXED64: "fixed64",
    FieldDescriptor.TYPE_FIXED32: "fixed32",
    FieldDescriptor.TYPE_BOOL: "bool",
    FieldDescriptor.TYPE_STRING: "string",
    FieldDescriptor.TYPE_BYTES: "bytes",
    FieldDescriptor.TYPE_UINT32: "uint32",
    FieldDescriptor.TYPE_SFIXED32: "sfixed32",
    FieldDescriptor.TYPE_SFIXED64: "sfixed64",
    FieldDescriptor.TYPE_SINT32: "sint32",
    FieldDescriptor.TYPE_SINT64: "sint64",
}


def _single(field: FieldDescriptor) -> tuple[str, str]:
    if field.message_type is not None:
        name = _short(field.message_type.full_name)
        return name, name
    if field.enum_type is not None:
        name = _short(field.enum_type.full_name)
        return f"{name} (int)", name
    return _PYTHON.get(field.type, "int"), _PROTO.get(field.type, "?")


def field_types(field: FieldDescriptor) -> tuple[str, str]:
    """(Python type, proto type) of a field, as the Events reference writes them: ``Sequence[User]``,
    ``repeated User``; ``Mapping[str, int]``, ``map<string, int64>``."""
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        key = _single(field.message_type.fields_by_name["key"])
        value = _single(field.message_type.fields_by_name["value"])
        return f"Mapping[{key[0]}, {value[0]}]", f"map<{key[1]}, {value[1]}>"
    python, proto = _single(field)
    return (f"Sequence[{python}]", f"repeated {proto}") if field.is_repeated else (python, proto)


def describe_type(name: str, descriptor: TypeDescriptor) -> str:
    """A message's fields (name, Python type, proto type, number) or an enum's values, as text."""
    lines: list[str]
    if isinstance(descriptor, Descriptor):
        fields = sorted(descriptor.fields, key=lambda field: field.number)
        lines = [f"{name}: message {descriptor.full_name}, {len(fields)} fields"]
        lines += ["fields:"] if fields else []
        for field in fields:
            python, proto = field_types(field)
            lines.append(f"  {field.name:<36} {python:<40} {proto:<32} #{field.number}")
    else:
        values = list(descriptor.values)
        lines = [f"{name}: enum {descriptor.full_name}, {len(values)} values (a field holds the number)"]
        lines += [f"  {value.name:<56} = {value.number}" for value in values]
    return "\n".join(lines) + "\n"
