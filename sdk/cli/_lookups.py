"""``tiktok-live info @user`` and ``tiktok-live gifts @user`` (lookups that never connect), and the waiting options
of ``watch`` (``--wait``, ``--follow``, ``--poll-interval``).

Wired into :mod:`tiktok_live.cli` by :func:`register` (adds the two subcommands), :func:`add_wait_options` (adds
the options to ``watch``), :func:`wait_options` (turns them into client options) and :data:`RUNNERS` (the runners
by command name).

``info`` prints the room (title, counts, host, start time, cover, 18+ flag) and the stream URLs by quality, or
only that the host is not live; exit code 0 when live, 3 when offline or unknown. ``gifts`` prints the gift
catalogue: the room's while the host is live, else the region's. ``--json`` prints one JSON object instead (64-bit
ids as decimal strings).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from tiktok_live._config import ClientOptions
    from tiktok_live.cli._output import Printer
    from tiktok_live.client import RoomInfo, TikTokLiveClient

__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "RUNNERS",
    "add_wait_options",
    "describe_room",
    "register",
    "wait_options",
    "waiting_note",
]

DEFAULT_POLL_INTERVAL: Final = 30.0
"""Seconds between two live checks while ``watch --wait`` / ``--follow`` waits."""


def _seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not 0 < number <= 86_400:
        raise argparse.ArgumentTypeError("a poll interval is more than 0 and at most 86400 seconds (30 is polite)")
    return number


_COMMANDS: Final = (
    (
        "info",
        "a room's info, live status and stream URLs (no connection)",
        "Print a host's room: live status, title, counts, host, start time and the stream URLs by quality. Needs "
        "no sign server and opens no WebSocket. Exit code 0 when live, 3 when not.",
    ),
    (
        "gifts",
        "the gift catalogue of a host's room (no connection)",
        "Print the gift catalogue (id, name, diamonds, streakable, on the panel): the room's while the host is "
        "live, else the region's.",
    ),
)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``info`` and ``gifts`` subcommands to ``tiktok-live``'s subparsers (runners in :data:`RUNNERS`)."""
    from tiktok_live.cli._options import connection_options

    for name, summary, description in _COMMANDS:
        command = commands.add_parser(name, help=summary, description=description)
        command.add_argument("user", help="@handle of the host")
        command.add_argument("--json", action="store_true", help="print one JSON object on stdout")
        connection_options(command)
        command.set_defaults(summary=False)  # a lookup streams no events: nothing to sum up


