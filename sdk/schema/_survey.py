"""The survey: decode payloads with the generated classes and tally what the schema does not know.

It keeps counts and a few samples per finding, never the payloads themselves, so it runs over recordings of any
length (and behind ``watch --report-unknown``) in bounded memory.
"""

from __future__ import annotations

import builtins
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

from tiktok_live._base import BaseEvent, ProtoEvent, UnknownEvent
from tiktok_live.schema._walk import descriptor_of, type_name, undeclared_fields
from tiktok_live.schema._wire import (
    WIRE_NAMES,
    Nested,
    RawFields,
    RawValue,
    classify,
    kind_of,
    render,
    to_json,
    wire_type,
)

__all__ = ["REPORT_VERSION", "FieldFinding", "MethodFinding", "Survey", "TypeFinding", "UndecodableFinding"]

REPORT_VERSION: Final = 1
"""Version of the ``--json`` report (a new number means an incompatible change; new keys may appear)."""
SHOWN_SAMPLES: Final = 3
"""Distinct sample values shown per finding."""
KEPT_SAMPLES: Final = 8
"""Distinct sample values kept per finding (the proposal guesses types from them)."""


@dataclass(eq=False)
class FieldFinding:
    """One undeclared field number, in one message type, reached by one path of declared fields."""

    owner: str
    """The message type that lacks the field (name inside the package)."""
    path: tuple[str, ...]
    """Declared fields from the top-level message to ``owner`` (``name[]``: repeated, ``name{}``: map values)."""
    number: int
    wire_type: int
    declared: FieldDescriptor | None = None
    """The declared field with this number when the wire type differs from its declaration."""
    occurrences: int = 0
    payloads: int = 0
    most_in_one: int = 0
    """The most occurrences within one message instance (above 1: a repeated field)."""
    kinds: Counter[str] = field(default_factory=Counter)
    """How the values read: varint, text, empty, message, bytes, fixed64, fixed32, group."""
    samples: list[RawValue] = field(default_factory=list)

    def add(self, values: Iterable[RawValue]) -> None:
        """Count the occurrences of this field in one message instance."""
        count = 0
        for value in values:
            count += 1
            self.kinds[kind_of(value)] += 1
            if len(self.samples) < KEPT_SAMPLES and value not in self.samples:
                self.samples.append(value)
        self.occurrences += count
        self.most_in_one = max(self.most_in_one, count)

    @property
    def wire(self) -> str:
        """The wire type's name, with what the values look like for length-delimited ones."""
        name = WIRE_NAMES.get(self.wire_type, f"wire type {self.wire_type}")
        if self.wire_type == 2:
            looks = [kind for kind, _ in self.kinds.most_common() if kind != "empty"] or ["empty"]
            name += f" ({'/'.join(looks)})"
        return name

    def to_dict(self) -> dict[str, object]:
        """The finding as JSON."""
        declared = self.declared
        return {
            "owner": self.owner,
            "path": ".".join(self.path),
            "number": self.number,
            "wire_type": self.wire_type,
            "wire": self.wire,
            "declared_as": None if declared is None else {"name": declared.name, "type": _declared_type(declared)},
            "occurrences": self.occurrences,
            "payloads": self.payloads,
            "most_in_one_message": self.most_in_one,
            "samples": [to_json(value) for value in self.samples[:SHOWN_SAMPLES]],
        }


_TYPE_NAMES: Final = {
    getattr(FieldDescriptor, name): name.removeprefix("TYPE_").lower()
    for name in dir(FieldDescriptor)
    if name.startswith("TYPE_")
}


def _declared_type(declared: FieldDescriptor) -> str:
    if declared.message_type is not None:
        return declared.message_type.name
    if declared.enum_type is not None:
        return declared.enum_type.name
    return _TYPE_NAMES.get(declared.type, str(declared.type))


