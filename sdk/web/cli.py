"""``tiktok-live serve @user``: the dashboard and OBS overlays of one room, served from this machine.

Wired into ``tiktok_live.cli`` by :func:`register` (adds the subcommand to the parser) and :func:`run` (the
runner). The web app runs on the client's event loop; the client's events go to every open page and, like
``watch``, to the terminal (``--json`` for JSON Lines, ``--quiet`` for none). While the host is offline the server
waits and tries again every 30 s; after the LIVE ends it keeps serving (the pages show that it ended) until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import io
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeVar

from tiktok_live.web._config import DEFAULT_DISPLAY_TIME, DEFAULT_HOST, DEFAULT_PORT, is_loopback
from tiktok_live.web.hub import DEFAULT_BACKLOG, MAX_BACKLOG

if TYPE_CHECKING:
    from tiktok_live.cli._output import Printer
    from tiktok_live.client import TikTokLiveClient
    from tiktok_live.web.app import WebServer

__all__ = ["OFFLINE_RETRY", "bind_warning", "client_room_id", "follow", "overlay_urls", "register", "run"]

_P = TypeVar("_P", bound=argparse.ArgumentParser)

OFFLINE_RETRY: Final = 30.0
"""Seconds between two tries while the host is not live."""


def _port(value: str) -> int:
    number = int(value)
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError("a port is between 0 and 65535 (0: any free port)")
    return number


def _backlog(value: str) -> int:
    number = int(value)
    if not 0 <= number <= MAX_BACKLOG:
        raise argparse.ArgumentTypeError(f"the backlog is between 0 and {MAX_BACKLOG} events")
    return number


def _seconds(value: str) -> float:
    number = float(value)
    if not 0 <= number <= 86_400:
        raise argparse.ArgumentTypeError("seconds between 0 (keep messages) and 86400")
    return number


def register(commands: argparse._SubParsersAction[_P]) -> None:
    """Add the ``serve`` subcommand to ``tiktok-live``'s subparsers (its runner is :func:`run`)."""
    from tiktok_live.cli._options import connection_options

    serve = commands.add_parser(
        "serve",
        help="a live dashboard and OBS overlays in the browser",
        description="Serve a live dashboard and OBS overlays (chat, gift alerts, like goal) for a room.",
    )
    serve.add_argument("user", help="@handle of the host")
    serve.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help="address to listen on (default %(default)s: this machine only; 0.0.0.0 opens it to your network)",
    )
    serve.add_argument("--port", type=_port, default=DEFAULT_PORT, help="port to listen on (default %(default)s)")
    serve.add_argument(
        "--backlog",
        type=_backlog,
        default=DEFAULT_BACKLOG,
        metavar="N",
        help="events kept for pages that open late or reconnect (default %(default)s)",
    )
    serve.add_argument(
        "--display-time",
        type=_seconds,
        default=DEFAULT_DISPLAY_TIME,
        metavar="SECONDS",
        help="how long overlays show a message (default %(default)s; 0 keeps them; ?time= per overlay)",
    )
    serve.add_argument(
        "--assets", type=Path, default=None, metavar="DIR", help="serve DIR at /assets/ (custom overlay CSS)"
    )
    output = serve.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the events as JSON Lines (schema v1) on stdout")
    output.add_argument("--quiet", action="store_true", help="print no events, only the addresses and errors")
    connection_options(serve)


def bind_warning(host: str) -> str | None:
    """The warning for listening on ``host``, or None when it only reaches this machine."""
    if is_loopback(host):
        return None
    where = "every network interface" if host in ("0.0.0.0", "::", "") else host
    return (
        f"listening on {where}: anyone who can reach this machine can open the dashboard and overlays and read "
        "the room's events (they hold no keys or cookies); use --host 127.0.0.1 unless OBS runs elsewhere"
    )


def overlay_urls(base: str) -> dict[str, str]:
    """The pages to open, by label: the dashboard and the overlays (``base`` is the dashboard's URL)."""
    return {
        "dashboard": base,
        "chat overlay": f"{base}overlay/chat",
        "gift alerts": f"{base}overlay/gifts",
        "like goal": f"{base}overlay/goal?likes=1000",
    }


