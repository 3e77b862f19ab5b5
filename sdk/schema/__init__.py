"""What TikTok sends that the schema does not know: find it, report it, propose the corrections.

The decoder never breaks on a TikTok update (unknown methods become ``UnknownEvent``, protobuf keeps undeclared
fields), so nothing fails when TikTok adds a field; this package says *what* changed::

    survey = survey_sources([Path("session.jsonl.gz")])   # or Survey() and add_payload / add_event
    print(survey.render_text())                           # per message type: undeclared fields, with samples
    print(propose(survey))                                # corrections for codegen/corrections.toml

:func:`undeclared_fields` and :func:`has_undeclared` inspect one decoded message. The command line is
``tiktok-live schema unknowns SOURCE...`` (:mod:`tiktok_live.schema.cli`); docs/schema.md walks through the
maintainer's cycle.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tiktok_live.schema._propose import propose
from tiktok_live.schema._sources import (
    Envelope,
    Item,
    Payload,
    SchemaSourceError,
    Unchecked,
    UnknownView,
    method_from_filename,
    read_source,
)
from tiktok_live.schema._survey import (
    REPORT_VERSION,
    FieldFinding,
    MethodFinding,
    Survey,
    TypeFinding,
    UndecodableFinding,
)
from tiktok_live.schema._walk import Undeclared, has_undeclared, undeclared_fields

__all__ = [
    "REPORT_VERSION",
    "Envelope",
    "FieldFinding",
    "Item",
    "MethodFinding",
    "Payload",
    "SchemaSourceError",
    "Survey",
    "TypeFinding",
    "Unchecked",
    "Undeclared",
    "UndecodableFinding",
    "UnknownView",
    "add_item",
    "has_undeclared",
    "method_from_filename",
    "propose",
    "read_source",
    "survey_sources",
    "undeclared_fields",
]


def add_item(survey: Survey, item: Item) -> None:
    """Feed one source item to ``survey``."""
    if isinstance(item, Payload):
        survey.add_payload(item.method, item.data)
    elif isinstance(item, Envelope):
        survey.add_message(item.message)
    elif isinstance(item, UnknownView):
        survey.add_unknown_view(item.method, item.fields, item.size)
    else:
        survey.unchecked[f"{item.what} ({item.why})"] += 1


def survey_sources(paths: Iterable[Path]) -> Survey:
    """Survey every item of every source; raises SchemaSourceError (or RecordingError) for an unusable one."""
    survey = Survey()
    for path in paths:
        for item in read_source(path):
            add_item(survey, item)
    return survey
