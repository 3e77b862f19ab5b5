"""Corrections proposed from a survey, in the format of ``codegen/corrections.toml``.

Every undeclared field becomes an ``add_field`` (a declared number that arrives with another wire type becomes a
``retype_field``) with a placeholder name, ``field_<number>``, and a type guessed from the values seen:

- varint -> ``int64``; fixed64 -> ``double`` (``fixed64`` when the values are no plausible doubles); fixed32 ->
  ``float`` (or ``fixed32``);
- length-delimited: text -> ``string``; a message -> the existing message type whose declared fields take every
  sample (at every depth) when one fits well, else a new nested message, ``<Owner>.Field<number>``, whose fields
  are guessed the same way; anything else -> ``bytes`` (``repeated int64`` when it reads as packed varints);
- ``repeated`` when one message carried the number more than once.

A method no class knows becomes an ``add_message`` named ``Webcast<Method>`` (registering both spellings) with
its common block and the fields of its samples. The maintainer replaces the placeholders with names that say what
the values mean, checks the types against the samples quoted in the comments, and runs ``make import-schema``,
``make generate`` and the tests.
"""

from __future__ import annotations

import json
import math
import re
import struct
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Final, cast

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from tiktok_live.schema._survey import FieldFinding, MethodFinding, Survey
from tiktok_live.schema._walk import type_name
from tiktok_live.schema._wire import (
    WIRE_NAMES,
    Binary,
    Fixed32,
    Fixed64,
    Group,
    Nested,
    RawFields,
    RawValue,
    Text,
    Varint,
    kind_of,
    parse_fields,
    render,
    wire_type,
)

__all__ = ["propose"]

CORRECTED_FILE: Final = "webcast.proto"
"""The proto file that the importer writes (and corrections change); others in proto/ are edited by hand."""
MAX_NEW_DEPTH: Final = 4
"""New nested messages are guessed this deep; below, values are declared ``bytes``."""
MIN_FIT_SCORE: Final = 3
"""An existing type is proposed when its declared fields take at least this many sample fields (or two, when it is
the only type that takes them all)."""
_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CONTROL: Final = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_VARINT: Final = frozenset(
    {
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT32,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT32,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_BOOL,
        FieldDescriptor.TYPE_ENUM,
    }
)
_FIXED64: Final = frozenset({FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_SFIXED64, FieldDescriptor.TYPE_DOUBLE})
_FIXED32: Final = frozenset({FieldDescriptor.TYPE_FIXED32, FieldDescriptor.TYPE_SFIXED32, FieldDescriptor.TYPE_FLOAT})
_PACKABLE: Final = _VARINT | _FIXED64 | _FIXED32


@dataclass
class _Values:
    """What is known of one field number: its values (samples), wire types, kinds and repetition."""

    wires: Counter[int] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    samples: list[RawValue] = field(default_factory=list)
    most_in_one: int = 0

    @classmethod
    def of(cls, finding: FieldFinding) -> _Values:
        values = cls(Counter({finding.wire_type: finding.occurrences}), Counter(finding.kinds))
        values.samples = list(finding.samples)
        values.most_in_one = finding.most_in_one
        return values

    def merge(self, other: _Values) -> None:
        self.wires.update(other.wires)
        self.kinds.update(other.kinds)
        self.samples.extend(sample for sample in other.samples if sample not in self.samples)
        self.most_in_one = max(self.most_in_one, other.most_in_one)


@dataclass
class _NewMessage:
    name: str
    fields: list[tuple[int, str, str, str]]
    """(number, name, type, note) per field."""


@dataclass
class _Context:
    """Names taken so far (new nested messages must not collide) and the messages to add."""

    taken: set[str]
    new: list[_NewMessage] = field(default_factory=list)


# ── entry point ──────────────────────────────────────────────────────────────────────────────────────────────


