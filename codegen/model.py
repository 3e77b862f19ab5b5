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
    ``proto/`` (short names, for the reference). ``link`` is the anchor of the section in docs/events.md of the
    message or enum its type names (a map's value type), if any.
    """

    name: str
    attr: str
    number: int
    kind: FieldKind
    annotation: str
    proto_type: str
    enum: str | None = None
    link: str | None = None


def type_anchor(name: str) -> str:
    """The anchor of a message's or enum's section in docs/events.md: ``User`` -> ``type-user``.

    Explicit (an ``<a id>`` before the heading) rather than a heading slug: slugs drop the dot, so ``A.BC`` and
    ``AB.C`` would share one, and heading ids differ between MkDocs and GitHub once they are de-duplicated.
    """
    return f"type-{name.lower()}"


@dataclass(frozen=True, slots=True)
class Property:
    """A hand-written convenience property (or documented attribute) of an event, read from ``sdk/``."""

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
    """An enum that an event's fields reach (directly or through nested messages), listed with its values."""

    name: str
    values: tuple[EnumValue, ...]

    @property
    def anchor(self) -> str:
        """The anchor of this enum's section in docs/events.md."""
        return type_anchor(self.name)


@dataclass(frozen=True, slots=True)
class Message:
    """A message type that an event's fields reach (``User``, ``Gift``, ``WebcastGiftMessage.GiftIMPriority``).

    ``name`` is its short name (nested types keep their outer name), ``python`` the protobuf class as written in
    annotations, ``fields`` its fields (``attr`` is the protobuf attribute: no ``_`` suffix here).
    """

    name: str
    python: str
    fields: tuple[Field, ...]

    @property
    def anchor(self) -> str:
        """The anchor of this message's section in docs/events.md."""
        return type_anchor(self.name)


@dataclass(frozen=True, slots=True)
class Event:
    """One generated event class: the message it wraps, the wire methods that name it, its fields and mixin.

    ``summary`` is the format of ``str(event)`` from events.toml, ``summary_code`` the Python expression compiled
    from it (:mod:`codegen.summary`) and ``helpers`` the ``sdk/_base.py`` functions that expression calls.
    """

    class_name: str
    message: str
    module: str
    methods: tuple[str, ...]
    doc: str
    mixin: str | None
    fields: tuple[Field, ...]
    properties: tuple[Property, ...]
    summary: str | None = None
    summary_code: str | None = None
    helpers: tuple[str, ...] = ()

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
    """A hand-written event: derived from a generated one (``sdk/_derived.py``) or a connection event.

    ``attributes`` are its documented instance attributes (class-level annotations followed by a docstring).
    """

    class_name: str
    source: str
    doc: str
    properties: tuple[Property, ...]
    attributes: tuple[Property, ...] = ()

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
    """Everything the templates render. ``helpers``: the ``sdk/_base.py`` functions the summaries call."""

    events: tuple[Event, ...]
    enums: tuple[Enum, ...]
    modules: tuple[ProtoModule, ...]
    mixins: tuple[str, ...]
    derived: tuple[DerivedEvent, ...] = ()
    connection: tuple[DerivedEvent, ...] = ()
    messages: tuple[Message, ...] = ()
    helpers: tuple[str, ...] = ()
    sets: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Named event sets from events.toml's ``[sets]`` table, by name: (name, class names)."""

    @property
    def registry(self) -> tuple[tuple[str, Event], ...]:
        """(wire method, event) pairs, sorted by method."""
        return tuple(sorted(((method, event) for event in self.events for method in event.methods), key=_first))


def _first(item: tuple[str, Event]) -> str:
    return item[0]
