"""Options shared by several subcommands, the parsers of their values (a bad value exits 2 at parse time, before
anything connects), and the argument parser that suggests close matches for mistyped names."""

from __future__ import annotations

import argparse
import difflib
import math
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "Parser",
    "close_matches",
    "connection_options",
    "did_you_mean",
    "origin_url",
    "output_options",
    "proxy_url",
    "simulator_speed",
    "speed",
    "writable_file",
]

_INVALID_CHOICE = re.compile(r"invalid choice: (?P<value>'(?:[^'\\]|\\.)*'|\S+) \(choose from (?P<choices>.*)\)$")
_UNRECOGNIZED = "unrecognized arguments: "


def close_matches(name: str, candidates: Iterable[str]) -> list[str]:
    """The (up to 3) candidates closest to ``name``, ignoring case (difflib), best first."""
    lowered = {candidate.lower(): candidate for candidate in candidates}
    return [lowered[match] for match in difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.6)]


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """`` (did you mean X or Y?)`` for the candidates closest to ``name``, else ``""``."""
    matches = close_matches(name, candidates)
    return f" (did you mean {' or '.join(matches)}?)" if matches else ""


class Parser(argparse.ArgumentParser):
    """An :class:`argparse.ArgumentParser` whose errors suggest close matches: a mistyped subcommand or choice
    (``wach`` → ``watch``) or option (``--jsn`` → ``--json``, looked up in every subcommand's options)."""

    def error(self, message: str) -> NoReturn:
        """Print the usage and ``message`` (with a suggestion when one is close), exit 2."""
        super().error(message + self._suggestion(message))

    def _suggestion(self, message: str) -> str:
        choice = _INVALID_CHOICE.search(message)
        if choice is not None:
            value = choice["value"].strip("'")
            choices = [item.strip().strip("'") for item in choice["choices"].split(",")]
            return did_you_mean(value, choices)
        if message.startswith(_UNRECOGNIZED):
            options = self._option_names()
            words = message.removeprefix(_UNRECOGNIZED).split()
            hints = {word: close_matches(word.split("=")[0], options) for word in words if word.startswith("--")}
            found = {word: matches[0] for word, matches in hints.items() if matches}
            if len(words) == 1 and found:
                return f" (did you mean {found[words[0]]}?)"
            return "".join(f"; {word}: did you mean {match}?" for word, match in found.items())
        return ""

    def _option_names(self) -> list[str]:
        """Every long option of this parser and its subcommands (argparse keeps them in ``_actions``)."""
        names: list[str] = []
        parsers: list[argparse.ArgumentParser] = [self]
        while parsers:
            parser = parsers.pop()
            for action in parser._actions:
                names.extend(option for option in action.option_strings if option.startswith("--"))
                if isinstance(action, argparse._SubParsersAction):
                    parsers.extend(action.choices.values())
        return names


# ── value parsers (argparse `type=`): each raises ArgumentTypeError, which argparse reports with exit 2 ────────


def _number(value: str, what: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number; {what}") from None
    if not math.isfinite(number) or number <= 0:
        raise argparse.ArgumentTypeError(f"{value!r}: {what}")
    return number


def speed(value: str) -> float:
    """A playback speed: a positive number (2: twice as fast), or ``max`` for as fast as possible (``math.inf``).
    NaN, infinities, zero and negatives are refused."""
    if value.strip().lower() == "max":
        return math.inf
    return _number(value, "the speed is a positive number (2: twice as fast), or max for as fast as possible")


def simulator_speed(value: str) -> float:
    """``--simulator-speed``: as :func:`speed`."""
    return speed(value)


def _shown(value: str) -> str:
    """``value`` for an error message: a URL's password and query values hidden (it may come from a variable)."""
    try:
        parts = urlsplit(value)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = "***@" + netloc.rpartition("@")[2]
        query = re.sub(r"=[^&]*", "=***", parts.query)
        return urlunsplit(parts._replace(netloc=netloc, query=query))
    except ValueError:
        return "<not a URL>"


def _url(value: str, schemes: tuple[str, ...], example: str) -> str:
    from tiktok_live._config import check_url

    try:
        return check_url(repr(_shown(value)), value, schemes)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{error} (e.g. {example})") from None


def origin_url(value: str) -> str:
    """``--web-url``, ``--webcast-url``, ``--sign-url`` (and their variables): an ``http(s)://host[:port]`` URL."""
    from tiktok_live._config import ORIGIN_SCHEMES

    return _url(value, ORIGIN_SCHEMES, "https://api.example.com")


def proxy_url(value: str) -> str:
    """``--proxy``: a proxy URL with a host (``http://``, ``https://``, ``socks5://``, ``socks5h://``,
    ``socks4://``), credentials allowed."""
    from tiktok_live._config import PROXY_SCHEMES

    return _url(value, PROXY_SCHEMES, "http://127.0.0.1:3128")


def writable_file(value: str) -> Path:
    """A file to create: its folder must exist and it must not be a folder (checked now, not after connecting)."""
    path = Path(value).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{value} is a folder; give a file name in it")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"{value}: the folder {path.parent} does not exist")
    return path


# ── option groups ────────────────────────────────────────────────────────────────────────────────────────────


def connection_options(parser: argparse.ArgumentParser) -> None:
    """Add the options that say where to connect (watch, record, serve, video)."""
    group = parser.add_argument_group("connection")
    group.add_argument("--sign-api-key", default=None, help="sign server API key (default: $SIGN_API_KEY)")
    group.add_argument(
        "--proxy",
        type=proxy_url,
        default=None,
        help="proxy for every request and the WebSocket: http://, https://, socks5://, socks5h://, socks4:// "
        '(SOCKS needs pip install "tiktok-live[socks]")',
    )
    group.add_argument(
        "--web-url",
        type=origin_url,
        default=os.environ.get("TIKTOK_LIVE_WEB_URL"),
        help="origin of TikTok's site (default: $TIKTOK_LIVE_WEB_URL, else https://www.tiktok.com)",
    )
    group.add_argument(
        "--webcast-url",
        type=origin_url,
        default=os.environ.get("TIKTOK_LIVE_WEBCAST_URL"),
        help="origin of TikTok's webcast API (default: $TIKTOK_LIVE_WEBCAST_URL, else https://webcast.tiktok.com)",
    )
    group.add_argument(
        "--sign-url",
        type=origin_url,
        default=os.environ.get("SIGN_API_URL"),
        help="origin of the sign server (default: $SIGN_API_URL, else https://api.eulerstream.com)",
    )
    group.add_argument("--simulator", action="store_true", help="connect to an embedded simulator, not TikTok")
    group.add_argument(
        "--simulator-speed",
        type=simulator_speed,
        default=1.0,
        metavar="SPEED",
        help="playback speed of --simulator's show: a positive number, or max (default %(default)s)",
    )


def output_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--events`` and ``--json``."""
    parser.add_argument("--events", default=None, help="comma-separated events, e.g. comment,gift,like (or all)")
    parser.add_argument("--json", action="store_true", help="print JSON Lines (schema v1) on stdout")
