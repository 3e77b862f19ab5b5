"""``tiktok-live schema unknowns SOURCE...`` and ``--report-unknown`` for ``watch`` and ``record``.

Wired into ``tiktok_live.cli`` by :func:`register` (adds the ``schema`` command), :func:`run` (runs it),
:func:`add_report_option` (adds ``--report-unknown`` to a command) and :func:`watch_unknowns` (counts what a client
emits). Exit codes of ``schema unknowns``: 0 the schema covers everything seen, 1 something is missing (undeclared
fields, unknown methods or payloads that do not decode), 2 a bad source or usage.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Final, TextIO

from tiktok_live.errors import TikTokLiveError

if TYPE_CHECKING:
    from tiktok_live._base import BaseEvent
    from tiktok_live.client import TikTokLiveClient
    from tiktok_live.schema._survey import Survey

__all__ = ["EXIT_COVERED", "EXIT_MISSING", "UnknownTally", "add_report_option", "register", "run", "watch_unknowns"]

EXIT_COVERED: Final = 0
"""The schema declares every field and method seen."""
EXIT_MISSING: Final = 1
"""Something seen is missing from the schema (the report lists it)."""
EXIT_BAD_SOURCE: Final = 2


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``schema`` command (subcommand ``unknowns``) to ``tiktok-live``'s subparsers."""
    schema = commands.add_parser(
        "schema",
        help="compare what TikTok sends with the schema",
        description="Compare what TikTok sends with the schema the events are generated from.",
    )
    subcommands = schema.add_subparsers(dest="schema_command", required=True, metavar="SUBCOMMAND")
    unknowns = subcommands.add_parser(
        "unknowns",
        help="report methods and fields the schema does not declare",
        description=(
            "Decode every message of the sources with the generated classes and report, per message type, the "
            "fields the schema does not declare (at any depth) and the methods no event class knows. "
            "Exit 0: the schema covers everything seen; 1: something is missing; 2: a bad source."
        ),
    )
    unknowns.add_argument(
        "sources",
        nargs="+",
        type=Path,
        metavar="SOURCE",
        help="a recording (tiktok-live record), a folder of payload files named by method, or a JSON Lines file",
    )
    output = unknowns.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the report as one JSON object")
    output.add_argument(
        "--propose", action="store_true", help="print corrections for codegen/corrections.toml (TOML) instead"
    )


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run ``schema unknowns``; returns the exit code (see the module docstring)."""
    from tiktok_live.schema import propose, survey_sources

    sources = [str(path) for path in args.sources]
    try:
        survey = survey_sources(args.sources)
    except TikTokLiveError as error:  # SchemaSourceError, RecordingError: the message says what is wrong
        err.write(f"tiktok-live schema unknowns: {error}\n")
        return EXIT_BAD_SOURCE
    if args.propose:
        out.write(propose(survey, sources))
        err.write(f"{survey.summary()}\n")
    elif args.json:
        out.write(json.dumps(survey.to_dict(sources), ensure_ascii=False, indent=1) + "\n")
    else:
        out.write(f"sources: {', '.join(sources)}\n{survey.render_text()}\n")
    return EXIT_COVERED if survey.covered else EXIT_MISSING


def add_report_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--report-unknown`` to a command that runs one client (``watch``, ``record``)."""
    parser.add_argument(
        "--report-unknown",
        action="store_true",
        help="decode every message and end with a report of what the schema does not know",
    )


class UnknownTally:
    """Surveys every message a client emits; its :meth:`summary` ends the command's summary."""

    def __init__(self) -> None:
        from tiktok_live.schema import Survey

        self.survey: Survey = Survey()

    def observe(self, event: BaseEvent) -> None:
        """Tally one event (the client's listener for every generated event and ``UnknownEvent``)."""
        self.survey.add_event(event)

    def summary(self) -> str:
        """``unknowns: ...`` with the full report when something is missing, for the end of the run."""
        survey = self.survey
        if survey.covered:
            return f"unknowns: {survey.summary()}"
        report = "\n".join(f"  {line}" if line else "" for line in survey.render_text().splitlines())
        return (
            f"unknowns: {survey.summary()}\n{report}\n"
            "  Send this report to the maintainers, or record the LIVE (`tiktok-live record`) and run "
            "`tiktok-live schema unknowns FILE --propose`."
        )


def watch_unknowns(client: TikTokLiveClient) -> UnknownTally:
    """Listen to every message ``client`` decodes (every generated event and ``UnknownEvent``) and tally it."""
    from tiktok_live.events import REGISTRY, UnknownEvent

    tally = UnknownTally()
    for event_class in dict.fromkeys(REGISTRY.values()):
        client.add_listener(event_class, tally.observe)
    client.add_listener(UnknownEvent, tally.observe)
    return tally