@dataclass(eq=False)
class TypeFinding:
    """A top-level message type (an event's message, or a transport message) and its undeclared fields."""

    name: str
    methods: set[str] = field(default_factory=set)
    payloads: int = 0
    with_undeclared: int = 0
    fields: dict[tuple[str, tuple[str, ...], int, int], FieldFinding] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """The finding as JSON."""
        return {
            "type": self.name,
            "methods": sorted(self.methods),
            "payloads": self.payloads,
            "with_undeclared": self.with_undeclared,
            "fields": [finding.to_dict() for finding in _ordered(self.fields.values())],
        }


@dataclass(eq=False)
class MethodFinding:
    """A wire method no event class knows: how often, how big, and what its payloads hold."""

    method: str
    payloads: int = 0
    min_size: int = 0
    max_size: int = 0
    samples: list[RawValue] = field(default_factory=list)
    fields: dict[int, FieldFinding] = field(default_factory=dict)
    """Its top-level fields, tallied like undeclared fields (the proposal guesses a message from them)."""

    def add(self, size: int, value: RawValue) -> None:
        """Count one payload of this method (``value``: the payload, classified)."""
        self.min_size = size if self.payloads == 0 else min(self.min_size, size)
        self.max_size = max(self.max_size, size)
        self.payloads += 1
        if len(self.samples) < SHOWN_SAMPLES and value not in self.samples:
            self.samples.append(value)
        if isinstance(value, Nested):
            for number, values in value.fields.items():
                wire = wire_type(values[0])
                finding = self.fields.setdefault(number, FieldFinding(self.method, (), number, wire))
                finding.add(values)
                finding.payloads += 1

    def to_dict(self) -> dict[str, object]:
        """The finding as JSON."""
        return {
            "method": self.method,
            "payloads": self.payloads,
            "min_size": self.min_size,
            "max_size": self.max_size,
            "samples": [to_json(value) for value in self.samples],
        }


@dataclass(eq=False)
class UndecodableFinding:
    """Payloads that the method's class rejects (the schema declares a field with an incompatible type)."""

    method: str
    type_name: str
    error: str
    payloads: int = 0
    min_size: int = 0
    max_size: int = 0
    sample: RawValue | None = None

    def to_dict(self) -> dict[str, object]:
        """The finding as JSON."""
        return {
            "method": self.method,
            "type": self.type_name,
            "error": self.error,
            "payloads": self.payloads,
            "min_size": self.min_size,
            "max_size": self.max_size,
            "sample": None if self.sample is None else to_json(self.sample),
        }


def _ordered(findings: Iterable[FieldFinding]) -> list[FieldFinding]:
    return sorted(findings, key=lambda f: (f.path, f.owner, f.number, f.wire_type))