def add_wait_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--wait``, ``--follow`` and ``--poll-interval`` to a command that connects (``watch``)."""
    group = parser.add_argument_group("waiting for the LIVE")
    group.add_argument("--wait", action="store_true", help="if the host is offline, wait for them to go live")
    group.add_argument(
        "--follow", action="store_true", help="wait for the host's LIVE, and after it ends for every next one"
    )
    group.add_argument(
        "--poll-interval",
        type=_seconds,
        default=DEFAULT_POLL_INTERVAL,
        metavar="SECONDS",
        help="seconds between two live checks while waiting (default %(default)g)",
    )


def wait_options(args: argparse.Namespace) -> ClientOptions:
    """The client options ``--wait`` / ``--follow`` / ``--poll-interval`` stand for (empty without them)."""
    options: ClientOptions = {}
    if getattr(args, "wait", False):
        options["wait_live"] = True
    if getattr(args, "follow", False):
        options["follow"] = True
    if options:
        options["live_poll_interval"] = float(getattr(args, "poll_interval", DEFAULT_POLL_INTERVAL))
    return options


def waiting_note(args: argparse.Namespace, user: str) -> str | None:
    """The line ``watch`` prints on stderr when it may wait for the host (None without ``--wait`` / ``--follow``)."""
    if getattr(args, "follow", False):
        return f"tiktok-live: following @{user}: every LIVE, waiting while offline (Ctrl-C to stop)"
    if getattr(args, "wait", False):
        return f"tiktok-live: waiting for @{user} to go live if they are not (Ctrl-C to stop)"
    return None


# ── info ───────────────────────────────────────────────────────────────────────────────────────────────────────


async def run_info(args: argparse.Namespace, printer: Printer) -> int:
    """Run ``tiktok-live info``: look the room up and print it; 0 when the host is live, 3 when not."""
    from tiktok_live.cli._commands import make_client, maybe_simulator
    from tiktok_live.cli._common import EXIT_OK, EXIT_USER
    from tiktok_live.errors import UserOfflineError

    async with maybe_simulator(args) as simulator:
        client = make_client(args, simulator)
        info: RoomInfo | None
        try:
            info = await client.fetch_room_info()
        except UserOfflineError:
            info = None
        live = info is not None and info.is_live
    if args.json:
        room = None if info is None else info.to_dict()
        document = {"unique_id": client.unique_id, "live": live, "room": room}
        printer.out.write(json.dumps(document, ensure_ascii=False) + "\n")
    else:
        printer.out.write(describe_room(client, info))
    printer.out.flush()
    return EXIT_OK if live else EXIT_USER


def describe_room(client: TikTokLiveClient, info: RoomInfo | None) -> str:
    """The readable text of ``info`` (None: the host is not live)."""
    if info is None:
        return f"@{client.unique_id} is not live right now\n"
    owner = info.owner
    host = f"{info.owner_nickname or '?'} (@{info.owner_unique_id or client.unique_id})"
    state = {2: "LIVE", 3: "LIVE (paused)"}.get(info.status, f"not live (status {info.status})")
    lines = [f"{host} is {state}: {info.title!r}" if info.title else f"{host} is {state}"]
    rows: list[tuple[str, str]] = [("room", str(info.room_id))]
    if info.started_at is not None:
        minutes = max(0, int((datetime.now(UTC) - info.started_at).total_seconds() // 60))
        rows.append(("started", f"{info.started_at:%Y-%m-%d %H:%M} UTC ({_duration(minutes)} ago)"))
    rows.append(("viewers", f"{info.user_count:,} now, {info.total_user:,} in all; {info.like_count:,} likes"))
    if owner is not None:
        rows.append(("host", f"id {owner.id}, {owner.followers:,} followers"))
        if owner.avatar_url:
            rows.append(("avatar", owner.avatar_url))
    if info.cover_url:
        rows.append(("cover", info.cover_url))
    rows.append(("18+", "yes (watching needs a logged-in session id)" if info.age_restricted else "no"))
    rows.append(("qualities", ", ".join(info.stream_urls) or "none offered"))
    lines.extend(f"  {label:<10} {value}" for label, value in rows)
    for name, url in info.stream_urls.items():
        details = ", ".join(
            part
            for part in (
                url.legacy_name,
                url.resolution,
                f"{url.bitrate / 1_000_000:.1f} Mb/s" if url.bitrate else "",
            )
            if part
        )
        lines.append(f"  {name}" + (f" ({details})" if details else ""))
        for kind, link in (("flv", url.flv), ("hls", url.hls)):
            if link:
                lines.append(f"    {kind}  {link}")
    return "\n".join(lines) + "\n"


def _duration(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if hours else f"{rest} min"


# ── gifts ──────────────────────────────────────────────────────────────────────────────────────────────────────


async def run_gifts(args: argparse.Namespace, printer: Printer) -> int:
    """Run ``tiktok-live gifts``: fetch the catalogue and print it, cheapest first."""
    from tiktok_live.cli._commands import make_client, maybe_simulator
    from tiktok_live.cli._common import EXIT_OK

    async with maybe_simulator(args) as simulator:
        client = make_client(args, simulator)
        gifts = await client.fetch_gifts()
    if args.json:
        document = {"unique_id": client.unique_id, "gifts": [gift.to_dict() for gift in gifts]}
        printer.out.write(json.dumps(document, ensure_ascii=False) + "\n")
        printer.out.flush()
        return EXIT_OK
    out = printer.out
    out.write(f"{'id':>8}  {'diamonds':>8}  {'streak':<6}  {'panel':<5}  name\n")
    for gift in sorted(gifts, key=lambda gift: (gift.diamond_count, gift.id)):
        streak = "yes" if gift.streakable else "no"
        panel = "yes" if gift.on_panel else "no"
        out.write(f"{gift.id:>8}  {gift.diamond_count:>8,}  {streak:<6}  {panel:<5}  {gift.name}\n")
    out.write(f"\n{len(gifts)} gifts\n")
    out.flush()
    return EXIT_OK


RUNNERS: Final[dict[str, Callable[[argparse.Namespace, Printer], Coroutine[Any, Any, int]]]] = {
    "info": run_info,
    "gifts": run_gifts,
}
"""The runner of each command :func:`register` adds, by name."""