def propose(survey: Survey, sources: Sequence[str] = ()) -> str:
    """The corrections for everything ``survey`` found, as TOML text to add to ``codegen/corrections.toml``."""
    lines = [
        "# Corrections proposed by `tiktok-live schema unknowns --propose`"
        + (f" from {', '.join(sources)}" if sources else "")
        + ".",
        f"# {survey.summary()}.",
        "# Add them to codegen/corrections.toml, replace every placeholder name (field_N, FieldN) with one that says",
        "# what the values mean, check each guessed type against the samples quoted, then run `make import-schema`,",
        "# `make generate` and the tests.",
    ]
    if survey.covered:
        lines.append("# Nothing to correct: the schema covers everything seen.")
        return "\n".join(lines) + "\n"
    context = _Context(taken=set(_all_messages()))
    for owner, numbers in _by_owner(survey).items():
        lines += ["", *_owner_block(owner, numbers, context)]
    for method in sorted(survey.methods):
        lines += ["", *_method_block(survey.methods[method], context)]
    if survey.undecodable:
        lines.append("")
        for (method, _), bad in sorted(survey.undecodable.items()):
            lines.append(
                f"# {method} ({bad.type_name}): {bad.payloads} payload(s) do not decode ({bad.error}); a declared"
                " field has an incompatible type: find it with the sample below and add a retype_field."
            )
            if bad.sample is not None:
                lines.append(f"#   e.g. {render(bad.sample, 300)}")
    return "\n".join(_clean(line) for line in lines) + "\n"


def _by_owner(survey: Survey) -> dict[str, dict[int, tuple[_Values, FieldFinding, list[str]]]]:
    """Findings merged per (owner type, number) across the paths and top-level types they were seen at."""
    owners: dict[str, dict[int, tuple[_Values, FieldFinding, list[str]]]] = {}
    for type_finding in (survey.types[name] for name in sorted(survey.types)):
        for finding in type_finding.fields.values():
            where = ".".join((type_finding.name, *finding.path))
            numbers = owners.setdefault(finding.owner, {})
            known = numbers.get(finding.number)
            if known is None:
                numbers[finding.number] = (_Values.of(finding), finding, [where])
            else:
                known[0].merge(_Values.of(finding))
                if where not in known[2]:
                    known[2].append(where)
    return {owner: dict(sorted(numbers.items())) for owner, numbers in sorted(owners.items())}


# ── blocks ───────────────────────────────────────────────────────────────────────────────────────────────────


def _owner_block(
    owner: str, numbers: Mapping[int, tuple[_Values, FieldFinding, list[str]]], context: _Context
) -> list[str]:
    descriptor = _message(owner)
    lines = [f"# ── {owner} ({_seen_at(w for _, _, where in numbers.values() for w in where)}) ──"]
    entries: list[str] = []
    for number, (values, finding, _) in numbers.items():
        before = len(context.new)
        spec, notes = _guess(owner, number, values, context, depth=0)
        entries.append("")
        entries.append(f"# #{number}: {_describe(values, finding)}")
        entries.extend(f"# {note}" for note in notes)
        if spec is None:
            entries.append(f"# (not proposed: {WIRE_NAMES.get(values.wires.most_common(1)[0][0])} cannot be declared)")
            continue
        if descriptor is not None and descriptor.file.name != CORRECTED_FILE:
            del context.new[before:]
            entries.append(
                f"# {owner} is hand-written in proto/{descriptor.file.name}: declare"
                f" `{spec} field_{number} = {number};` there (corrections apply to the imported schema only)."
            )
            continue
        if finding.declared is not None:
            entries += [
                "[[retype_field]]",
                f"message = {_toml(owner)}",
                f"number = {number}",
                f"type = {_toml(spec)}",
            ]
            continue
        entries += [
            "[[add_field]]",
            f"message = {_toml(owner)}",
            f"number = {number}",
            f"name = {_toml(_placeholder(descriptor, number))}",
            f"type = {_toml(spec)}",
        ]
    new, context.new = context.new, []
    return lines + _new_messages(new) + entries


