"""``python -m tiktok_live.testing``: serve a simulated TikTok LIVE until Ctrl-C.

Prints one start line, ``tiktok-live simulator: http://127.0.0.1:<port> serving @<user>``, then one line per
client-duty violation as it happens. Point a client at the URL (web, webcast and sign URL alike).

Many hosts on the one origin: ``--users a,b,c``, or ``--rooms N`` for hosts ``host1`` … ``hostN`` (zero-padded to
the same width); each has its own room id, script (the scenario built for it) and msg ids. The start line then
names them all: ``… serving @a, @b, @c``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from tiktok_live.cli._options import Parser
from tiktok_live.recording import RecordingError
from tiktok_live.testing._scenario import SCENARIOS, ScenarioError, recording_scenario
from tiktok_live.testing._server import Simulator

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="python -m tiktok_live.testing",
        description="Serve a simulated TikTok LIVE (pages, APIs, sign server, push WebSocket) on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=8765, help="TCP port (0: any free port; default 8765)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--user", default="simulator", help="the host's @unique id (default simulator)")
    hosts = parser.add_mutually_exclusive_group()
    hosts.add_argument("--users", default=None, metavar="A,B,…", help="serve many hosts: comma-separated @ids")
    hosts.add_argument("--rooms", type=int, default=None, metavar="N", help="serve N hosts: host1 … hostN")
    parser.add_argument(
        "--scenario", default="default", choices=sorted(SCENARIOS), help="what to play (default: default)"
    )
    parser.add_argument("--recording", type=Path, default=None, help="serve a `tiktok-live record` file instead")
    parser.add_argument("--loop", action="store_true", help="replay the scenario forever on each connection")
    parser.add_argument("--speed", type=float, default=1.0, help="play faster (>1) or slower (<1)")
    parser.add_argument("--seed", type=int, default=0, help="seed for ids and the default scenario")
    parser.add_argument("--ping-interval", type=float, default=10.0, help="heartbeat period announced, seconds")
    parser.add_argument(
        "--prerender",
        action="store_true",
        help="render every frame of the script before serving, so sending costs only the send (load tests)",
    )
    return parser


def _emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def host_names(rooms: int) -> list[str]:
    """The hosts of ``--rooms N``: ``host1`` … ``hostN``, zero-padded to one width (so they sort in order)."""
    width = len(str(rooms))
    return [f"host{number:0{width}d}" for number in range(1, rooms + 1)]


def _users(args: argparse.Namespace) -> list[str] | None:
    if args.rooms is not None:
        if args.rooms < 1:
            raise ValueError("--rooms needs at least 1")
        return host_names(args.rooms)
    if args.users is not None:
        return [user.strip() for user in args.users.split(",") if user.strip()]
    return None


async def _serve(args: argparse.Namespace) -> int:
    try:
        users = _users(args)
        simulator = Simulator(
            args.user,
            host=args.host,
            port=args.port,
            seed=args.seed,
            speed=args.speed,
            loop=args.loop,
            ping_interval=args.ping_interval,
            on_violation=_emit,
            users=users,
            prerender=args.prerender,
        )
        simulator.use_scenario(recording_scenario(args.recording) if args.recording else args.scenario)
    except (ScenarioError, RecordingError, ValueError) as error:
        sys.stderr.write(f"tiktok-live simulator: {error}\n")
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
        except (NotImplementedError, RuntimeError):  # Windows: Ctrl-C arrives as KeyboardInterrupt instead
            pass
    async with simulator:
        names = ", ".join(f"@{name}" for name in simulator.hosts)
        _emit(f"tiktok-live simulator: {simulator.url} serving {names}")
        await stop.wait()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator command line; returns the exit status (0 after Ctrl-C)."""
    args = _parser().parse_args(argv)
    try:
        return asyncio.run(_serve(args))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
