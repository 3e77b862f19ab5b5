"""The runners of ``demo``, ``watch``, ``record`` and ``replay`` (``serve`` is :mod:`tiktok_live.web.cli`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Final

from tiktok_live.cli._common import EXIT_CONNECTION, EXIT_OK, UsageError
from tiktok_live.cli._events import CONNECTION_EVENTS, CORE_EVENTS, event_classes, resolve_events
from tiktok_live.cli._output import Printer

if TYPE_CHECKING:
    from tiktok_live._base import BaseEvent
    from tiktok_live.client import TikTokLiveClient
    from tiktok_live.recording import Recorder
    from tiktok_live.testing import Simulator

__all__ = ["DEMO_SPEED", "demo", "make_client", "maybe_simulator", "record", "replay", "watch"]

DEMO_SPEED: Final = 1.5


def make_client(
    args: argparse.Namespace, simulator: Simulator | None, *, recorder: Recorder | None = None
) -> TikTokLiveClient:
    """A client for ``args.user`` with the connection options (or one of ``simulator`` when given: not strict, as
    a handler error in a command is reported like in production, not raised)."""
    from tiktok_live.cli._lookups import wait_options
    from tiktok_live.client import ClientConfig, TikTokLiveClient

    if simulator is not None:
        options = wait_options(args)
        options["strict"] = False
        return simulator.client(recorder=recorder, **options)
    config = ClientConfig(sign_api_key=args.sign_api_key, proxy=args.proxy).replace(**wait_options(args))
    urls = {option: getattr(args, option) for option in ("web_url", "webcast_url", "sign_url") if getattr(args, option)}
    return TikTokLiveClient(args.user, config=config.replace(**urls), recorder=recorder)


@contextlib.asynccontextmanager
async def maybe_simulator(args: argparse.Namespace) -> AsyncIterator[Simulator | None]:
    """An embedded simulator serving the user's room with the default show when ``--simulator`` is given."""
    if not getattr(args, "simulator", False):
        yield None
        return
    from tiktok_live.client import normalize_unique_id
    from tiktok_live.testing import Simulator

    if not args.simulator_speed > 0:  # also NaN; parse_args refuses both already
        raise UsageError("--simulator-speed must be a positive number, or max")
    user = normalize_unique_id(args.user)
    relive = 1 if getattr(args, "follow", False) else None  # --follow: LIVE after LIVE
    async with Simulator(user, scenario="default", speed=args.simulator_speed, relive_after=relive) as simulator:
        yield simulator


def _subscribe(client: TikTokLiveClient, classes: Iterable[type[BaseEvent]], printer: Printer) -> None:
    for cls in classes:
        client.add_listener(cls, printer.handle)


def _default_events(json_mode: bool) -> tuple[str, ...]:
    if json_mode:
        return tuple(event_classes())
    return CORE_EVENTS + CONNECTION_EVENTS


async def watch(args: argparse.Namespace, printer: Printer) -> int:
    """``watch``: one room printed by its client, or several (or an export) through a pool."""
    from tiktok_live.schema.cli import watch_unknowns

    if len(args.user) > 1 or args.to is not None:
        if args.report_unknown:
            raise UsageError("--report-unknown watches one room without --to; record rooms and run `schema unknowns`")
        from tiktok_live.export.cli import watch_many

        return await watch_many(args, printer, args.user, args.to)
    args.user = args.user[0]  # one room, no export: the single client
    classes = resolve_events(args.events, _default_events(args.json))
    async with maybe_simulator(args) as simulator:
        client = make_client(args, simulator)
        from tiktok_live.cli._lookups import waiting_note

        if (note := waiting_note(args, client.unique_id)) is not None:
            printer.err.write(note + "\n")
        printer.room_id = lambda: client.room_id
        printer.stop_client_on_closed_output(client)
        _subscribe(client, classes, printer)
        if args.report_unknown:
            printer.unknowns = watch_unknowns(client)
        await client.connect()
    return EXIT_OK


