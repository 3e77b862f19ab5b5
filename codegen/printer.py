"""A small descriptor-to-.proto printer: the importer's way of writing proto/ from compiled descriptors.

Output is deterministic: top-level and nested declarations sorted by name, fields by number, every message or enum
type reference fully qualified (``.tiktok_live.webcast.Foo.Text``), so a nested name that repeats elsewhere can never
re-bind to another type when the file is read back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from google.protobuf import descriptor_pb2

FDP = descriptor_pb2.FieldDescriptorProto

_SCALARS: dict[int, str] = {
    FDP.TYPE_DOUBLE: "double",
    FDP.TYPE_FLOAT: "float",
    FDP.TYPE_INT64: "int64",
    FDP.TYPE_UINT64: "uint64",
    FDP.TYPE_INT32: "int32",
    FDP.TYPE_FIXED64: "fixed64",
    FDP.TYPE_FIXED32: "fixed32",
    FDP.TYPE_BOOL: "bool",
    FDP.TYPE_STRING: "string",
    FDP.TYPE_BYTES: "bytes",
    FDP.TYPE_UINT32: "uint32",
    FDP.TYPE_SFIXED32: "sfixed32",
    FDP.TYPE_SFIXED64: "sfixed64",
    FDP.TYPE_SINT32: "sint32",
    FDP.TYPE_SINT64: "sint64",
}

SCALAR_TYPES: dict[str, int] = {name: number for number, name in _SCALARS.items()}

INDENT = "    "


def type_text(field: descriptor_pb2.FieldDescriptorProto) -> str:
    """The type of ``field`` as written in a .proto file (scalar keyword or fully qualified name)."""
    if field.type in (FDP.TYPE_MESSAGE, FDP.TYPE_ENUM):
        return field.type_name
    return _SCALARS[field.type]


def _map_entries(message: descriptor_pb2.DescriptorProto) -> dict[str, descriptor_pb2.DescriptorProto]:
    return {nested.name: nested for nested in message.nested_type if nested.options.map_entry}


def _field_line(
    field: descriptor_pb2.FieldDescriptorProto,
    scope: str,
    entries: dict[str, descriptor_pb2.DescriptorProto],
) -> str:
    if field.label == FDP.LABEL_REPEATED and field.type == FDP.TYPE_MESSAGE:
        entry_name = field.type_name.removeprefix(scope + ".")
        entry = entries.get(entry_name)
        if entry is not None:
            key, value = sorted(entry.field, key=lambda f: f.number)
            return f"map<{type_text(key)}, {type_text(value)}> {field.name} = {field.number};"
    label = ""
    if field.label == FDP.LABEL_REPEATED:
        label = "repeated "
    elif field.proto3_optional:
        label = "optional "
    return f"{label}{type_text(field)} {field.name} = {field.number};"


def _enum_lines(enum: descriptor_pb2.EnumDescriptorProto, depth: int) -> Iterator[str]:
    pad = INDENT * depth
    yield f"{pad}enum {enum.name} {{"
    if enum.options.allow_alias:
        yield f"{pad}{INDENT}option allow_alias = true;"
    # Values keep their declared order: proto3 requires the zero value first.
    for value in enum.value:
        yield f"{pad}{INDENT}{value.name} = {value.number};"
    yield f"{pad}}}"


def _message_lines(message: descriptor_pb2.DescriptorProto, scope: str, depth: int) -> Iterator[str]:
    pad = INDENT * depth
    full = f"{scope}.{message.name}"
    entries = _map_entries(message)
    yield f"{pad}message {message.name} {{"
    oneofs: dict[int, list[descriptor_pb2.FieldDescriptorProto]] = {}
    for field in sorted(message.field, key=lambda f: f.number):
        if field.HasField("oneof_index") and not field.proto3_optional:
            oneofs.setdefault(field.oneof_index, []).append(field)
            continue
        yield f"{pad}{INDENT}{_field_line(field, full, entries)}"
    for index, members in sorted(oneofs.items()):
        yield f"{pad}{INDENT}oneof {message.oneof_decl[index].name} {{"
        for field in members:
            yield f"{pad}{INDENT * 2}{_field_line(field, full, entries)}"
        yield f"{pad}{INDENT}}}"
    for enum in sorted(message.enum_type, key=lambda e: e.name):
        yield ""
        yield from _enum_lines(enum, depth + 1)
    for nested in sorted(message.nested_type, key=lambda m: m.name):
        if nested.options.map_entry:
            continue
        yield ""
        yield from _message_lines(nested, full, depth + 1)
    yield f"{pad}}}"


def _blocks(file: descriptor_pb2.FileDescriptorProto) -> Iterable[list[str]]:
    scope = f".{file.package}" if file.package else ""
    declarations: list[tuple[str, list[str]]] = []
    declarations.extend((enum.name, list(_enum_lines(enum, 0))) for enum in file.enum_type)
    declarations.extend((message.name, list(_message_lines(message, scope, 0))) for message in file.message_type)
    return [lines for _, lines in sorted(declarations, key=lambda item: item[0])]


def print_file(file: descriptor_pb2.FileDescriptorProto, header: Iterable[str]) -> str:
    """Render ``file`` as .proto text, preceded by ``header`` lines (written as ``//`` comments)."""
    out = [f"// {line}".rstrip() for line in header]
    out += ["", f'syntax = "{file.syntax or "proto2"}";', ""]
    if file.package:
        out += [f"package {file.package};", ""]
    for dependency in sorted(file.dependency):
        out.append(f'import "{dependency}";')
    if file.dependency:
        out.append("")
    for block in _blocks(file):
        out.extend(block)
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"
