"""The ``tiktok-live`` command: demo, watch, record, replay, events, serve (:mod:`tiktok_live.web`), schema
(:mod:`tiktok_live.schema.cli`) and video.

Exit codes: 0 success, 2 usage error (or an unreadable recording), 3 user not found / offline / age-restricted,
4 sign server failure (including rate limits), 5 blocked by TikTok or connection failure, 130 interrupted.
Under ``--json`` stdout carries JSON Lines only (schema: :mod:`tiktok_live.jsonl`); status lines, errors and the
summary go to stderr.

Layout: this module builds the parser and runs a command; :mod:`._output` prints (``Printer``), :mod:`._events`
resolves event names and runs ``events``, :mod:`._commands` runs demo/watch/record/replay, :mod:`._video` runs
video.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from tiktok_live import errors
from tiktok_live.cli._commands import DEMO_SPEED, demo, record, replay, watch
from tiktok_live.cli._common import (
    EXIT_CONNECTION,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SIGN,
    EXIT_USAGE,
    EXIT_USER,
    UsageError,
    exit_code,
)
from tiktok_live.cli._events import CONNECTION_EVENTS, CORE_EVENTS, event_classes, events_command, resolve_events
from tiktok_live.cli._options import connection_options, output_options
from tiktok_live.cli._output import Printer, Stats, Style

__all__ = [
    "CONNECTION_EVENTS",
    "CORE_EVENTS",
    "EXIT_CONNECTION",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_SIGN",
    "EXIT_USAGE",
    "EXIT_USER",
    "Printer",
    "Stats",
    "Style",
    "UsageError",
    "build_parser",
    "event_classes",
    "main",
    "main_exit",
    "resolve_events",
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``tiktok-live``."""
    parser = argparse.ArgumentParser(prog="tiktok-live", description="Watch, record and replay TikTok LIVE streams.")
    parser.add_argument("--debug", action="store_true", help="debug logging and tracebacks")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="a scripted LIVE from the embedded simulator (no network)")
    demo.add_argument("--speed", type=float, default=DEMO_SPEED, help="playback speed (default %(default)s)")
    output_options(demo)

    watch = commands.add_parser("watch", help="print rooms' events, or export them with --to")
    watch.add_argument("user", nargs="+", help="@handle of each host")
    output_options(watch)
    connection_options(watch)
    from tiktok_live.export.cli import add_watch_options  # light: the pool loads only when a command runs

    add_watch_options(watch)

    record = commands.add_parser("record", help="save a session (every frame, both ways) to FILE")
    record.add_argument("user", help="@handle of the host")
    record.add_argument("file", type=Path, help="recording to write (gzip JSON Lines)")
    record.add_argument("--keep-cookies", action="store_true", help="keep session cookies in the file")
    output_options(record)
    connection_options(record)

    replay = commands.add_parser("replay", help="replay a recording through the normal event path")
    replay.add_argument("file", type=Path, help="a recording made by `tiktok-live record`")
    pace = replay.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=float, default=1.0, help="playback speed (default %(default)s)")
    pace.add_argument("--as-fast-as-possible", action="store_true", help="no waiting between frames")
    output_options(replay)

    listing = commands.add_parser("events", help="list event types, or show one's fields")
    listing.add_argument(
        "name", nargs="?", default=None, help="an event (gift, GiftEvent) or a message or enum type (User, Gift)"
    )

    from tiktok_live.web.cli import register as register_serve

    register_serve(commands)
    from tiktok_live.fleet.cli import register as register_fleet

    register_fleet(commands)
    from tiktok_live.schema.cli import add_report_option
    from tiktok_live.schema.cli import register as register_schema

    register_schema(commands)
    for command in (watch, record):
        add_report_option(command)
    from tiktok_live.cli._video import register as register_video

    register_video(commands)
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command line; returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        stream=err,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.command == "events":
        try:
            return events_command(args, out)
        except UsageError as error:
            parser.error(str(error))
    if args.command == "schema":
        from tiktok_live.schema.cli import run as schema

        return schema(args, out, err)
    printer = Printer(json_mode=args.json, out=out, err=err, room_id=lambda: None)
    from tiktok_live.cli._video import run as video
    from tiktok_live.fleet.cli import run as fleet
    from tiktok_live.web.cli import run as serve

    runners = {"demo": demo, "watch": watch, "record": record, "replay": replay, "serve": serve, "fleet": fleet}
    runners["video"] = video
    runner = runners[args.command]
    code = EXIT_OK
    try:
        code = asyncio.run(runner(args, printer))
    except UsageError as error:
        printer.close()
        parser.error(str(error))
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except errors.TikTokLiveError as error:
        printer.close()
        if args.debug:
            logging.getLogger(__name__).exception("failed")
        err.write(f"tiktok-live: {error}\n")
        code = exit_code(error)
    except ValueError as error:  # a bad @handle or option value
        printer.close()
        parser.error(str(error))
    finally:
        printer.close()
    if getattr(args, "summary", True):  # commands without events (video) have nothing to sum up
        err.write(printer.summary() + "\n")
    return code


def main_exit() -> None:
    """Console-script entry point: run :func:`main` and exit with its code."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. `tiktok-live events | head`: the reader left, which is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_OK
    sys.exit(code)
