"""Stage 2: descriptors + event data -> the model (:mod:`codegen.model`). Pure; every naming and typing decision.

Which messages become events: every top-level ``Webcast*`` message of ``webcast.proto`` (the imported schema).
The transport file's messages (push frame, heartbeat, enter-room) are protocol plumbing, not events.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import PurePosixPath

from google.protobuf import descriptor_pb2

from codegen import naming
from codegen.load import Loaded
from codegen.model import (
    DerivedEvent,
    Enum,
    EnumValue,
    Event,
    Field,
    FieldKind,
    Message,
    Property,
    ProtoModule,
    Schema,
    type_anchor,
)
from codegen.printer import type_text
from codegen.summary import Resolved, SummaryError, compile_summary

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
_EVENT_KEYS = frozenset({"name", "doc", "mixin", "methods", "summary"})
USER_MESSAGE = "User"
"""The message a summary placeholder prints as a user label (``nickname (@unique_id)``)."""


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


def _field(
    field: descriptor_pb2.FieldDescriptorProto,
    types: _Types,
    reserved: frozenset[str] | None,
    links: Mapping[str, str],
) -> Field:
    """The model of one field. ``reserved``: names the attribute must avoid (None: the protobuf name as is);
    ``links``: fully qualified type name -> anchor of its section in the reference."""
    attr = field.name if reserved is None else naming.attribute(field.name, reserved)
    repeated = field.label == FDP.LABEL_REPEATED
    if field.type == FDP.TYPE_MESSAGE and repeated and types.messages[field.type_name].options.map_entry:
        key, value = sorted(types.messages[field.type_name].field, key=lambda f: f.number)
        key_py, value_py = _python(key, types), _python(value, types)
        proto_type = f"map<{_short(key, types)}, {_short(value, types)}>"
        annotation = f"Mapping[{key_py}, {value_py}]"
        return Field(
            field.name, attr, field.number, FieldKind.MAP, annotation, proto_type, link=links.get(value.type_name)
        )
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
        python, short = f"Sequence[{python}]", f"repeated {short}"
    return Field(field.name, attr, field.number, kind, python, short, enum, links.get(field.type_name))


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
        derived.append(DerivedEvent(node.name, bases[0], doc, _properties(node), _attributes(node)))
    return tuple(sorted(derived, key=lambda event: event.class_name))


def _attributes(node: ast.ClassDef) -> tuple[Property, ...]:
    """Documented instance attributes: class-level ``name: type`` followed by a docstring (ClassVars excluded)."""
    attributes = []
    for item, following in zip(node.body, [*node.body[1:], None], strict=True):
        if not (isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)) or item.value is not None:
            continue
        annotation = ast.unparse(item.annotation)
        if item.target.id.startswith("_") or annotation.startswith("ClassVar"):
            continue
        if not (
            isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            raise BuildError(f"{node.name}.{item.target.id} has no docstring: add one under its annotation")
        doc = " ".join(line.strip() for line in following.value.value.strip().splitlines())
        attributes.append(Property(item.target.id, annotation, doc))
    return tuple(attributes)


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


def _webcast_messages(loaded: Loaded) -> dict[str, descriptor_pb2.DescriptorProto]:
    (events_file,) = [file for file in loaded.files if file.name == EVENTS_FILE]
    return {message.name: message for message in events_file.message_type if message.name.startswith("Webcast")}


def _full_name(loaded: Loaded, message: str) -> str:
    (events_file,) = [file for file in loaded.files if file.name == EVENTS_FILE]
    return f".{events_file.package}.{message}" if events_file.package else f".{message}"


def _event_names(loaded: Loaded) -> dict[str, str]:
    """Message name -> event class name, for every ``Webcast*`` message."""
    names = {}
    for name in _webcast_messages(loaded):
        data = loaded.events.get(name, {})
        names[name] = str(data.get("name", naming.event_name(name)))
    return names


def _links(loaded: Loaded, types: _Types, reached: Iterable[str]) -> dict[str, str]:
    """Fully qualified type name -> anchor: event messages link to their event, other types to their section."""
    links = {full: type_anchor(types.short[full]) for full in reached}
    for message, event in _event_names(loaded).items():
        links[_full_name(loaded, message)] = event.lower()
    return links


def _reached(loaded: Loaded, types: _Types) -> list[str]:
    """Fully qualified names of the messages and enums that events' fields reach, transitively (no map entries,
    no event messages: those have their own sections)."""
    events = {_full_name(loaded, name) for name in _webcast_messages(loaded)}
    visited: set[str] = set(events)
    stack = [field.type_name for name in sorted(events) for field in types.messages[name].field if field.type_name]
    while stack:
        name = stack.pop()
        if name in visited:
            continue
        visited.add(name)
        if name in types.messages:
            stack.extend(field.type_name for field in types.messages[name].field if field.type_name)
    # A map entry is no type of its own: the field shows its key and value types, which were followed above.
    reached = (name for name in visited - events if not (name in types.messages and _is_map(types.messages[name])))
    return sorted(reached, key=lambda full: types.short[full])


def _is_map(message: descriptor_pb2.DescriptorProto) -> bool:
    return message.options.map_entry


def _messages(types: _Types, reached: Iterable[str], links: Mapping[str, str]) -> tuple[Message, ...]:
    messages = []
    for full in reached:
        if full not in types.messages:
            continue
        fields = sorted(types.messages[full].field, key=lambda f: f.number)
        messages.append(
            Message(
                name=types.short[full],
                python=types.python[full],
                fields=tuple(_field(field, types, None, links) for field in fields),
            )
        )
    return tuple(messages)


def _summary_resolver(
    event: str,
    attrs: Mapping[str, descriptor_pb2.FieldDescriptorProto],
    properties: Mapping[str, str],
    types: _Types,
) -> Callable[[tuple[str, ...]], Resolved]:
    """Resolve a summary placeholder's path on ``event`` (``attrs``: its fields by attribute, ``properties``: its
    mixin's properties and their annotations) to what it reaches and the Python expression of its value."""
    by_short = {short: full for full, short in types.short.items()}

    def fail(path: tuple[str, ...], why: str) -> SummaryError:
        return SummaryError(f"{{{'.'.join(path)}}} on {event}: {why}")

    def resolve(path: tuple[str, ...]) -> Resolved:
        first, rest = path[0], path[1:]
        expr, parent = f"self.{first}", "self.proto"
        field = attrs.get(first)
        if field is not None:
            type_name = field.type_name
        elif first in properties:  # a mixin property: its annotation names a message (``pb.User``) or a scalar
            type_name = by_short.get(properties[first].removeprefix("pb."), "")
        elif first in ("type", "size"):
            type_name = ""
        else:
            raise fail(path, f"no field or convenience property {first!r} (fields: {', '.join(sorted(attrs))})")
        for index, name in enumerate(rest):
            holder = types.messages.get(type_name)
            if holder is None or (field is not None and field.label == FDP.LABEL_REPEATED):
                raise fail(path, f"{'.'.join(path[: index + 1])} is not a message")
            by_name = {candidate.name: candidate for candidate in holder.field}
            if name not in by_name:
                raise fail(path, f"{types.short[type_name]} has no field {name!r}")
            parent, expr, field = expr, f"{expr}.{name}", by_name[name]
            type_name = field.type_name
        if field is not None and field.label == FDP.LABEL_REPEATED:
            return Resolved("sequence", expr)
        if type_name in types.enums and field is not None:
            return Resolved("enum", expr, parent, field.name)
        if type_name in types.messages:
            if types.short[type_name] == USER_MESSAGE:
                return Resolved("user", expr)
            raise fail(path, f"a whole {types.short[type_name]} message does not print: name one of its fields")
        return Resolved("scalar", expr)

    return resolve


