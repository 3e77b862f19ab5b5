"""The ``tiktok-live`` command: demo, watch, record, replay, events, serve (:mod:`tiktok_live.web`), schema
(:mod:`tiktok_live.schema.cli`), video, info and gifts.

Exit codes: 0 success, 2 usage error (or an unreadable recording), 3 user not found / offline / age-restricted,
4 sign server failure (including rate limits), 5 blocked by TikTok or connection failure, 6 the output could not
be written (stdout or the recording: a full disk), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM; handled as
Ctrl-C: the summary and the export report are printed). Under ``--json`` stdout carries JSON Lines only (schema:
:mod:`tiktok_live.jsonl`); status lines, errors and the summary go to stderr. Viewer text never reaches the
terminal raw (:func:`~tiktok_live.cli._output.safe`).

Layout: this module builds the parser and runs a command; :mod:`._output` prints (``Printer``), :mod:`._events`
resolves event names and runs ``events``, :mod:`._commands` runs demo/watch/record/replay, :mod:`._video` runs
video, :mod:`._lookups` runs info and gifts (and adds ``watch --wait / --follow``).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import os
import signal
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import TextIO, cast

from tiktok_live import errors
from tiktok_live.cli._commands import DEMO_SPEED, demo, record, replay, watch
from tiktok_live.cli._common import (
    EXIT_CONNECTION,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_OUTPUT,
    EXIT_SIGN,
    EXIT_TERMINATED,
    EXIT_USAGE,
    EXIT_USER,
    UsageError,
    exit_code,
)
from tiktok_live.cli._events import CONNECTION_EVENTS, CORE_EVENTS, event_classes, events_command, resolve_events
from tiktok_live.cli._options import Parser, connection_options, output_options, speed, writable_file
from tiktok_live.cli._output import Printer, Stats, Style, safe

__all__ = [
    "CONNECTION_EVENTS",
    "CORE_EVENTS",
    "EXIT_CONNECTION",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_OUTPUT",
    "EXIT_SIGN",
    "EXIT_TERMINATED",
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
    "safe",
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``tiktok-live``. Every subcommand's parser is in its namespace as
    ``command_parser`` (errors found later are reported with that subcommand's usage)."""
    from tiktok_live import __version__

    parser = Parser(prog="tiktok-live", description="Watch, record and replay TikTok LIVE streams.")
    parser.add_argument("--version", action="version", version=f"tiktok-live {__version__}")
    parser.add_argument("--debug", action="store_true", help="debug logging and tracebacks")
    # Subcommand parsers are Parsers too (argparse makes them of the parent's class); the modules that register
    # their own subcommand take any ArgumentParser's subparsers.
    commands = cast(
        "argparse._SubParsersAction[argparse.ArgumentParser]",
        parser.add_subparsers(dest="command", required=True, metavar="COMMAND"),
    )

    demo = commands.add_parser("demo", help="a scripted LIVE from the embedded simulator (no network)")
    demo.add_argument(
        "--speed",
        type=speed,
        default=DEMO_SPEED,
        help="playback speed: a positive number, or max for as fast as possible (default %(default)s)",
    )
    output_options(demo)

    watch = commands.add_parser("watch", help="print rooms' events, or export them with --to")
    watch.add_argument("user", nargs="+", help="@handle of each host")
    output_options(watch)
    connection_options(watch)
    from tiktok_live.cli._lookups import add_wait_options
    from tiktok_live.export.cli import add_watch_options  # light: the pool loads only when a command runs

    add_watch_options(watch)
    add_wait_options(watch)

    record = commands.add_parser("record", help="save a session (every frame, both ways) to FILE")
    record.add_argument("user", help="@handle of the host")
    record.add_argument("file", type=writable_file, help="recording to write (gzip JSON Lines)")
    record.add_argument("--force", action="store_true", help="replace FILE if it exists")
    record.add_argument("--keep-cookies", action="store_true", help="keep session cookies in the file")
    output_options(record)
    connection_options(record)

    replay = commands.add_parser("replay", help="replay a recording through the normal event path")
    replay.add_argument("file", type=Path, help="a recording made by `tiktok-live record`")
    pace = replay.add_mutually_exclusive_group()
    pace.add_argument(
        "--speed",
        type=speed,
        default=1.0,
        help="playback speed: a positive number, or max for as fast as possible (default %(default)s)",
    )
    pace.add_argument("--as-fast-as-possible", action="store_true", help="no waiting between frames (--speed max)")
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
    from tiktok_live.cli._lookups import register as register_lookups

    register_lookups(commands)
    for command_parser in commands.choices.values():
        command_parser.set_defaults(command_parser=command_parser)
    return parser


