"""Stage 2: descriptors + event data -> the model (:mod:`codegen.model`). Pure; every naming and typing decision.

Which messages become events: every top-level ``Webcast*`` message of ``webcast.proto`` (the imported schema).
The transport file's messages (push frame, heartbeat, enter-room) are protocol plumbing, not events.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import PurePosixPath

from google.protobuf import descriptor_pb2

from codegen import naming
from codegen.load import Loaded
from codegen.model import DerivedEvent, Enum, EnumValue, Event, Field, FieldKind, Property, ProtoModule, Schema
from codegen.printer import type_text

FDP = descriptor_pb2.FieldDescriptorProto
EVENTS_FILE = "webcast.proto"
EVENTS_MODULE = "webcast"

_PYTHON_SCALARS: Mapping[int, str] = {
    FDP.TYPE_DOUBLE: "float",
    FDP.TYPE_FLOAT: "float",
    FDP.TYPE_BOOL: "bool",
    FDP.TYPE_STRING: "str",
    FDP.TYPE_BYTES: "builtins.bytes",
}
_EVENT_KEYS = frozenset({"name", "doc", "mixin", "methods"})


class BuildError(ValueError):
    """The inputs are inconsistent (a naming collision, an unknown mixin or message in events.toml, ...)."""


def _stem(file_name: str) -> str:
    return PurePosixPath(file_name).stem


class _Types:
    """Index of every message and enum: fully qualified name -> (python expression, short name, descriptor)."""

    def __init__(self, files: tuple[descriptor_pb2.FileDescriptorProto, ...]) -> None:
        self.python: dict[str, str] = {}
        self.short: dict[str, str] = {}
        self.enums: dict[str, descriptor_pb2.EnumDescriptorProto] = {}
        self.messages: dict[str, descriptor_pb2.DescriptorProto] = {}
        for file in files:
            module = f"{_stem(file.name)}_pb2"
            prefix = f".{file.package}" if file.package else ""
            for enum in file.enum_type:
                self._enum(f"{prefix}.{enum.name}", f"{module}.{enum.name}", enum.name, enum)
            for message in file.message_type:
                self._message(prefix, module, "", message)

    def _enum(self, full: str, python: str, short: str, enum: descriptor_pb2.EnumDescriptorProto) -> None:
        self.python[full] = f"{python}.ValueType"
        self.short[full] = short
        self.enums[full] = enum

    def _message(self, prefix: str, module: str, outer: str, message: descriptor_pb2.DescriptorProto) -> None:
        local = f"{outer}{message.name}"
        full = f"{prefix}.{local}"
        self.python[full] = f"{module}.{local}"
        self.short[full] = local
        self.messages[full] = message
        for enum in message.enum_type:
            self._enum(f"{full}.{enum.name}", f"{module}.{local}.{enum.name}", f"{local}.{enum.name}", enum)
        for nested in message.nested_type:
            self._message(prefix, module, f"{local}.", nested)


def _field(field: descriptor_pb2.FieldDescriptorProto, types: _Types, reserved: frozenset[str]) -> Field:
    attr = naming.attribute(field.name, reserved)
    repeated = field.label == FDP.LABEL_REPEATED
    if field.type == FDP.TYPE_MESSAGE and repeated and types.messages[field.type_name].options.map_entry:
        key, value = sorted(types.messages[field.type_name].field, key=lambda f: f.number)
        key_py, value_py = _python(key, types), _python(value, types)
        proto_type = f"map<{_short(key, types)}, {_short(value, types)}>"
        return Field(field.name, attr, field.number, FieldKind.MAP, f"Mapping[{key_py}, {value_py}]", proto_type)
    python = _python(field, types)
    short = _short(field, types)
    enum = types.short[field.type_name] if field.type == FDP.TYPE_ENUM else None
    if field.type == FDP.TYPE_MESSAGE:
        kind = FieldKind.REPEATED_MESSAGE if repeated else FieldKind.MESSAGE
    elif field.type == FDP.TYPE_ENUM:
        kind = FieldKind.REPEATED_ENUM if repeated else FieldKind.ENUM
    else:
        kind = FieldKind.REPEATED_SCALAR if repeated else FieldKind.SCALAR
    if repeated:
        return Field(field.name, attr, field.number, kind, f"Sequence[{python}]", f"repeated {short}", enum)
    return Field(field.name, attr, field.number, kind, python, short, enum)


def _python(field: descriptor_pb2.FieldDescriptorProto, types: _Types) -> str:
    if field.type_name:
        return types.python[field.type_name]
    return _PYTHON_SCALARS.get(field.type, "int")


def _short(field: descriptor_pb2.FieldDescriptorProto, types: _Types) -> str:
    return types.short[field.type_name] if field.type_name else type_text(field)


def _classes(source: str) -> dict[str, ast.ClassDef]:
    return {node.name: node for node in ast.parse(source).body if isinstance(node, ast.ClassDef)}


def _public_members(node: ast.ClassDef) -> Iterator[ast.FunctionDef | ast.AnnAssign]:
    for item in node.body:
        if isinstance(item, ast.FunctionDef) and not item.name.startswith("_"):
            yield item
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            yield item


def _member_name(item: ast.FunctionDef | ast.AnnAssign) -> str:
    if isinstance(item, ast.FunctionDef):
        return item.name
    assert isinstance(item.target, ast.Name)
    return item.target.id


def reserved_names(base_source: str) -> frozenset[str]:
    """Attribute names of BaseEvent and ProtoEvent (read from sdk/_base.py), plus ``method``: generated fields
    must not shadow them."""
    classes = _classes(base_source)
    # `method` is UnknownEvent's wire method: a field named so (RoomPin's) would read as the same thing.
    names: set[str] = {"method"}
    for base in ("BaseEvent", "ProtoEvent"):
        if base not in classes:
            raise BuildError(f"sdk/_base.py has no class {base}")
        names.update(_member_name(item) for item in _public_members(classes[base]))
    return frozenset(names)


def mixin_properties(base_source: str, mixin: str) -> tuple[Property, ...]:
    """The public properties of ``mixin`` in sdk/_base.py, with their annotations and first docstring line."""
    node = _classes(base_source).get(mixin)
    if node is None:
        raise BuildError(f"events.toml names mixin {mixin!r}, but sdk/_base.py has no such class")
    return _properties(node)


def derived_events(derived_source: str, events: tuple[Event, ...] | frozenset[str]) -> tuple[DerivedEvent, ...]:
    """Classes of a hand-written module that subclass one of the given events (generated events, or names such as
    ``BaseEvent``): name, base, docstring, properties."""
    names = events if isinstance(events, frozenset) else {event.class_name for event in events}
    derived = []
    for node in _classes(derived_source).values():
        bases = [base.id for base in node.bases if isinstance(base, ast.Name) and base.id in names]
        if len(bases) != 1:
            continue
        doc = (ast.get_docstring(node) or "").strip()
        derived.append(DerivedEvent(node.name, bases[0], doc, _properties(node)))
    return tuple(sorted(derived, key=lambda event: event.class_name))


def _properties(node: ast.ClassDef) -> tuple[Property, ...]:
    properties = []
    for item in _public_members(node):
        if not isinstance(item, ast.FunctionDef):
            continue
        if not any(isinstance(d, ast.Name) and d.id == "property" for d in item.decorator_list):
            continue
        annotation = ast.unparse(item.returns) if item.returns is not None else "object"
        doc = (ast.get_docstring(item) or "").strip().splitlines()
        properties.append(Property(item.name, annotation.replace("pb.", ""), doc[0] if doc else ""))
    return tuple(properties)


def _default_doc(message: str) -> str:
    return f"TikTok's ``{message}``: every field of the message is an attribute; ``proto`` is the message itself."


def _events(loaded: Loaded, types: _Types) -> Iterator[Event]:
    reserved = reserved_names(loaded.base_source)
    (events_file,) = [file for file in loaded.files if file.name == EVENTS_FILE]
    webcast = {message.name: message for message in events_file.message_type if message.name.startswith("Webcast")}
    unknown = sorted(set(loaded.events) - set(webcast))
    if unknown:
        raise BuildError(f"events.toml names messages that {EVENTS_FILE} lacks: {unknown}")
    for name, message in sorted(webcast.items()):
        data = loaded.events.get(name, {})
        extra_keys = sorted(set(data) - _EVENT_KEYS)
        if extra_keys:
            raise BuildError(f"events.toml [{name}] has unknown keys {extra_keys}; known: {sorted(_EVENT_KEYS)}")
        mixin = str(data["mixin"]) if "mixin" in data else None
        properties = mixin_properties(loaded.base_source, mixin) if mixin else ()
        local_reserved = reserved | {prop.name for prop in properties}
        methods = data.get("methods", [])
        if not isinstance(methods, list):
            raise BuildError(f"events.toml [{name}] methods must be a list of strings")
        yield Event(
            class_name=str(data.get("name", naming.event_name(name))),
            message=name,
            module=EVENTS_MODULE,
            methods=naming.wire_methods(name, tuple(str(method) for method in methods)),
            doc=str(data.get("doc", _default_doc(name))).strip(),
            mixin=mixin,
            fields=tuple(
                _field(field, types, local_reserved) for field in sorted(message.field, key=lambda f: f.number)
            ),
            properties=properties,
        )


def _check(events: tuple[Event, ...]) -> None:
    seen: dict[str, str] = {}
    for event in events:
        if event.class_name in seen:
            raise BuildError(
                f"{event.message} and {seen[event.class_name]} both name event {event.class_name}: "
                "give one of them a name in codegen/events.toml"
            )
        seen[event.class_name] = event.message
    owners: dict[str, str] = {}
    for event in events:
        for method in event.methods:
            if method in owners:
                raise BuildError(f"wire method {method!r} maps to both {owners[method]} and {event.class_name}")
            owners[method] = event.class_name


def build(loaded: Loaded) -> Schema:
    """Make the model from the loaded inputs."""
    types = _Types(loaded.files)
    events = tuple(sorted(_events(loaded, types), key=lambda event: event.class_name))
    _check(events)
    used = sorted({field.enum for event in events for field in event.fields if field.enum is not None})
    by_short = {types.short[full]: enum for full, enum in types.enums.items()}
    enums = tuple(
        Enum(name, tuple(EnumValue(value.name, value.number) for value in by_short[name].value)) for name in used
    )
    modules = tuple(ProtoModule(_stem(file.name), PurePosixPath("proto") / file.name) for file in loaded.files)
    mixins = tuple(sorted({event.mixin for event in events if event.mixin}))
    derived = derived_events(loaded.derived_source, events)
    connection = derived_events(loaded.connection_source, frozenset({"BaseEvent"}))
    known = {event.class_name for event in events} | {event.class_name for event in (*derived, *connection)}
    known.add("UnknownEvent")
    return Schema(
        events=events,
        enums=enums,
        modules=tuple(sorted(modules, key=lambda m: m.stem)),
        mixins=mixins,
        derived=derived,
        connection=connection,
        sets=event_sets(loaded.sets or {}, known),
    )


def event_sets(table: Mapping[str, object], known: set[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """events.toml's ``[sets]``: each a list of event class names that exist (checked), kept in their order."""
    sets = []
    for name, value in sorted(table.items()):
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise BuildError(f"events.toml [sets] {name} must be a list of event class names")
        unknown = sorted(set(value) - known)
        if unknown:
            raise BuildError(f"events.toml [sets] {name} names unknown events: {unknown}")
        if len(set(value)) != len(value):
            raise BuildError(f"events.toml [sets] {name} names an event twice")
        sets.append((name, tuple(value)))
    return tuple(sets)
