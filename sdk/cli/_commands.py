"""The runners of ``demo``, ``watch``, ``record`` and ``replay`` (``serve`` is :mod:`tiktok_live.web.cli`)."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator, Iterable
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
    from tiktok_live.client import TikTokLiveClient

    if simulator is not None:
        return simulator.client(strict=False, recorder=recorder)
    options: dict[str, object] = {"sign_api_key": args.sign_api_key, "proxy": args.proxy, "recorder": recorder}
    for option in ("web_url", "webcast_url", "sign_url"):
        if getattr(args, option):
            options[option] = getattr(args, option)
    return TikTokLiveClient(args.user, **options)  # type: ignore[arg-type]  # keyword options checked by the client


@contextlib.asynccontextmanager
async def maybe_simulator(args: argparse.Namespace) -> AsyncIterator[Simulator | None]:
    """An embedded simulator serving the user's room with the default show when ``--simulator`` is given."""
    if not getattr(args, "simulator", False):
        yield None
        return
    from tiktok_live.client import normalize_unique_id
    from tiktok_live.testing import Simulator

    if args.simulator_speed <= 0:
        raise UsageError("--simulator-speed must be positive")
    user = normalize_unique_id(args.user)
    async with Simulator(user, scenario="default", speed=args.simulator_speed) as simulator:
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
    if len(args.user) > 1 or args.to is not None:
        from tiktok_live.export.cli import watch_many

        return await watch_many(args, printer, args.user, args.to)
    args.user = args.user[0]  # one room, no export: the single client
    classes = resolve_events(args.events, _default_events(args.json))
    async with maybe_simulator(args) as simulator:
        client = make_client(args, simulator)
        printer.room_id = lambda: client.room_id
        printer.stop_client_on_closed_output(client)
        _subscribe(client, classes, printer)
        await client.connect()
    return EXIT_OK


async def demo(args: argparse.Namespace, printer: Printer) -> int:
    """``demo``: the default show of an embedded simulator, printed; 5 if the client breached the protocol."""
    from tiktok_live.testing import Simulator

    classes = resolve_events(args.events, _default_events(args.json))
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
        if simulator.violations:
            for violation in simulator.violations:
                printer.err.write(f"{violation}\n")
            return EXIT_CONNECTION
    return EXIT_OK


async def record(args: argparse.Namespace, printer: Printer) -> int:
    """``record``: watch one room and save every frame to ``args.file``."""
    from tiktok_live.client import normalize_unique_id
    from tiktok_live.recording import Recorder

    classes = resolve_events(args.events, _default_events(args.json))
    with Recorder(args.file, unique_id=normalize_unique_id(args.user), keep_cookies=args.keep_cookies) as recorder:
        async with maybe_simulator(args) as simulator:
            client = make_client(args, simulator, recorder=recorder)
            printer.room_id = lambda: client.room_id
            printer.stop_client_on_closed_output(client)
            _subscribe(client, classes, printer)
            try:
                await client.connect()
            finally:
                printer.err.write(
                    f"recorded {recorder.frames} frames to {args.file} (cookies "
                    f"{'kept' if args.keep_cookies else 'redacted'})\n"
                )
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
    await client.replay(args.file, speed=None if args.as_fast_as_possible else args.speed)
    return EXIT_OK