class _Terminated(Exception):
    """SIGTERM arrived: the command was cancelled and has cleaned up."""


async def _until_terminated(work: Coroutine[object, object, int]) -> int:
    """Run ``work``; SIGTERM cancels it as Ctrl-C does (its cleanup runs: summary, export report, files closed),
    then raises _Terminated. A second SIGTERM during the cleanup ends the process at once."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    terminated = False

    def terminate() -> None:
        nonlocal terminated
        terminated = True
        loop.remove_signal_handler(signal.SIGTERM)  # back to the default: a second SIGTERM kills
        if task is not None:
            task.cancel()

    try:
        loop.add_signal_handler(signal.SIGTERM, terminate)
        installed = True
    except (NotImplementedError, RuntimeError, ValueError):  # Windows, or not the main thread
        installed = False
    try:
        return await work
    except asyncio.CancelledError:
        if terminated:
            raise _Terminated from None
        raise
    finally:
        if installed and not terminated:
            loop.remove_signal_handler(signal.SIGTERM)


def _tolerant(stream: TextIO) -> None:
    """Let ``stream`` write any character: what its encoding lacks (``PYTHONIOENCODING=ascii``) becomes a
    backslash escape instead of an exception that loses the event."""
    if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
        stream.reconfigure(errors="backslashreplace")


def _output_failed(err: TextIO, error: OSError) -> int:
    err.write(f"tiktok-live: cannot write to stdout: {error.strerror or error}\n")
    return EXIT_OUTPUT


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command line; returns the exit code (usage errors exit 2 through :class:`SystemExit`)."""
    out = out or sys.stdout
    err = err or sys.stderr
    for stream in (out, err):
        _tolerant(stream)
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    command_parser: argparse.ArgumentParser = args.command_parser
    if extras:  # reported by the subcommand, with its usage (argparse would show the top-level one)
        command_parser.error(f"unrecognized arguments: {' '.join(extras)}")
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        stream=err,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.command == "events":
        try:
            return events_command(args, out)
        except UsageError as error:
            command_parser.error(str(error))
        except BrokenPipeError:
            raise  # the reader left: main_exit() ends quietly
        except OSError as error:
            return _output_failed(err, error)
    if args.command == "schema":
        from tiktok_live.schema.cli import run as schema

        return schema(args, out, err)
    printer = Printer(json_mode=args.json, out=out, err=err, room_id=lambda: None)
    from tiktok_live.cli._video import run as video
    from tiktok_live.fleet.cli import run as fleet
    from tiktok_live.web.cli import run as serve

    runners = {"demo": demo, "watch": watch, "record": record, "replay": replay, "serve": serve, "fleet": fleet}
    runners["video"] = video
    from tiktok_live.cli._lookups import RUNNERS as LOOKUPS

    runners.update(LOOKUPS)
    runner = runners[args.command]
    code = EXIT_OK
    try:
        code = asyncio.run(_until_terminated(runner(args, printer)))
    except UsageError as error:
        printer.close()
        command_parser.error(safe(error))
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except _Terminated:
        code = EXIT_TERMINATED
    except errors.TikTokLiveError as error:
        printer.close()
        if args.debug:
            logging.getLogger(__name__).exception("failed")
        err.write(f"tiktok-live: {safe(error)}\n")
        code = exit_code(error)
    except ValueError as error:  # a bad @handle or option value
        printer.close()
        command_parser.error(safe(error))
    finally:
        printer.close()
    if printer.output_error is not None:
        code = _output_failed(err, printer.output_error)
    if printer.watched and getattr(args, "summary", True):  # commands without events (video): no summary
        err.write(printer.summary() + "\n")
    return code


def main_exit() -> None:
    """Console-script entry point: run :func:`main` and exit with its code."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. `tiktok-live events | head`: the reader left, which is not an error
        _discard_stdout()
        code = EXIT_OK
    except OSError as error:  # the last buffered output cannot be written (a full disk)
        _discard_stdout()
        code = _output_failed(sys.stderr, error)
    sys.exit(code)


def _discard_stdout() -> None:
    """Point stdout at the null device, so the interpreter's own flush at exit does not fail again."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