def _method_block(found: MethodFinding, context: _Context) -> list[str]:
    name = found.method if found.method.startswith("Webcast") else f"Webcast{found.method}"
    lines = [
        f"# ── method {found.method}: no event class"
        f" ({found.payloads} payload(s), {found.min_size}-{found.max_size} bytes) ──"
    ]
    lines.extend(f"#   e.g. {render(sample, 300)}" for sample in found.samples[:2])
    if not _IDENTIFIER.fullmatch(name):
        return [*lines, f"# (not proposed: {name!r} is no valid message name; map the method in codegen/events.toml)"]
    if name in context.taken:
        return [*lines, f"# (not proposed: the schema has {name}; map the method to it in codegen/events.toml)"]
    context.taken.add(name)
    common = _common_number(found)
    fields: list[tuple[int, str, str, str]] = [(common, "common", "CommonMessageData", "the common block")]
    for number, finding in sorted(found.fields.items()):
        if number == common:
            continue
        spec, notes = _guess(name, number, _Values.of(finding), context, depth=1)
        if spec is not None:
            fields.append((number, f"field_{number}", spec, "; ".join(notes) or _describe(_Values.of(finding))))
    new, context.new = context.new, []
    return lines + _new_messages([_NewMessage(name, fields), *new])


def _new_messages(messages: Iterable[_NewMessage]) -> list[str]:
    lines: list[str] = []
    for message in messages:
        lines += ["", "[[add_message]]", f"name = {_toml(message.name)}", "fields = ["]
        for number, name, spec, note in message.fields:
            entry = f"    {{ number = {number}, name = {_toml(name)}, type = {_toml(spec)} }},"
            lines.append(entry + (f"  # {note}" if note else ""))
        lines.append("]")
    return lines


def _common_number(found: MethodFinding) -> int:
    """The field holding the common block: the one whose samples decode as CommonMessageData (1 if none does)."""
    common = _message("CommonMessageData")
    if common is None:
        return 1
    best: list[tuple[int, int]] = []
    for number, finding in found.fields.items():
        views = _views(finding.samples)
        if views is None:
            continue
        score = _fits_all(common, views)
        if score is not None and any(_method_of(view) == found.method for view in views):
            best.append((score, -number))
    return -max(best)[1] if best else 1


def _method_of(view: RawFields) -> str | None:
    first = view.get(1, ())
    return first[0].text if first and isinstance(first[0], Text) else None


# ── guessing ─────────────────────────────────────────────────────────────────────────────────────────────────


def _guess(owner: str, number: int, values: _Values, context: _Context, depth: int) -> tuple[str | None, list[str]]:
    """The type spec for one field (None: not declarable) and notes on how it was chosen."""
    notes: list[str] = []
    wires = values.wires.most_common()
    wire = wires[0][0]
    if len(wires) > 1:
        notes.append("arrives with several wire types: " + ", ".join(WIRE_NAMES.get(w, str(w)) for w, _ in wires))
    samples = [sample for sample in values.samples if wire_type(sample) == wire]
    repeated = values.most_in_one > 1
    spec: str | None
    if wire == 0:
        spec = "int64"
        numbers = [sample.value for sample in samples if isinstance(sample, Varint)]
        if numbers and set(numbers) <= {0, 1}:
            notes.append("only 0 and 1 seen: maybe bool")
    elif wire == 1:
        spec = "double" if all(_plausible(sample, "<d", 8) for sample in samples) else "fixed64"
    elif wire == 5:
        spec = "float" if all(_plausible(sample, "<f", 4) for sample in samples) else "fixed32"
    elif wire == 2:
        spec = _guess_length_delimited(owner, number, values, samples, context, depth, notes)
        if spec.startswith("repeated "):
            return spec, notes
    else:
        return None, ["a group (deprecated wire type 3): proto3 cannot declare it"]
    return (f"repeated {spec}" if repeated else spec), notes


def _guess_length_delimited(
    owner: str, number: int, values: _Values, samples: list[RawValue], context: _Context, depth: int, notes: list[str]
) -> str:
    kinds = {kind for kind in values.kinds if kind != "empty"}
    if not kinds:
        notes.append("only empty values seen")
        return "string"
    if kinds == {"text"}:
        return "string"
    if "bytes" not in kinds:
        views = _views(samples)
        if views is not None:
            return _guess_message(owner, number, views, context, depth, notes)
    binaries = [sample.data for sample in samples if isinstance(sample, Binary)]
    if binaries and all(_packed_varints(data) for data in binaries):
        notes.append("reads as packed varints")
        return "repeated int64"
    return "bytes"


