"""``tiktok-live watch @a @b @c [--to URL]``: many rooms through a :class:`~tiktok_live.pool.RoomPool`, printed or
exported to a sink (:func:`~tiktok_live.export.open_sink`).

Called by :mod:`tiktok_live.cli`'s ``watch`` command; reuses its printer, event names, connection options and exit
codes. Without ``--to`` events print as ``watch`` prints them (JSON Lines with ``--json``; readable lines tagged
with the room when there are several); with ``--to`` they go to the sink, every event by default (as ``--json``,
less the raw ``WebsocketResponseEvent`` frames), and the terminal shows the status line and a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from tiktok_live.cli._common import EXIT_CONNECTION, EXIT_OK, UsageError, exit_code
from tiktok_live.cli._events import CONNECTION_EVENTS, CORE_EVENTS, event_classes, resolve_events
from tiktok_live.cli._options import writable_file
from tiktok_live.cli._output import Printer, safe
from tiktok_live.errors import TikTokLiveError

# The pool, the client and aiohttp load in watch_many(), not here: build_parser() may import add_watch_options.
if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tiktok_live._base import BaseEvent
    from tiktok_live.export._sink import Sink
    from tiktok_live.pool import ClientOptions, RoomEvent, RoomPool
    from tiktok_live.testing import Simulator

__all__ = ["EXPORT_EXCLUDED", "add_watch_options", "watch_many"]

EXPORT_EXCLUDED: Final = ("WebsocketResponseEvent",)
"""Left out of an export unless named in ``--events``: raw frames, already decoded into the other events."""
DEFAULT_MAX_CONNECTING: Final = 8
_STREAM_SIZE: Final = 100_000


def add_watch_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--to URL`` and ``--max-connecting N`` to the ``watch`` parser."""
    parser.add_argument(
        "--to",
        type=_sink_target,
        default=None,
        metavar="URL",
        help="export every event (JSON Lines schema v1) to - (stdout), a file, redis://host:port/db?stream=NAME "
        "or nats://host:port?subject=PREFIX",
    )
    parser.add_argument(
        "--max-connecting",
        type=int,
        default=DEFAULT_MAX_CONNECTING,
        metavar="N",
        help="rooms connecting at once (default %(default)s)",
    )


def _sink_target(value: str) -> str:
    """``--to``: a file target's folder must exist (checked before anything connects); URLs are checked by
    :func:`~tiktok_live.export.open_sink` when the command starts."""
    if value == "-" or "://" in value:
        return value
    writable_file(value)  # a file is appended to: it may exist, but not be a folder or lack its folder
    return value


async def watch_many(args: argparse.Namespace, printer: Printer, users: Sequence[str], to: str | None) -> int:
    """Watch ``users`` in one pool until every room is done; print their events or export them to ``to``.

    Returns the exit code: 0 when every room ended normally and the sink delivered everything; else the code of
    the first room's failure (3, 4 or 5; every failure is reported on stderr), or 5 when an export lost records.
    Raises UsageError for bad options (a bad handle or sink URL); Ctrl-C closes the pool and the sink cleanly.
    """
    from tiktok_live.export._url import open_sink
    from tiktok_live.pool import RoomPool

    unique_ids = _unique_ids(users)
    json_mode = bool(args.json) or to is not None
    classes = resolve_events(args.events, _default_events(json_mode, exporting=to is not None))
    max_connecting = int(getattr(args, "max_connecting", DEFAULT_MAX_CONNECTING))
    if max_connecting < 1:
        raise UsageError("--max-connecting must be at least 1")
    try:
        sink = open_sink(to) if to is not None else None
    except ValueError as error:
        raise UsageError(f"--to: {error}") from None
    tagged = len(unique_ids) > 1
    async with contextlib.AsyncExitStack() as stack:
        if sink is not None:  # first: a target that cannot be opened fails before anything connects
            await sink.start()
            if sink.failure is not None:
                await sink.close()
                raise UsageError(f"--to: {safe(sink.failure)}")
            stack.push_async_callback(_close_sink, sink, printer)
        simulators = await _simulators(args, unique_ids, stack)
        pool = RoomPool(max_connecting=max_connecting, **_client_options(args))
        stack.push_async_callback(pool.close)
        stream = pool.stream(*classes, maxsize=_STREAM_SIZE)
        await pool.start()
        for unique_id in unique_ids:
            simulator = simulators.get(unique_id)
            if simulator is None:
                pool.add(unique_id)
            else:
                pool.add(unique_id, web_url=simulator.url, webcast_url=simulator.url, sign_url=simulator.url)
        consumer = asyncio.create_task(_consume(stream, printer, sink, tagged), name="tiktok-live watch output")
        rooms_done = asyncio.create_task(pool.wait(), name="tiktok-live watch rooms")
        try:
            # The output may fail first (a closed pipe): then stop the rooms rather than stream into nowhere.
            await asyncio.wait({rooms_done, consumer}, return_when=asyncio.FIRST_COMPLETED)
            await pool.close()  # ends the stream after its buffered events
            await consumer
        finally:
            for task in (rooms_done, consumer):
                if not task.done():
                    task.cancel()
            await asyncio.wait({rooms_done, consumer})
        if stream.dropped:
            printer.err.write(f"tiktok-live: the output fell behind: {stream.dropped} events dropped\n")
        code = _report_rooms(pool, printer)
    if sink is not None and (sink.stats.dropped or stream.dropped) and code == EXIT_OK:
        code = EXIT_CONNECTION  # an export that lost records failed, even if every room ended well
    return code


