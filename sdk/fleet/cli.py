"""``tiktok-live fleet worker|add|remove|status``: the fleet from the shell.

``--redis URL`` (default ``$TIKTOK_LIVE_REDIS``) names the coordinating Redis; ``--prefix`` (default
``$TIKTOK_LIVE_FLEET_PREFIX`` or ``tiktok-live``) keeps several fleets apart in one Redis. ``fleet worker`` runs
until SIGTERM or SIGINT, then releases its rooms so other workers take them at once (exit 0).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from tiktok_live.errors import UsageError

if TYPE_CHECKING:
    from tiktok_live.cli._output import Printer
    from tiktok_live.fleet._admin import FleetStatus

__all__ = ["register", "run"]

REDIS_ENV = "TIKTOK_LIVE_REDIS"
PREFIX_ENV = "TIKTOK_LIVE_FLEET_PREFIX"


def _windows(text: str) -> tuple[float, int]:
    from tiktok_live._sign import WINDOWS as names  # only when the option is given: the parser stays light

    name, sep, value = text.partition("=")
    if not sep or name not in names or not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected WINDOW=MAX with WINDOW one of {', '.join(names)} (got {text!r})")
    return names[name], int(value)


def _positive(kind: type[float] | type[int]) -> Callable[[str], float | int]:
    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
        if not (value > 0 and value != float("inf")):
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        return value

    return parse


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``fleet`` and its subcommands to ``tiktok-live``'s subparsers (runner: :func:`run`)."""
    fleet = commands.add_parser(
        "fleet",
        help="many machines sharing the rooms through Redis",
        description="A fleet of workers sharing rooms through Redis: leases, failover, exactly-once export.",
    )
    actions = fleet.add_subparsers(dest="fleet_command", required=True, metavar="ACTION")

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--redis", default=os.environ.get(REDIS_ENV), help=f"the coordinating Redis URL (default ${REDIS_ENV})"
        )
        parser.add_argument(
            "--prefix",
            default=os.environ.get(PREFIX_ENV, "tiktok-live"),
            help="key prefix: several fleets in one Redis (default %(default)s)",
        )

    worker = actions.add_parser("worker", help="hold and stream rooms until SIGTERM/SIGINT")
    common(worker)
    worker.add_argument("--capacity", type=_positive(int), default=100, help="rooms at most (default %(default)s)")
    worker.add_argument(
        "--lease", type=_positive(float), default=15.0, help="seconds a dead worker keeps its rooms (default 15)"
    )
    worker.add_argument("--name", default=None, help="this worker's name (default: host-pid)")
    worker.add_argument(
        "--to",
        default=None,
        metavar="URL",
        help="export events: a stream on the fleet's Redis (redis://…?stream=NAME: exactly once) or any sink URL",
    )
    worker.add_argument("--metrics", type=_positive(int), default=None, metavar="PORT", help="serve Prometheus metrics")
    worker.add_argument(
        "--sign-limit",
        type=_windows,
        action="append",
        default=None,
        metavar="WINDOW=MAX",
        help="fleet-wide sign budget, e.g. minute=30 (repeatable; default: the sign server's published limits)",
    )
    worker.add_argument("--poll", type=_positive(float), default=30.0, help="seconds between live checks (default 30)")
    connection = worker.add_argument_group("connection")
    connection.add_argument("--sign-api-key", default=None, help="sign server API key (default: $SIGN_API_KEY)")
    connection.add_argument("--sign-url", default=os.environ.get("SIGN_API_URL"), help="origin of the sign server")
    connection.add_argument("--web-url", default=os.environ.get("TIKTOK_LIVE_WEB_URL"), help="origin of TikTok's site")
    connection.add_argument(
        "--webcast-url", default=os.environ.get("TIKTOK_LIVE_WEBCAST_URL"), help="origin of TikTok's webcast API"
    )
    connection.add_argument("--proxy", default=None, help="proxy for every request and the WebSocket")

    add = actions.add_parser("add", help="watch rooms")
    common(add)
    add.add_argument("users", nargs="+", metavar="@user")
    remove = actions.add_parser("remove", help="stop watching rooms")
    common(remove)
    remove.add_argument("users", nargs="+", metavar="@user")
    status = actions.add_parser("status", help="rooms and workers")
    common(status)
    status.add_argument("--json", action="store_true", help="one JSON object on stdout")
    status.add_argument(
        "--lease",
        type=_positive(float),
        default=15.0,
        help="a worker's lease when its heartbeat does not say (default 15)",
    )
    fleet.set_defaults(json=False, events=None, summary=False)  # no stream of its own: nothing to sum up


