"""Event summaries: the ``summary`` format of ``codegen/events.toml`` -> the body of a generated ``_summary()``.

A summary is what ``str(event)`` shows after the event's name: who did what, with the key values. The format is
``str.format`` text whose placeholders name attribute paths of the event (``{user}``, ``{gift.name}``,
``{value:.2f}``, ``{comment!r}``); the first name is an event attribute (a field or a mixin property), the rest
are protobuf field names. How a placeholder prints depends on the type the path reaches:

- a ``User`` message: its label, ``nickname (@unique_id)`` (``user_label`` in ``sdk/_base.py``);
- an enum field: the value's name (``enum_label``), or its number when the schema does not know it;
- a repeated field or map: its length;
- a scalar: its value; another message is an error (name one of its fields instead).

Text in ``[...]`` is optional: it is shown only when every placeholder in it is set (non-zero, non-empty, not
``None``), e.g. ``"{user} joined[ ({member_count} viewers)]"``. ``[[`` and ``]]`` are literal brackets; ``{{`` and
``}}`` literal braces. The generated code is an f-string expression, so mypy checks every path.
"""

from __future__ import annotations

import keyword
import re
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

USER_LABEL = "user_label"
ENUM_LABEL = "enum_label"
_PATH = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")

Kind = Literal["user", "enum", "sequence", "scalar"]


class SummaryError(ValueError):
    """A summary format that does not compile: bad syntax, an unknown path, or a path to a whole message."""


@dataclass(frozen=True, slots=True)
class Resolved:
    """What a placeholder's path reaches: its kind and the Python expression of its value.

    For an enum, ``parent`` is the expression of the message holding the field and ``field`` the field's proto
    name (its value's name is looked up through the message's descriptor).
    """

    kind: Kind
    expr: str
    parent: str | None = None
    field: str | None = None


Resolver = Callable[[tuple[str, ...]], Resolved]


@dataclass(frozen=True, slots=True)
class Compiled:
    """A compiled summary: the Python expression of ``_summary()``'s result and the helpers it calls."""

    code: str
    helpers: tuple[str, ...]


def _segments(text: str) -> Iterator[tuple[str, bool]]:
    """Split ``text`` into (segment, optional) pieces at unescaped ``[`` and ``]`` outside placeholders."""
    current: list[str] = []
    optional = False
    in_field = False
    index = 0
    while index < len(text):
        char = text[index]
        pair = text[index : index + 2]
        if not in_field and pair in ("[[", "]]", "{{", "}}"):
            current.append(pair if pair[0] in "{}" else char)
            index += 2
            continue
        if in_field or char in "{}":
            in_field = (char == "{") or (in_field and char != "}")
            current.append(char)
        elif char == "[":
            if optional:
                raise SummaryError(f"optional segments do not nest: {text!r}")
            yield "".join(current), False
            current, optional = [], True
        elif char == "]":
            if not optional:
                raise SummaryError(f"unbalanced ']' (write ']]' for a literal one): {text!r}")
            yield "".join(current), True
            current, optional = [], False
        else:
            current.append(char)
        index += 1
    if optional:
        raise SummaryError(f"unclosed '[' (write '[[' for a literal one): {text!r}")
    yield "".join(current), False


def _literal(text: str, braces: bool) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return escaped.replace("{", "{{").replace("}", "}}") if braces else escaped


def _value(resolved: Resolved, helpers: set[str]) -> str:
    if resolved.kind == "user":
        helpers.add(USER_LABEL)
        return f"{USER_LABEL}({resolved.expr})"
    if resolved.kind == "enum":
        helpers.add(ENUM_LABEL)
        return f"{ENUM_LABEL}({resolved.parent}, '{resolved.field}')"
    if resolved.kind == "sequence":
        return f"len({resolved.expr})"
    return resolved.expr


def _test(resolved: Resolved) -> str:
    """The condition under which a placeholder counts as set (for optional segments)."""
    return f"{resolved.expr}.ListFields()" if resolved.kind == "user" else resolved.expr


def compile_summary(text: str, resolve: Resolver) -> Compiled:
    """Compile a summary format (see the module doc); ``resolve`` maps an attribute path to what it reaches."""
    formatter = string.Formatter()
    helpers: set[str] = set()
    pieces: list[str] = []
    for segment, optional in _segments(text):
        if not segment:
            continue
        parts: list[str] = []
        tests: list[str] = []
        try:
            parsed = list(formatter.parse(segment))
        except ValueError as exc:
            raise SummaryError(f"{exc} in {text!r}") from exc
        for literal, name, spec, conversion in parsed:
            parts.append(_literal(literal, braces=True))
            if name is None:
                continue
            if not _PATH.fullmatch(name):
                raise SummaryError(f"placeholder {{{name}}} is not an attribute path (like user.nickname) in {text!r}")
            path = tuple(name.split("."))
            if any(keyword.iskeyword(part) for part in path[1:]):
                raise SummaryError(f"placeholder {{{name}}} names a Python keyword, which is not an attribute")
            if spec and ("{" in spec or "}" in spec):
                raise SummaryError(f"placeholder {{{name}}}: nested format specs are not supported")
            resolved = resolve(path)
            tests.append(_test(resolved))
            suffix = (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            parts.append(f"{{{_value(resolved, helpers)}{suffix}}}")
        if tests:
            code = f'f"{"".join(parts)}"'
        else:
            code = f'"{_literal("".join(literal for literal, _, _, _ in parsed), braces=False)}"'
        if optional:
            if not tests:
                raise SummaryError(f"optional segment [{segment}] has no placeholder to decide it in {text!r}")
            code = f'({code} if {" and ".join(tests)} else "")'
        pieces.append(code)
    if not pieces:
        raise SummaryError("empty summary")
    return Compiled(" + ".join(pieces), tuple(sorted(helpers)))