class Survey:
    """Decodes what it is given with the generated classes and tallies what the schema lacks.

    Feed it payloads (:meth:`add_payload`), decoded messages (:meth:`add_message`, e.g. transport envelopes) or
    events (:meth:`add_event`); read the findings (``types``, ``methods``, ``undecodable``) or render them
    (:meth:`render_text`, :meth:`to_dict`). Nothing it is fed makes it raise.
    """

    def __init__(self) -> None:
        self.types: dict[str, TypeFinding] = {}
        self.methods: dict[str, MethodFinding] = {}
        self.undecodable: dict[tuple[str, str], UndecodableFinding] = {}
        self.unchecked: Counter[str] = Counter()
        """Records seen without their payload bytes (JSON Lines of decoded events), by type: not checkable."""
        self.messages = 0
        """Messages surveyed: payloads, decoded messages and events (not unchecked records)."""

    # ── input ────────────────────────────────────────────────────────────────────────────────────────────────

    def add_payload(self, method: str, payload: builtins.bytes) -> None:
        """Decode ``payload`` with ``method``'s event class and tally what its schema does not declare."""
        from tiktok_live.events import REGISTRY

        event_class = REGISTRY.get(method)
        if event_class is None:
            self._unknown_method(method, payload)
            return
        proto = event_class.PROTO()
        try:
            proto.ParseFromString(payload)
        except DecodeError as error:
            self._undecodable(method, type_name(descriptor_of(proto)), payload, error)
            return
        self.add_message(proto, method)

    def add_message(self, message: Message, method: str | None = None) -> None:
        """Tally the undeclared fields of a decoded message (``method``: the wire method it came as, if any)."""
        self.messages += 1
        name = type_name(descriptor_of(message))
        finding = self.types.get(name)
        if finding is None:
            finding = self.types[name] = TypeFinding(name)
        finding.payloads += 1
        if method is not None:
            finding.methods.add(method)
        seen: set[tuple[str, tuple[str, ...], int, int]] = set()
        for item in undeclared_fields(message):
            key = (item.owner, item.path, item.number, item.wire_type)
            stats = finding.fields.get(key)
            if stats is None:
                stats = finding.fields[key] = FieldFinding(item.owner, item.path, item.number, item.wire_type)
                stats.declared = item.declared
            stats.add(item.values)
            seen.add(key)
        for key in seen:
            finding.fields[key].payloads += 1
        if seen:
            finding.with_undeclared += 1

    def add_event(self, event: BaseEvent) -> None:
        """Tally one event a client emitted: generated events by their message, unknown events by their method."""
        if isinstance(event, ProtoEvent):
            methods = type(event).METHODS
            self.add_message(event.proto, methods[0] if methods else None)
        elif isinstance(event, UnknownEvent):
            if event.decode_error is None:
                self._unknown_method(event.method, event.bytes)
            else:
                from tiktok_live.events import REGISTRY

                event_class = REGISTRY.get(event.method)
                name = type_name(descriptor_of(event_class.PROTO)) if event_class is not None else event.method
                self._undecodable(event.method, name, event.bytes, event.decode_error)

    def add_unknown_view(self, method: str, fields: RawFields, size: int) -> None:
        """Tally a payload of an unknown method seen only as a field view (a JSON Lines record without bytes)."""
        self.messages += 1
        self.methods.setdefault(method, MethodFinding(method)).add(size, Nested(b"", fields))

    def _unknown_method(self, method: str, payload: builtins.bytes) -> None:
        self.messages += 1
        self.methods.setdefault(method, MethodFinding(method)).add(len(payload), classify(payload))

    def _undecodable(self, method: str, name: str, payload: builtins.bytes, error: Exception) -> None:
        self.messages += 1
        key = (method, str(error))
        finding = self.undecodable.get(key)
        if finding is None:
            finding = self.undecodable[key] = UndecodableFinding(method, name, str(error), min_size=len(payload))
            finding.sample = classify(payload)
        finding.payloads += 1
        finding.min_size = min(finding.min_size, len(payload))
        finding.max_size = max(finding.max_size, len(payload))

    # ── results ──────────────────────────────────────────────────────────────────────────────────────────────

    @property
    def with_undeclared(self) -> int:
        """Messages that carried at least one undeclared field."""
        return sum(finding.with_undeclared for finding in self.types.values())

    @property
    def unknown_payloads(self) -> int:
        """Payloads of methods no event class knows."""
        return sum(finding.payloads for finding in self.methods.values())

    @property
    def undecodable_payloads(self) -> int:
        """Payloads their method's class rejected."""
        return sum(finding.payloads for finding in self.undecodable.values())

    @property
    def covered(self) -> bool:
        """True when every message surveyed decoded with its class and carried only declared fields."""
        return not (self.with_undeclared or self.methods or self.undecodable)

    def summary(self) -> str:
        """One line: how many messages, and how many of them the schema does not fully cover."""
        if self.covered:
            text = f"schema covers everything seen ({_times(self.messages, 'message')})"
        else:
            parts = [f"{self.with_undeclared} of {_times(self.messages, 'message')} carried undeclared fields"]
            if self.methods:
                parts.append(
                    f"{_times(self.unknown_payloads, 'message')} of {_times(len(self.methods), 'unknown method')}"
                )
            if self.undecodable:
                parts.append(f"{_times(self.undecodable_payloads, 'message')} did not decode")
            text = "; ".join(parts)
        if self.unchecked:
            text += f"; {_times(sum(self.unchecked.values()), 'record')} could not be checked"
        return text

    def to_dict(self, sources: Iterable[str] = ()) -> dict[str, object]:
        """The whole report as JSON (``--json``): see docs/schema.md for the shape."""
        return {
            "v": REPORT_VERSION,
            "sources": list(sources),
            "messages": self.messages,
            "covered": self.covered,
            "with_undeclared": self.with_undeclared,
            "types": [self.types[name].to_dict() for name in sorted(self.types) if self.types[name].fields],
            "unknown_methods": [self.methods[name].to_dict() for name in sorted(self.methods)],
            "undecodable": [finding.to_dict() for _, finding in sorted(self.undecodable.items())],
            "unchecked": dict(sorted(self.unchecked.items())),
        }

    def render_text(self) -> str:
        """The report for a terminal: per message type, its undeclared fields grouped by where they sit."""
        lines = [self.summary()]
        for name in sorted(self.types):
            finding = self.types[name]
            if not finding.fields:
                continue
            methods = ", ".join(sorted(finding.methods - {name})) or ""
            also = f" (also sent as {methods})" if methods else ""
            lines += ["", f"{name}{also}: {finding.with_undeclared} of {finding.payloads} carried undeclared fields"]
            groups: dict[tuple[tuple[str, ...], str], list[FieldFinding]] = {}
            for item in _ordered(finding.fields.values()):
                groups.setdefault((item.path, item.owner), []).append(item)
            for (path, owner), items in groups.items():
                where = ".".join(path) if path else "(top level)"
                lines.append(f"  {where} -> {owner}")
                for item in items:
                    lines.extend(_field_lines(item))
        if self.methods:
            lines += ["", "methods no event class knows:"]
            for method in sorted(self.methods):
                found = self.methods[method]
                sizes = (
                    f"{found.min_size}" if found.min_size == found.max_size else f"{found.min_size}-{found.max_size}"
                )
                lines.append(f"  {method}: {_times(found.payloads, 'payload')}, {sizes} bytes")
                lines.extend(f"      e.g. {render(sample)}" for sample in found.samples)
        if self.undecodable:
            lines += ["", "payloads their class rejects:"]
            for (method, _), bad in sorted(self.undecodable.items()):
                lines.append(f"  {method} ({bad.type_name}): {_times(bad.payloads, 'payload')}: {bad.error}")
                if bad.sample is not None:
                    lines.append(f"      e.g. {render(bad.sample)}")
        if self.unchecked:
            listed = ", ".join(f"{name} {count}" for name, count in self.unchecked.most_common(8))
            lines += [
                "",
                f"not checked (records without payload bytes): {listed}",
                "  JSON Lines of decoded events keep only declared fields; record the LIVE (`tiktok-live record`)",
                "  and run this command on the recording to check them.",
            ]
        return "\n".join(lines)


def _field_lines(item: FieldFinding) -> list[str]:
    declared = ""
    if item.declared is not None:
        declared = f", declared as {_declared_type(item.declared)} {item.declared.name}"
    counts = f"{_times(item.occurrences, 'time')} in {_times(item.payloads, 'payload')}"
    if item.most_in_one > 1:
        counts += f", up to {item.most_in_one} in one message"
    lines = [f"    #{item.number:<4} {item.wire}{declared}: {counts}"]
    lines.extend(f"          e.g. {render(sample, 140)}" for sample in item.samples[:SHOWN_SAMPLES])
    return lines


def _times(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