async def demo(args: argparse.Namespace, printer: Printer) -> int:
    """``demo``: the default show of an embedded simulator, printed; 5 if the client breached the protocol."""
    from tiktok_live.testing import Simulator

    classes = resolve_events(args.events, _default_events(args.json))
    if not args.debug:  # the violations are printed below, once; not also as the simulator's warnings
        logging.getLogger("tiktok_live.testing").setLevel(logging.ERROR)
    async with Simulator("simulator", scenario="default", speed=args.speed) as simulator:
        printer.err.write(
            f"tiktok-live demo: a scripted LIVE from the embedded simulator at {simulator.url} "
            "(no internet, no API key)\n"
        )
        client = simulator.client(strict=False)
        printer.room_id = lambda: client.room_id
        printer.stop_client_on_closed_output(client)
        _subscribe(client, classes, printer)
        await client.connect()
        await simulator.wait_idle()
        if simulator.violations and not printer.closed_output:  # stopped early: frames went unacked on purpose
            for violation in simulator.violations:
                printer.err.write(f"{violation}\n")
            return EXIT_CONNECTION
    return EXIT_OK


async def record(args: argparse.Namespace, printer: Printer) -> int:
    """``record``: watch one room and save every frame to ``args.file``.

    The file appears once the client is connected: until then it is written beside it under a hidden name, so a
    failed connect leaves nothing behind (and, with ``--force``, the file being replaced intact). An existing file
    is replaced only with ``--force``."""
    from tiktok_live.client import normalize_unique_id
    from tiktok_live.events import ConnectEvent
    from tiktok_live.recording import Recorder, RecordingWriteError
    from tiktok_live.schema.cli import watch_unknowns

    target: Path = args.file
    if await asyncio.to_thread(target.exists) and not args.force:
        raise UsageError(f"{target} exists; add --force to replace it")
    unique_id = normalize_unique_id(args.user)
    classes = resolve_events(args.events, _default_events(args.json))
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        recorder = Recorder(partial, unique_id=unique_id, keep_cookies=args.keep_cookies)
    except RecordingWriteError as error:
        raise UsageError(str(error)) from None
    where: list[Path] = []  # where the recording is, once connected

    def connected(event: ConnectEvent) -> None:
        if where:
            return
        try:
            partial.replace(target)  # the open file keeps being written under its new name
            where.append(target)
        except OSError as error:
            printer.err.write(f"tiktok-live: cannot name the recording {target} ({error.strerror}); see {partial}\n")
            where.append(partial)

    try:
        with recorder:
            async with maybe_simulator(args) as simulator:
                client = make_client(args, simulator, recorder=recorder)
                client.add_listener(ConnectEvent, connected)
                printer.room_id = lambda: client.room_id
                printer.stop_client_on_closed_output(client)
                _subscribe(client, classes, printer)
                if args.report_unknown:
                    printer.unknowns = watch_unknowns(client)
                await client.connect()
    finally:
        if where:
            printer.close()
            cookies = "kept" if args.keep_cookies else "redacted"
            printer.err.write(f"recorded {recorder.frames} frames to {where[0]} (cookies {cookies})\n")
        else:
            await asyncio.to_thread(partial.unlink, missing_ok=True)  # never connected: nothing worth keeping
    return EXIT_OK


async def replay(args: argparse.Namespace, printer: Printer) -> int:
    """``replay``: feed a recording through the client's normal event path."""
    from tiktok_live.client import TikTokLiveClient
    from tiktok_live.recording import read_recording

    recording = read_recording(args.file)
    classes = resolve_events(args.events, _default_events(args.json))
    client = TikTokLiveClient(recording.unique_id or "replay")
    printer.room_id = lambda: client.room_id
    printer.stop_client_on_closed_output(client)
    _subscribe(client, classes, printer)
    as_fast_as_possible = args.as_fast_as_possible or math.isinf(args.speed)
    await client.replay(args.file, speed=None if as_fast_as_possible else args.speed)
    return EXIT_OK