class _Discard(io.StringIO):
    """A text stream that drops what is written (``--quiet``: the printer still counts for the summary)."""

    def write(self, text: str) -> int:
        return len(text)

    def isatty(self) -> bool:
        return False


async def run(args: argparse.Namespace, printer: Printer) -> int:
    """Run ``tiktok-live serve``: serve the pages, follow the room, keep serving after the LIVE ends, until
    cancelled (Ctrl-C). Raises the client's errors (exit codes as ``watch``) when the first connect fails for
    another reason than the host being offline; a port that cannot be bound is a usage error."""
    from tiktok_live.cli._commands import make_client, maybe_simulator
    from tiktok_live.cli._common import EXIT_OK, UsageError
    from tiktok_live.client import normalize_unique_id
    from tiktok_live.web.app import WebServer

    if args.assets is not None and not args.assets.is_dir():
        raise UsageError(f"--assets {args.assets}: no such folder")
    warning = bind_warning(args.host)
    if warning is not None:
        printer.err.write(f"tiktok-live serve: warning: {warning}\n")
    if args.quiet:
        printer.out = _Discard()
        printer.status_enabled = False
    server = WebServer(
        unique_id=normalize_unique_id(args.user),
        backlog=args.backlog,
        display_time=args.display_time,
        assets_dir=args.assets,
    )
    async with maybe_simulator(args) as simulator:
        try:
            await server.start(args.host, args.port)
        except OSError as error:
            raise UsageError(f"cannot listen on {args.host}:{args.port}: {error.strerror or error}") from error
        try:
            lines = "".join(f"  {label:<14} {url}\n" for label, url in overlay_urls(server.url).items())
            printer.err.write(f"tiktok-live serve: @{server.state.unique_id}, Ctrl-C to stop\n{lines}")
            printer.err.flush()
            await follow(server, lambda: make_client(args, simulator), printer)
            printer.err.write(f"tiktok-live serve: {_ended(server)}; still serving {server.url} (Ctrl-C to stop)\n")
            printer.err.flush()
            await asyncio.Event().wait()  # serve until cancelled
        finally:
            await server.stop()
    return EXIT_OK


def _ended(server: WebServer) -> str:
    from tiktok_live.cli._output import safe

    state = server.state
    if state.status == "failed":
        return f"the connection failed ({safe(state.error)})"
    return "the LIVE ended" if state.status == "ended" else f"disconnected ({safe(state.reason)})"


def client_room_id(client: TikTokLiveClient) -> Callable[[], int | None]:
    """A function returning ``client``'s room id (for :attr:`Printer.room_id`)."""
    return lambda: client.room_id


async def follow(
    server: WebServer,
    make_client: Callable[[], TikTokLiveClient],
    printer: Printer | None = None,
    *,
    offline_retry: float = OFFLINE_RETRY,
) -> None:
    """Connect a client from ``make_client`` to the room and feed ``server`` (and ``printer``) until the stream
    ends. While the host is offline, try again every ``offline_retry`` seconds with a fresh client (the room id
    changes when a LIVE starts). A failure after connecting is shown as the ``failed`` state, not raised; a first
    connect that fails otherwise raises."""
    from tiktok_live import errors
    from tiktok_live.cli._output import safe
    from tiktok_live.events import ErrorEvent
    from tiktok_live.web.app import EVENT_TYPES

    state = server.state
    while True:
        client = make_client()
        server.attach(client)
        if printer is not None:
            printer.room_id = client_room_id(client)
            for event_type in (*EVENT_TYPES, ErrorEvent):
                client.add_listener(event_type, printer.handle)
        state.set_status("connecting")
        server.state_changed()
        try:
            task = await client.start()
        except errors.UserOfflineError as error:
            state.set_status("offline", error=str(error))
            server.state_changed()
            if printer is not None:
                printer.err.write(f"tiktok-live serve: {safe(error)}; trying again in {offline_retry:.0f} s\n")
                printer.err.flush()
            await asyncio.sleep(offline_retry)
            continue
        try:
            await task
        except errors.TikTokLiveError as error:
            state.set_status("failed", error=str(error))
            server.state_changed()
        finally:
            await client.disconnect()
        return
