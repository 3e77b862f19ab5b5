"""Options shared by several subcommands, and the parsers of their values (bad values exit 2 at parse time)."""

from __future__ import annotations

import argparse
import os

__all__ = ["connection_options", "output_options"]


def connection_options(parser: argparse.ArgumentParser) -> None:
    """Add the options that say where to connect (watch, record, serve, video)."""
    group = parser.add_argument_group("connection")
    group.add_argument("--sign-api-key", default=None, help="sign server API key (default: $SIGN_API_KEY)")
    group.add_argument(
        "--proxy",
        default=None,
        help="proxy for every request and the WebSocket: http://, https://, socks5://, socks5h://, socks4:// "
        '(SOCKS needs pip install "tiktok-live[socks]")',
    )
    group.add_argument("--web-url", default=os.environ.get("TIKTOK_LIVE_WEB_URL"), help="origin of TikTok's site")
    group.add_argument(
        "--webcast-url", default=os.environ.get("TIKTOK_LIVE_WEBCAST_URL"), help="origin of TikTok's webcast API"
    )
    group.add_argument("--sign-url", default=os.environ.get("SIGN_API_URL"), help="origin of the sign server")
    group.add_argument("--simulator", action="store_true", help="connect to an embedded simulator, not TikTok")
    group.add_argument(
        "--simulator-speed", type=float, default=1.0, help="playback speed of --simulator's show (default %(default)s)"
    )


def output_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--events`` and ``--json``."""
    parser.add_argument("--events", default=None, help="comma-separated events, e.g. comment,gift,like (or all)")
    parser.add_argument("--json", action="store_true", help="print JSON Lines (schema v1) on stdout")
