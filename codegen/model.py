"""The generator's model: small frozen dataclasses of tuples, with no descriptor references.

:func:`codegen.build.build` makes every naming and typing decision and stores the results here; templates only
print what the model says.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import PurePosixPath


class FieldKind(enum.Enum):
    """How a field is shaped on the wire and typed in Python."""

    SCALAR = "scalar"
    ENUM = "enum"
    MESSAGE = "message"
    REPEATED_SCALAR = "repeated scalar"
    REPEATED_ENUM = "repeated enum"
    REPEATED_MESSAGE = "repeated message"
    MAP = "map"


@dataclass(frozen=True, slots=True)
class Field:
    """One top-level field of an event's message, as the event exposes it.

    ``attr`` is the Python attribute (``name`` plus ``_`` where it collides with an event attribute or keyword),
    ``annotation`` its Python type as written in ``generated/events``, ``proto_type`` its type as written in
    ``proto/`` (short names, for the reference).
    """

    name: str
    attr: str
    number: int
    kind: FieldKind
    annotation: str
    proto_type: str
    enum: str | None = None


@dataclass(frozen=True, slots=True)
class Property:
    """A hand-written convenience property of an event, read from its mixin in ``sdk/_base.py``."""

    name: str
    annotation: str
    doc: str


@dataclass(frozen=True, slots=True)
class EnumValue:
    """One value of an enum used by an event's fields."""

    name: str
    number: int


@dataclass(frozen=True, slots=True)
class Enum:
    """An enum referenced by some event's top-level field, listed in the reference with its values."""

    name: str
    values: tuple[EnumValue, ...]


@dataclass(frozen=True, slots=True)
class Event:
    """One generated event class: the message it wraps, the wire methods that name it, its fields and mixin."""

    class_name: str
    message: str
    module: str
    methods: tuple[str, ...]
    doc: str
    mixin: str | None
    fields: tuple[Field, ...]
    properties: tuple[Property, ...]

    @property
    def anchor(self) -> str:
        """The Markdown anchor of this event's section in docs/events.md."""
        return self.class_name.lower()

    @property
    def renamed(self) -> tuple[Field, ...]:
        """Fields whose attribute differs from their proto name (collisions with event attributes)."""
        return tuple(field for field in self.fields if field.attr != field.name)


@dataclass(frozen=True, slots=True)
class DerivedEvent:
    """A hand-written event derived from a generated one (read from ``sdk/_derived.py``)."""

    class_name: str
    source: str
    doc: str
    properties: tuple[Property, ...]

    @property
    def anchor(self) -> str:
        """The Markdown anchor of this event's section in docs/events.md."""
        return self.class_name.lower()


@dataclass(frozen=True, slots=True)
class ProtoModule:
    """One generated protobuf module (``generated/pb/<stem>_pb2.py`` + ``.pyi``) and the proto file it came from."""

    stem: str
    source: PurePosixPath


@dataclass(frozen=True, slots=True)
class Schema:
    """Everything the templates render."""

    events: tuple[Event, ...]
    enums: tuple[Enum, ...]
    modules: tuple[ProtoModule, ...]
    mixins: tuple[str, ...]
    derived: tuple[DerivedEvent, ...] = ()
    connection: tuple[DerivedEvent, ...] = ()
    sets: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Named event sets from events.toml's ``[sets]`` table, by name: (name, class names)."""

    @property
    def registry(self) -> tuple[tuple[str, Event], ...]:
        """(wire method, event) pairs, sorted by method."""
        return tuple(sorted(((method, event) for event in self.events for method in event.methods), key=_first))


def _first(item: tuple[str, Event]) -> str:
    return item[0]