def _unique_ids(users: Sequence[str]) -> list[str]:
    from tiktok_live.client import normalize_unique_id

    if not users:
        raise UsageError("watch needs at least one @user")
    try:
        return list(dict.fromkeys(normalize_unique_id(user) for user in users))
    except ValueError as error:
        raise UsageError(str(error)) from None


def _default_events(json_mode: bool, *, exporting: bool) -> tuple[str, ...]:
    if not json_mode:
        return CORE_EVENTS + CONNECTION_EVENTS
    names = tuple(event_classes())
    return tuple(name for name in names if name not in EXPORT_EXCLUDED) if exporting else names


def _client_options(args: argparse.Namespace) -> ClientOptions:
    options: ClientOptions = {"sign_api_key": args.sign_api_key, "proxy": args.proxy}
    if args.web_url:
        options["web_url"] = args.web_url
    if args.webcast_url:
        options["webcast_url"] = args.webcast_url
    if args.sign_url:
        options["sign_url"] = args.sign_url
    from tiktok_live.cli._lookups import wait_options

    options.update(wait_options(args))  # --wait / --follow: each room waits for its host outside the connect slots
    return options


async def _simulators(
    args: argparse.Namespace, unique_ids: Sequence[str], stack: contextlib.AsyncExitStack
) -> dict[str, Simulator]:
    """With ``--simulator``: one embedded simulator per user (one simulator serves one host), seeded apart."""
    if not getattr(args, "simulator", False):
        return {}
    from tiktok_live.testing import Simulator

    if not args.simulator_speed > 0:  # also NaN; parse_args refuses both already
        raise UsageError("--simulator-speed must be a positive number, or max")
    simulators: dict[str, Simulator] = {}
    for seed, unique_id in enumerate(unique_ids):
        simulator = Simulator(unique_id, scenario="default", speed=args.simulator_speed, seed=seed)
        simulators[unique_id] = await stack.enter_async_context(simulator)
    return simulators


async def _consume(
    stream: AsyncIterator[RoomEvent[BaseEvent]], printer: Printer, sink: Sink | None, tagged: bool
) -> None:
    from tiktok_live.export._sink import Record

    current: list[int | None] = [None]  # the room of the event being printed, for the printer's JSON lines
    printer.room_id = lambda: current[0]
    async for item in stream:
        if sink is not None:
            sink.send(Record.from_room_event(item))
            printer._count(item.event)
            printer._status()
        elif printer.json_mode or not tagged:
            current[0] = item.room_id
            printer.handle(item.event)
        else:
            _print_tagged(printer, item.unique_id, item.event)
        if printer.closed_output:  # stdout's reader left, or writing failed: stop the rooms
            return


def _print_tagged(printer: Printer, unique_id: str, event: BaseEvent) -> None:
    """The readable line of ``event`` with the room's @handle after the time stamp."""
    printer._count(event)
    line = printer.describe(event)
    if line is not None:
        stamp, _, rest = line.partition(" ")
        printer._clear_status()
        printer.emit(f"{stamp} {printer.style(f'@{safe(unique_id)}', '35')} {rest}")
    printer._status()


def _report_rooms(pool: RoomPool, printer: Printer) -> int:
    """One stderr line per failed room; the exit code of the first failure (0 if none)."""
    from tiktok_live.pool import RoomState

    code = EXIT_OK
    for room in pool:
        if room.state is not RoomState.FAILED or room.error is None:
            continue
        printer.close()
        printer.err.write(f"tiktok-live: @{safe(room.unique_id)}: {safe(room.error)}\n")
        if code == EXIT_OK:
            code = exit_code(room.error) if isinstance(room.error, TikTokLiveError) else EXIT_CONNECTION
    return code


async def _close_sink(sink: Sink, printer: Printer) -> None:
    await sink.close()
    stats = sink.stats
    printer.close()
    line = f"exported {stats.delivered} of {stats.accepted} events to {safe(sink.name)}"
    if stats.dropped:
        line += f"; DROPPED {stats.dropped} (last error: {safe(stats.last_error)})"
    printer.err.write(line + "\n")