def _guess_message(
    owner: str, number: int, views: list[RawFields], context: _Context, depth: int, notes: list[str]
) -> str:
    fits = _fitting_types(views)
    if fits and (fits[0][0] >= MIN_FIT_SCORE or (len(fits) == 1 and fits[0][0] > 1)):
        best = fits[0][1]
        others = ", ".join(name for _, name in fits[1:4])
        notes.append(
            f"the samples decode as {best} with every field declared" + (f" (also fit: {others})" if others else "")
        )
        return best
    if depth >= MAX_NEW_DEPTH:
        notes.append("a message, too deep to guess its fields")
        return "bytes"
    name = _free_name(f"{owner}.Field{number}", context.taken)
    context.taken.add(name)
    merged: dict[int, _Values] = {}
    for view in views:
        for key, items in view.items():
            entry = merged.setdefault(key, _Values())
            entry.most_in_one = max(entry.most_in_one, len(items))
            for item in items:
                entry.wires[wire_type(item)] += 1
                entry.kinds[kind_of(item)] += 1
                if item not in entry.samples:
                    entry.samples.append(item)
    fields: list[tuple[int, str, str, str]] = []
    for key, entry in sorted(merged.items()):
        spec, field_notes = _guess(name, key, entry, context, depth + 1)
        if spec is not None:
            fields.append((key, f"field_{key}", spec, "; ".join(field_notes) or _sample_note(entry)))
    context.new.append(_NewMessage(name, fields))
    notes.append(f"a message no existing type fits: new type {name}")
    return name


def _views(samples: Iterable[RawValue]) -> list[RawFields] | None:
    """Samples as field views (text that parses as a message counts); None when one is no message."""
    views: list[RawFields] = []
    for sample in samples:
        if isinstance(sample, Nested):
            views.append(sample.fields)
        elif isinstance(sample, Text):
            parsed = parse_fields(sample.data) if sample.data else {}
            if parsed is None:
                return None
            views.append(parsed)
        else:
            return None
    return views


def _fitting_types(views: list[RawFields]) -> list[tuple[int, str]]:
    """Existing message types whose declared fields take every sample, best first: (score, name).

    Best: the most sample fields declared compatibly; then the type most used in the schema; then the fewest
    declared fields (the tightest fit)."""
    uses = _uses()
    ranked: list[tuple[int, int, int, str]] = []
    for name, descriptor in _all_messages().items():
        if name.startswith("Webcast") and "." not in name:
            continue  # an event's whole message inside another message: not a guess worth making
        score = _fits_all(descriptor, views)
        if score is not None and score > 0:
            ranked.append((-score, -uses[name], len(descriptor.fields), name))
    ranked.sort()
    return [(-score, name) for score, _, _, name in ranked]


def _fits_all(descriptor: Descriptor, views: Iterable[RawFields]) -> int | None:
    total = 0
    for view in views:
        score = _fits(descriptor, view, 0)
        if score is None:
            return None
        total += score
    return total


def _fits(descriptor: Descriptor, view: RawFields, depth: int) -> int | None:
    """How many sample fields ``descriptor`` declares compatibly (recursively); None if one does not fit."""
    score = 0
    for number, items in view.items():
        declared = descriptor.fields_by_number.get(number)
        if declared is None or (len(items) > 1 and not declared.is_repeated):
            return None
        for item in items:
            points = _value_fits(declared, item, depth)
            if points is None:
                return None
            score += points
    return score


def _value_fits(declared: FieldDescriptor, value: RawValue, depth: int) -> int | None:
    kind = declared.type
    if isinstance(value, Varint):
        return 1 if kind in _VARINT else None
    if isinstance(value, Fixed64):
        return 1 if kind in _FIXED64 else None
    if isinstance(value, Fixed32):
        return 1 if kind in _FIXED32 else None
    if isinstance(value, Group):
        return None
    if declared.is_repeated and kind in _PACKABLE:
        return 0 if isinstance(value, Binary | Nested) else None
    if kind == FieldDescriptor.TYPE_STRING:
        return 1 if isinstance(value, Text) else None
    if kind == FieldDescriptor.TYPE_BYTES:
        return 0
    if kind != FieldDescriptor.TYPE_MESSAGE:
        return None
    views = _views([value])
    if views is None:
        return None
    if depth >= MAX_NEW_DEPTH * 2:
        return 1
    inner = _fits(cast("Descriptor", declared.message_type), views[0], depth + 1)
    return None if inner is None else inner + 1


