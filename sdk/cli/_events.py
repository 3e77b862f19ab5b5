"""Event names on the command line (``--events comment,gift``) and the ``events`` command (the reference of one
event, read from the generated registry)."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Final, TextIO, cast

from tiktok_live._generated.names import EVENT_SETS
from tiktok_live.cli._common import EXIT_OK, UsageError
from tiktok_live.cli._options import close_matches

if TYPE_CHECKING:
    from google.protobuf.descriptor import FieldDescriptor

    from tiktok_live._base import BaseEvent

__all__ = ["CONNECTION_EVENTS", "CORE_EVENTS", "event_classes", "events_command", "resolve_events"]

CORE_EVENTS: Final = EVENT_SETS["core"]
"""What readable output shows without ``--events`` (codegen/events.toml's ``core`` set)."""
CONNECTION_EVENTS: Final = EVENT_SETS["cli_connection"]
"""The connection events readable output shows without ``--events``."""


def _key(name: str) -> str:
    return name.removesuffix("Event").replace("_", "").replace("-", "").lower()


def _suggest(name: str, classes: Iterable[str]) -> str:
    """The event names closest to ``name`` (difflib, on the ``--events`` spelling), else those containing it;
    else where to look them up."""
    by_key = {_key(class_name): class_name for class_name in classes}
    close = close_matches(_key(name), by_key) or [key for key in by_key if _key(name) in key][:5]
    if close:
        return f" (did you mean {', '.join(by_key[key] for key in close)}?)"
    return "; `tiktok-live events` lists them"


def event_classes() -> dict[str, type[BaseEvent]]:
    """Every event class a client can emit, by class name: generated (from the registry), derived, connection."""
    from tiktok_live import events

    classes: dict[str, type[BaseEvent]] = {}
    for name in events.__all__:
        value = getattr(events, name)
        if isinstance(value, type) and issubclass(value, events.BaseEvent) and value is not events.BaseEvent:
            if value is not events.ProtoEvent:
                classes[name] = value
    return dict(sorted(classes.items()))


def resolve_events(spec: str | None, default: Iterable[str]) -> list[type[BaseEvent]]:
    """``comment,gift,room_user_seq`` (case-insensitive, ``Event`` optional; ``all`` for every event) -> classes."""
    classes = event_classes()
    by_key = {_key(name): cls for name, cls in classes.items()}
    if spec is None:
        return [classes[name] for name in default]
    chosen: list[type[BaseEvent]] = []
    for part in (piece.strip() for piece in spec.split(",")):
        if not part:
            continue
        if part.lower() == "all":
            chosen.extend(classes.values())
            continue
        cls = by_key.get(_key(part))
        if cls is None:
            raise UsageError(f"unknown event {part!r}{_suggest(part, classes)}")
        chosen.append(cls)
    return list(dict.fromkeys(chosen))


def events_command(args: argparse.Namespace, out: TextIO) -> int:
    """``tiktok-live events [NAME]``: every event, or one event's fields, or a message's fields or an enum's values."""
    from tiktok_live import events

    classes = event_classes()
    if args.name is None:
        for name, cls in classes.items():
            out.write(f"{name:<42} {', '.join(_methods(cls)) or _kind(cls)}\n")
        out.write(f"\n{len(classes)} events; `tiktok-live events NAME` shows one (or a type: User, Gift, ...)\n")
        return EXIT_OK
    from tiktok_live._describe import describe_type, find_type, similar_types

    # An event's class name, a type's exact name (`Gift`), an event loosely (`gift`), a type loosely (`imagemodel`).
    found = None if args.name in classes else find_type(args.name)
    if found is None:
        try:
            (cls,) = resolve_events(args.name, ())
        except UsageError as error:
            found = find_type(args.name, exact=False)
            if found is None:
                close = similar_types(args.name)
                raise UsageError(f"{error}; close type names: {', '.join(close)}" if close else str(error)) from None
    if found is not None:
        out.write(describe_type(*found))
        return EXIT_OK
    out.write(f"{cls.__name__}: {(cls.__doc__ or '').strip().splitlines()[0]}\n")
    methods = _methods(cls)
    out.write(f"wire methods: {', '.join(methods) if methods else _kind(cls)}\n")
    if issubclass(cls, events.ProtoEvent) and hasattr(cls, "PROTO"):
        out.write("fields:\n")
        proto_fields = cast("Sequence[FieldDescriptor]", cls.PROTO.DESCRIPTOR.fields)
        for proto_field in sorted(proto_fields, key=lambda f: f.number):
            attr = proto_field.name + ("_" if not hasattr(cls, proto_field.name) else "")
            out.write(f"  {attr:<36} {_field_type(proto_field):<40} #{proto_field.number}\n")
    props = [
        name
        for klass in cls.__mro__
        if klass.__module__ in ("tiktok_live._base", "tiktok_live._derived", "tiktok_live._connection")
        for name, value in vars(klass).items()
        if isinstance(value, property) and not name.startswith("_") and klass.__name__ not in _BASES
    ]
    if props:
        out.write(f"convenience: {', '.join(dict.fromkeys(props))}\n")
    return EXIT_OK


_BASES: Final = ("BaseEvent", "ProtoEvent")


def _methods(cls: type[BaseEvent]) -> tuple[str, ...]:
    from tiktok_live.events import ProtoEvent

    return cls.METHODS if issubclass(cls, ProtoEvent) else ()


def _kind(cls: type) -> str:
    module = cls.__module__
    if module.endswith("_derived"):
        return f"(derived from {cls.__mro__[1].__name__})"
    if module.endswith("_connection"):
        return "(connection event)"
    return "(any unknown method)" if cls.__name__ == "UnknownEvent" else ""


def _field_type(proto_field: FieldDescriptor) -> str:
    from google.protobuf.descriptor import FieldDescriptor

    if proto_field.message_type is not None:
        base = proto_field.message_type.name
        if proto_field.message_type.GetOptions().map_entry:
            key, value = proto_field.message_type.fields
            return f"map<{_field_type(key)}, {_field_type(value)}>"
    elif proto_field.enum_type is not None:
        base = proto_field.enum_type.name
    else:
        names = {
            FieldDescriptor.TYPE_STRING: "str",
            FieldDescriptor.TYPE_BOOL: "bool",
            FieldDescriptor.TYPE_BYTES: "bytes",
            FieldDescriptor.TYPE_DOUBLE: "float",
            FieldDescriptor.TYPE_FLOAT: "float",
        }
        base = names.get(proto_field.type, "int")
    return f"list[{base}]" if proto_field.is_repeated else base