def _events(loaded: Loaded, types: _Types, links: Mapping[str, str]) -> Iterator[Event]:
    reserved = reserved_names(loaded.base_source)
    webcast = _webcast_messages(loaded)
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
        class_name = str(data.get("name", naming.event_name(name)))
        fields = tuple(
            _field(field, types, local_reserved, links) for field in sorted(message.field, key=lambda f: f.number)
        )
        summary = data.get("summary")
        code = None
        if summary is not None:
            if not isinstance(summary, str):
                raise BuildError(f"events.toml [{name}] summary must be a string")
            by_attr = {
                field.attr: proto for field, proto in zip(fields, sorted(message.field, key=_number), strict=True)
            }
            resolve = _summary_resolver(class_name, by_attr, {prop.name: prop.annotation for prop in properties}, types)
            try:
                code = compile_summary(summary, resolve)
            except SummaryError as exc:
                raise BuildError(f"events.toml [{name}] summary: {exc}") from exc
        yield Event(
            class_name=class_name,
            message=name,
            module=EVENTS_MODULE,
            methods=naming.wire_methods(name, tuple(str(method) for method in methods)),
            doc=str(data.get("doc", _default_doc(name))).strip(),
            mixin=mixin,
            fields=fields,
            properties=properties,
            summary=summary,
            summary_code=code.code if code is not None else None,
            helpers=code.helpers if code is not None else (),
        )


def _number(field: descriptor_pb2.FieldDescriptorProto) -> int:
    return field.number


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


def _check_anchors(events: tuple[Event, ...], messages: tuple[Message, ...], enums: tuple[Enum, ...]) -> None:
    owners: dict[str, str] = {}
    for name, anchor in [
        *((event.class_name, event.anchor) for event in events),
        *((message.name, message.anchor) for message in messages),
        *((enum.name, enum.anchor) for enum in enums),
    ]:
        if anchor in owners:
            raise BuildError(f"{owners[anchor]} and {name} would share the docs anchor #{anchor}")
        owners[anchor] = name


def build(loaded: Loaded) -> Schema:
    """Make the model from the loaded inputs."""
    types = _Types(loaded.files)
    reached = _reached(loaded, types)
    links = _links(loaded, types, reached)
    events = tuple(sorted(_events(loaded, types, links), key=lambda event: event.class_name))
    _check(events)
    enums = tuple(
        Enum(types.short[full], tuple(EnumValue(value.name, value.number) for value in types.enums[full].value))
        for full in reached
        if full in types.enums
    )
    messages = _messages(types, reached, links)
    _check_anchors(events, messages, enums)
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
        messages=messages,
        helpers=tuple(sorted({helper for event in events for helper in event.helpers})),
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