def _plausible(sample: RawValue, layout: str, size: int) -> bool:
    if not isinstance(sample, Fixed64 | Fixed32):
        return False
    (number,) = struct.unpack(layout, sample.value.to_bytes(size, "little"))
    return number == 0 or (math.isfinite(number) and 1e-9 < abs(number) < 1e15)


def _packed_varints(data: bytes) -> bool:
    """Whether ``data`` is a run of complete varints (each at most 10 bytes)."""
    length = 0
    for byte in data:
        length += 1
        if length > 10:
            return False
        if not byte & 0x80:
            length = 0
    return bool(data) and length == 0


# ── names and text ───────────────────────────────────────────────────────────────────────────────────────────


@cache
def _all_messages() -> dict[str, Descriptor]:
    """Every message type of the imported schema by name (map entries left out)."""
    from tiktok_live._generated.pb import webcast_pb2

    found: dict[str, Descriptor] = {}

    def visit(descriptor: Descriptor) -> None:
        if descriptor.GetOptions().map_entry:
            return
        found[type_name(descriptor)] = descriptor
        for nested in descriptor.nested_types:
            visit(nested)

    for descriptor in webcast_pb2.DESCRIPTOR.message_types_by_name.values():
        visit(descriptor)
    return found


@cache
def _uses() -> Counter[str]:
    """How many fields of the schema have each message type: among types that fit equally, the common one wins."""
    uses: Counter[str] = Counter()
    for descriptor in _all_messages().values():
        for declared in descriptor.fields:
            if declared.message_type is not None:
                uses[type_name(declared.message_type)] += 1
    return uses


def _message(name: str) -> Descriptor | None:
    from google.protobuf import descriptor_pool

    from tiktok_live._generated.pb import transport_pb2, webcast_pb2

    found = _all_messages().get(name)
    if found is not None:
        return found
    package = webcast_pb2.DESCRIPTOR.package
    try:
        return descriptor_pool.Default().FindMessageTypeByName(f"{package}.{name}")
    except KeyError:
        return transport_pb2.DESCRIPTOR.message_types_by_name.get(name)


def _placeholder(descriptor: Descriptor | None, number: int) -> str:
    name = f"field_{number}"
    names = set(descriptor.fields_by_name) if descriptor is not None else set()
    while name in names:
        name += "_"
    return name


def _free_name(name: str, taken: set[str]) -> str:
    candidate, suffix = name, 2
    while candidate in taken:
        candidate, suffix = f"{name}_{suffix}", suffix + 1
    return candidate


def _seen_at(places: Iterable[str]) -> str:
    unique = list(dict.fromkeys(places))
    shown = ", ".join(unique[:3]) + (f" and {len(unique) - 3} more" if len(unique) > 3 else "")
    return f"seen at {shown}"


def _describe(values: _Values, finding: FieldFinding | None = None) -> str:
    wire = WIRE_NAMES.get(values.wires.most_common(1)[0][0], "?")
    text = wire
    if finding is not None:
        text += f", {finding.occurrences} time(s) in {finding.payloads} payload(s)"
        if finding.declared is not None:
            text += f"; declared as {finding.declared.name} with another wire type"
    return f"{text}; {_sample_note(values)}"


def _sample_note(values: _Values) -> str:
    return "e.g. " + " | ".join(render(sample, 100) for sample in values.samples[:3]) if values.samples else ""


def _toml(value: str) -> str:
    """A TOML basic string (JSON string escapes are valid TOML; DEL, which JSON leaves as is, is escaped too)."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _clean(line: str) -> str:
    """``line`` without the control characters TOML forbids (in comments too): shown as ``\\xNN``."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", line)