async def run(args: argparse.Namespace, printer: Printer) -> int:
    """Run one ``fleet`` action; returns the exit code."""
    if not args.redis:
        raise UsageError(f"fleet {args.fleet_command} needs --redis URL (or ${REDIS_ENV})")
    if args.fleet_command == "worker":
        return await _worker(args, printer)
    from tiktok_live.fleet._admin import Fleet

    async with Fleet(args.redis, prefix=args.prefix, lease=getattr(args, "lease", 15.0)) as fleet:
        if args.fleet_command == "add":
            added = await fleet.add(*args.users)
            printer.err.write(
                f"added {len(added)} room(s){': ' + ', '.join('@' + h for h in added) if added else ''}\n"
            )
        elif args.fleet_command == "remove":
            removed = await fleet.remove(*args.users)
            printer.err.write(f"removed {len(removed)} room(s)\n")
        else:
            _print_status(await fleet.status(), printer.out, as_json=args.json)
    return 0


async def _worker(args: argparse.Namespace, printer: Printer) -> int:
    from tiktok_live._config import ClientConfig
    from tiktok_live.fleet._worker import Worker

    fleet_logger = logging.getLogger("tiktok_live.fleet")
    if fleet_logger.getEffectiveLevel() > logging.INFO:
        fleet_logger.setLevel(logging.INFO)  # a worker is a service: rooms taken, handed over and lost are its log

    urls = {name: getattr(args, name) for name in ("sign_url", "web_url", "webcast_url") if getattr(args, name)}
    config = ClientConfig(sign_api_key=args.sign_api_key, proxy=args.proxy, **urls)
    worker = Worker(
        args.redis,
        config=config,
        capacity=args.capacity,
        lease=args.lease,
        name=args.name,
        prefix=args.prefix,
        to=args.to,
        sign_limits=args.sign_limit,
        poll_interval=args.poll,
    )
    await worker.connect()  # a Redis that does not answer fails here, with a clear message
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, worker.stop)
    runner = None
    if args.metrics is not None:
        from tiktok_live.fleet._metrics import serve_metrics

        runner = await serve_metrics(worker, args.metrics)
    printer.err.write(f"fleet worker {worker.name}: capacity {worker.capacity}, lease {worker.lease:g} s\n")
    try:
        await worker.run()
    finally:
        if runner is not None:
            await runner.cleanup()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signum)
    printer.err.write(f"fleet worker {worker.name}: stopped, {worker.events} events\n")
    return 0


def _print_status(status: FleetStatus, out: TextIO, *, as_json: bool) -> None:
    if as_json:
        out.write(json.dumps(status.as_dict(), separators=(",", ":")) + "\n")
        return
    out.write(f"{'room':<26} {'state':<11} {'holder':<22} {'since':>8} {'events':>9} {'reconn':>6}  error\n")
    for room in status.rooms:
        since = f"{(status.now - room.since) / 1000:.0f}s" if room.since else "-"
        out.write(
            f"@{room.handle:<25} {room.state:<11} {room.holder or '-':<22} {since:>8} {room.events:>9} "
            f"{room.reconnects:>6}  {room.error[:60]}\n"
        )
    out.write(f"\n{'worker':<26} {'heartbeat':>10} {'capacity':>9} {'rooms':>6}\n")
    for worker in status.workers:
        age = f"{worker.age(status.now):.1f}s" + ("" if status.alive(worker) else " (dead)")
        out.write(f"{worker.name:<26} {age:>10} {worker.capacity:>9} {worker.rooms:>6}\n")
    if not status.rooms:
        out.write("no rooms: add some with `tiktok-live fleet add --redis URL @user`\n")
