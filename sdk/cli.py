"""The ``tiktok-live`` command: demo, watch, record, replay, events, serve (:mod:`tiktok_live.web`), info and gifts
(:mod:`tiktok_live.lookup_cli`).

Exit codes: 0 success, 2 usage error (or an unreadable recording), 3 user not found / offline / age-restricted,
4 sign server failure (including rate limits), 5 blocked by TikTok or connection failure, 130 interrupted.
Under ``--json`` stdout carries JSON Lines only (schema: :mod:`tiktok_live.jsonl`); status lines, errors and the
summary go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, TextIO, cast

from tiktok_live import errors
from tiktok_live._generated.names import EVENT_SETS
from tiktok_live.errors import UsageError

if TYPE_CHECKING:
    from google.protobuf.descriptor import FieldDescriptor
    from google.protobuf.message import Message

    from tiktok_live._base import BaseEvent
    from tiktok_live.client import TikTokLiveClient
    from tiktok_live.recording import Recorder
    from tiktok_live.testing import Simulator

__all__ = ["main"]

EXIT_OK: Final = 0
EXIT_USAGE: Final = 2
EXIT_USER: Final = 3
EXIT_SIGN: Final = 4
EXIT_CONNECTION: Final = 5
EXIT_INTERRUPTED: Final = 130

DEMO_SPEED: Final = 1.5
CORE_EVENTS: Final = EVENT_SETS["core"]
"""The events printed by default (codegen/events.toml's ``core`` set)."""
CONNECTION_EVENTS: Final = EVENT_SETS["cli_connection"]
"""The connection events printed by default."""


# ── event names ──────────────────────────────────────────────────────────────────────────────────────────────


def _key(name: str) -> str:
    return name.removesuffix("Event").replace("_", "").replace("-", "").lower()


def event_classes() -> dict[str, type[BaseEvent]]:
    """Every event class a client can emit, by class name: generated (from the registry), derived, connection."""
    from tiktok_live import events

    classes: dict[str, type[BaseEvent]] = {}
    for name in events.__all__:
        value = getattr(events, name)
        if isinstance(value, type) and issubclass(value, events.BaseEvent) and value is not events.BaseEvent:
            if value is not events.ProtoEvent:
                classes[name] = value
    return dict(sorted(classes.items()))


def resolve_events(spec: str | None, default: Iterable[str]) -> list[type[BaseEvent]]:
    """``comment,gift,room_user_seq`` (case-insensitive, ``Event`` optional; ``all`` for every event) -> classes."""
    classes = event_classes()
    by_key = {_key(name): cls for name, cls in classes.items()}
    if spec is None:
        return [classes[name] for name in default]
    chosen: list[type[BaseEvent]] = []
    for part in (piece.strip() for piece in spec.split(",")):
        if not part:
            continue
        if part.lower() == "all":
            chosen.extend(classes.values())
            continue
        cls = by_key.get(_key(part))
        if cls is None:
            close = [name for key, name in ((_key(n), n) for n in classes) if _key(part) in key][:5]
            hint = f" (did you mean {', '.join(close)}?)" if close else "; `tiktok-live events` lists them"
            raise UsageError(f"unknown event {part!r}{hint}")
        chosen.append(cls)
    return list(dict.fromkeys(chosen))


# ── output ───────────────────────────────────────────────────────────────────────────────────────────────────


class Style:
    """ANSI styling, on only for a terminal (and never with NO_COLOR set)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.enabled else text


@dataclass
class Stats:
    """Counters for the status line and the summary."""

    started: float = field(default_factory=time.monotonic)
    counts: Counter[str] = field(default_factory=Counter)
    messages: int = 0
    viewers: int = 0
    peak_viewers: int = 0
    likes: int = 0
    diamonds: int = 0
    reconnects: int = 0

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.messages / elapsed if elapsed > 0 else 0.0


class Printer:
    """Prints events as readable lines or JSON Lines, keeps the stats, draws the status line on a terminal."""

    def __init__(self, *, json_mode: bool, out: TextIO, err: TextIO, room_id: Callable[[], int | None]) -> None:
        self.json_mode = json_mode
        self.out = out
        self.err = err
        self.room_id = room_id
        self.stats = Stats()
        self.style = Style(out.isatty() and not json_mode and "NO_COLOR" not in os.environ)
        self.status_enabled = err.isatty() and "NO_COLOR" not in os.environ
        self._status_drawn = False
        self._last_status = 0.0
        self.closed_output = False
        """Set when stdout's reader went away (a closed pipe): nothing more is printed."""
        self.stop: Callable[[], None] | None = None

    def handle(self, event: BaseEvent) -> None:
        """Count, then print one event. When the reader of stdout has gone (``| head``), stop the client."""
        if self.closed_output:
            return
        self._count(event)
        try:
            if self.json_mode:
                from tiktok_live.jsonl import event_to_json

                self.out.write(event_to_json(event, room_id=self.room_id()) + "\n")
                self.out.flush()
            else:
                line = self.describe(event)
                if line is not None:
                    self._clear_status()
                    self.out.write(line + "\n")
                    self.out.flush()
        except BrokenPipeError:
            self.closed_output = True
            if self.stop is not None:
                self.stop()
            return
        self._status()

    def stop_client_on_closed_output(self, client: TikTokLiveClient) -> None:
        """When stdout's reader leaves, disconnect ``client`` (the command then ends normally)."""
        tasks: set[asyncio.Task[None]] = set()

        def stop() -> None:
            task = asyncio.get_running_loop().create_task(client.disconnect())
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        self.stop = stop

    def _count(self, event: BaseEvent) -> None:
        from tiktok_live import events

        stats = self.stats
        stats.counts[event.type] += 1
        if isinstance(event, events.ProtoEvent | events.UnknownEvent):
            stats.messages += 1
        if isinstance(event, events.RoomUserSeqEvent):
            stats.viewers = event.viewer_count
            stats.peak_viewers = max(stats.peak_viewers, stats.viewers)
        elif isinstance(event, events.LikeEvent):
            stats.likes += event.count
        elif isinstance(event, events.GiftEvent) and event.diamonds is not None:
            stats.diamonds += event.diamonds
        elif isinstance(event, events.ReconnectEvent):
            stats.reconnects += 1

    def describe(self, event: BaseEvent) -> str | None:
        """A readable line for ``event`` (None: nothing to print, e.g. a gift still streaking)."""
        from tiktok_live import events

        s = self.style
        stamp = s(time.strftime("%H:%M:%S"), "2")

        def name(user: object) -> str:
            nickname = getattr(user, "nickname", "") or "?"
            unique_id = getattr(user, "unique_id", "")
            return s(nickname, "1") + (s(f" @{unique_id}", "2") if unique_id else "")

        tag = event.type.removesuffix("Event").lower()
        text: str
        if isinstance(event, events.CommentEvent):
            text = f"{name(event.user)}: {event.comment}"
        elif isinstance(event, events.GiftEvent):
            if event.streaking:
                return None
            value = f"{event.diamonds} diamonds" + (f", ~${event.value:.2f}" if event.value else "")
            text = f"{name(event.from_user)} sent {event.repeat_count}x {s(event.gift.name, '35')} ({value})"
        elif isinstance(event, events.LikeEvent):
            text = f"{name(event.user)} liked x{event.count} (room total {event.total})"
        elif isinstance(event, events.JoinEvent):
            text = f"{name(event.user)} joined" + (f" ({event.member_count} viewers)" if event.member_count else "")
        elif isinstance(event, events.FollowEvent):
            text = f"{name(event.user)} followed the host"
        elif isinstance(event, events.ShareEvent):
            joined = f", {event.users_joined} joined" if event.users_joined else ""
            text = f"{name(event.user)} shared the LIVE{joined}"
        elif isinstance(event, events.RoomUserSeqEvent):
            text = f"{event.viewer_count} viewers now, {event.total_user} in total"
        elif isinstance(event, events.LiveEndEvent):
            text = s("the LIVE ended", "1;31")
        elif isinstance(event, events.LivePauseEvent):
            text = "the host paused the LIVE"
        elif isinstance(event, events.LiveUnpauseEvent):
            text = "the host resumed the LIVE"
        elif isinstance(event, events.ConnectEvent):
            text = s(f"connected to @{event.unique_id} (room {event.room_id})", "32")
        elif isinstance(event, events.DisconnectEvent):
            text = s(f"disconnected: {event.reason}", "33")
        elif isinstance(event, events.ReconnectEvent):
            text = s(f"reconnecting in {event.delay:.1f} s (attempt {event.attempt}; {event.reason})", "33")
        elif isinstance(event, events.ErrorEvent):
            text = s(f"error: {type(event.exception).__name__}: {event.exception}", "31")
        elif isinstance(event, events.UnknownEvent):
            text = f"{event.method} ({event.size} bytes{', undecodable' if event.decode_error else ''})"
        elif isinstance(event, events.SocialEvent | events.ControlEvent):
            return None  # shown through Follow/Share and LivePause/LiveUnpause/LiveEnd
        elif isinstance(event, events.LinkMicBattleEvent):
            text = f"battle {event.battle_id}: {_enum_name(event.proto, 'action')}"
        elif isinstance(event, events.PollEvent):
            text = f"poll {event.poll_id}: {_enum_name(event.proto, 'message_type')}"
        elif isinstance(event, events.GoalUpdateEvent):
            who_ = f"@{event.contributor_display_id} " if event.contributor_display_id else ""
            text = f"goal progress: {who_}+{event.contribute_count}"
        else:
            user: object = getattr(getattr(event, "proto", None), "user", None)
            user_id = getattr(user, "id", None)
            text = name(user) if isinstance(user_id, int) and user_id else event.type
        return f"{stamp} {s(f'{tag:<13}', '36')} {text}"

    def _status(self) -> None:
        if not self.status_enabled or self.json_mode:
            return
        now = time.monotonic()
        if now - self._last_status < 0.2:
            return
        self._last_status = now
        st = self.stats
        line = (
            f"{st.rate():6.1f} msg/s | viewers {st.viewers} | likes {st.likes} | diamonds {st.diamonds}"
            f" | reconnects {st.reconnects}"
        )
        self.err.write("\r\033[2K" + self.style(line, "7") if self.style.enabled else "\r\033[2K" + line)
        self.err.flush()
        self._status_drawn = True

    def _clear_status(self) -> None:
        if self._status_drawn:
            self.err.write("\r\033[2K")
            self.err.flush()
            self._status_drawn = False

    def summary(self) -> str:
        """The end-of-run summary (for stderr)."""
        st = self.stats
        elapsed = time.monotonic() - st.started
        top = ", ".join(f"{name.removesuffix('Event')} {count}" for name, count in st.counts.most_common(8))
        return (
            f"summary: {elapsed:.1f} s, {st.messages} messages ({st.rate():.1f}/s), peak viewers {st.peak_viewers}, "
            f"likes {st.likes}, diamonds {st.diamonds}, reconnects {st.reconnects}\n  events: {top or 'none'}"
        )

    def close(self) -> None:
        """Remove the status line."""
        self._clear_status()


# ── commands ─────────────────────────────────────────────────────────────────────────────────────────────────


def _client(
    args: argparse.Namespace, simulator: Simulator | None, recorder: Recorder | None = None
) -> TikTokLiveClient:
    from tiktok_live.client import ClientConfig, TikTokLiveClient
    from tiktok_live.lookup_cli import wait_options

    if simulator is not None:
        return simulator.client(recorder=recorder, **wait_options(args))
    config = ClientConfig(sign_api_key=args.sign_api_key, proxy=args.proxy).replace(**wait_options(args))
    urls = {option: getattr(args, option) for option in ("web_url", "webcast_url", "sign_url") if getattr(args, option)}
    return TikTokLiveClient(args.user, config=config.replace(**urls), recorder=recorder)


@contextlib.asynccontextmanager
async def _maybe_simulator(args: argparse.Namespace) -> AsyncIterator[Simulator | None]:
    """An embedded simulator serving the user's room with the default show when ``--simulator`` is given."""
    if not getattr(args, "simulator", False):
        yield None
        return
    from tiktok_live.client import normalize_unique_id
    from tiktok_live.testing import Simulator

    if args.simulator_speed <= 0:
        raise UsageError("--simulator-speed must be positive")
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


async def _watch(args: argparse.Namespace, printer: Printer) -> int:
    if len(args.user) > 1 or args.to is not None:
        from tiktok_live.export.cli import watch_many

        return await watch_many(args, printer, args.user, args.to)
    args.user = args.user[0]  # one room, no export: the single client
    classes = resolve_events(args.events, _default_events(args.json))
    async with _maybe_simulator(args) as simulator:
        client = _client(args, simulator)
        from tiktok_live.lookup_cli import waiting_note

        if (note := waiting_note(args, client.unique_id)) is not None:
            printer.err.write(note + "\n")
        printer.room_id = lambda: client.room_id
        printer.stop_client_on_closed_output(client)
        _subscribe(client, classes, printer)
        await client.connect()
    return EXIT_OK


async def _demo(args: argparse.Namespace, printer: Printer) -> int:
    from tiktok_live.testing import Simulator

    classes = resolve_events(args.events, _default_events(args.json))
    async with Simulator("simulator", scenario="default", speed=args.speed) as simulator:
        printer.err.write(
            f"tiktok-live demo: a scripted LIVE from the embedded simulator at {simulator.url} "
            "(no internet, no API key)\n"
        )
        client = simulator.client()
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


async def _record(args: argparse.Namespace, printer: Printer) -> int:
    from tiktok_live.client import normalize_unique_id
    from tiktok_live.recording import Recorder

    classes = resolve_events(args.events, _default_events(args.json))
    with Recorder(args.file, unique_id=normalize_unique_id(args.user), keep_cookies=args.keep_cookies) as recorder:
        async with _maybe_simulator(args) as simulator:
            client = _client(args, simulator, recorder=recorder)
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


async def _replay(args: argparse.Namespace, printer: Printer) -> int:
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


def _events_command(args: argparse.Namespace, out: TextIO) -> int:
    from tiktok_live import events

    classes = event_classes()
    if args.name is None:
        for name, cls in classes.items():
            out.write(f"{name:<42} {', '.join(_methods(cls)) or _kind(cls)}\n")
        out.write(f"\n{len(classes)} events; `tiktok-live events NAME` shows one\n")
        return EXIT_OK
    (cls,) = resolve_events(args.name, ())
    out.write(f"{cls.__name__}: {(cls.__doc__ or '').strip().splitlines()[0]}\n")
    methods = _methods(cls)
    out.write(f"wire methods: {', '.join(methods) if methods else _kind(cls)}\n")
    if issubclass(cls, events.ProtoEvent) and hasattr(cls, "PROTO"):
        out.write("fields:\n")
        proto_fields = cast("Sequence[FieldDescriptor]", cls.PROTO.DESCRIPTOR.fields)
        for proto_field in sorted(proto_fields, key=lambda f: f.number):
            attr = proto_field.name + ("_" if not hasattr(cls, proto_field.name) else "")
            out.write(f"  {attr:<36} {_field_type(proto_field):<40} #{proto_field.number}\n")
    props = [
        name
        for klass in cls.__mro__
        if klass.__module__ in ("tiktok_live._base", "tiktok_live._derived", "tiktok_live._connection")
        for name, value in vars(klass).items()
        if isinstance(value, property) and not name.startswith("_") and klass.__name__ not in _BASES
    ]
    if props:
        out.write(f"convenience: {', '.join(dict.fromkeys(props))}\n")
    return EXIT_OK


_BASES: Final = ("BaseEvent", "ProtoEvent")


def _enum_name(message: Message, field_name: str) -> str:
    """The name of an enum field's value (its number when the schema does not know it)."""
    proto_field = message.DESCRIPTOR.fields_by_name[field_name]
    number = getattr(message, field_name)
    value = proto_field.enum_type.values_by_number.get(number) if proto_field.enum_type is not None else None
    return value.name if value is not None else str(number)


def _methods(cls: type[BaseEvent]) -> tuple[str, ...]:
    from tiktok_live.events import ProtoEvent

    return cls.METHODS if issubclass(cls, ProtoEvent) else ()


def _kind(cls: type) -> str:
    module = cls.__module__
    if module.endswith("_derived"):
        return f"(derived from {cls.__mro__[1].__name__})"
    if module.endswith("_connection"):
        return "(connection event)"
    return "(any unknown method)" if cls.__name__ == "UnknownEvent" else ""


def _field_type(proto_field: FieldDescriptor) -> str:
    from google.protobuf.descriptor import FieldDescriptor

    if proto_field.message_type is not None:
        base = proto_field.message_type.name
        if proto_field.message_type.GetOptions().map_entry:
            key, value = proto_field.message_type.fields
            return f"map<{_field_type(key)}, {_field_type(value)}>"
    elif proto_field.enum_type is not None:
        base = proto_field.enum_type.name
    else:
        names = {
            FieldDescriptor.TYPE_STRING: "str",
            FieldDescriptor.TYPE_BOOL: "bool",
            FieldDescriptor.TYPE_BYTES: "bytes",
            FieldDescriptor.TYPE_DOUBLE: "float",
            FieldDescriptor.TYPE_FLOAT: "float",
        }
        base = names.get(proto_field.type, "int")
    return f"list[{base}]" if proto_field.is_repeated else base


# ── entry point ──────────────────────────────────────────────────────────────────────────────────────────────


def _connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument("--sign-api-key", default=None, help="sign server API key (default: $SIGN_API_KEY)")
    group.add_argument("--proxy", default=None, help="HTTP proxy for every request and the WebSocket")
    group.add_argument("--web-url", default=os.environ.get("TIKTOK_LIVE_WEB_URL"), help="origin of TikTok's site")
    group.add_argument(
        "--webcast-url", default=os.environ.get("TIKTOK_LIVE_WEBCAST_URL"), help="origin of TikTok's webcast API"
    )
    group.add_argument("--sign-url", default=os.environ.get("SIGN_API_URL"), help="origin of the sign server")
    group.add_argument("--simulator", action="store_true", help="connect to an embedded simulator, not TikTok")
    group.add_argument(
        "--simulator-speed", type=float, default=1.0, help="playback speed of --simulator's show (default %(default)s)"
    )


def _output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", default=None, help="comma-separated events, e.g. comment,gift,like (or all)")
    parser.add_argument("--json", action="store_true", help="print JSON Lines (schema v1) on stdout")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``tiktok-live``."""
    parser = argparse.ArgumentParser(prog="tiktok-live", description="Watch, record and replay TikTok LIVE streams.")
    parser.add_argument("--debug", action="store_true", help="debug logging and tracebacks")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="a scripted LIVE from the embedded simulator (no network)")
    demo.add_argument("--speed", type=float, default=DEMO_SPEED, help="playback speed (default %(default)s)")
    _output_options(demo)

    watch = commands.add_parser("watch", help="print rooms' events, or export them with --to")
    watch.add_argument("user", nargs="+", help="@handle of each host")
    _output_options(watch)
    _connection_options(watch)
    from tiktok_live.export.cli import add_watch_options  # light: the pool loads only when a command runs

    add_watch_options(watch)
    from tiktok_live.lookup_cli import add_wait_options
    from tiktok_live.lookup_cli import register as register_lookups

    add_wait_options(watch)

    record = commands.add_parser("record", help="save a session (every frame, both ways) to FILE")
    record.add_argument("user", help="@handle of the host")
    record.add_argument("file", type=Path, help="recording to write (gzip JSON Lines)")
    record.add_argument("--keep-cookies", action="store_true", help="keep session cookies in the file")
    _output_options(record)
    _connection_options(record)

    replay = commands.add_parser("replay", help="replay a recording through the normal event path")
    replay.add_argument("file", type=Path, help="a recording made by `tiktok-live record`")
    pace = replay.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=float, default=1.0, help="playback speed (default %(default)s)")
    pace.add_argument("--as-fast-as-possible", action="store_true", help="no waiting between frames")
    _output_options(replay)

    listing = commands.add_parser("events", help="list event types, or show one's fields")
    listing.add_argument("name", nargs="?", default=None, help="an event name, e.g. gift or GiftEvent")

    from tiktok_live.web.cli import register as register_serve

    register_serve(commands)
    register_lookups(commands)
    return parser


def _exit_code(error: BaseException) -> int:
    if isinstance(error, errors.UserNotFoundError | errors.UserOfflineError | errors.AgeRestrictedError):
        return EXIT_USER
    if isinstance(error, errors.SignAPIError):
        return EXIT_SIGN
    from tiktok_live.recording import RecordingError

    if isinstance(error, RecordingError):
        return EXIT_USAGE
    return EXIT_CONNECTION


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command line; returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        stream=err,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.command == "events":
        try:
            return _events_command(args, out)
        except UsageError as error:
            parser.error(str(error))
    printer = Printer(json_mode=args.json, out=out, err=err, room_id=lambda: None)
    from tiktok_live.lookup_cli import RUNNERS as LOOKUPS
    from tiktok_live.web.cli import run as serve

    commands = {"demo": _demo, "watch": _watch, "record": _record, "replay": _replay, "serve": serve, **LOOKUPS}
    runner = commands[args.command]
    code = EXIT_OK
    try:
        code = asyncio.run(runner(args, printer))
    except UsageError as error:
        printer.close()
        parser.error(str(error))
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except errors.TikTokLiveError as error:
        printer.close()
        if args.debug:
            logging.getLogger(__name__).exception("failed")
        err.write(f"tiktok-live: {error}\n")
        code = _exit_code(error)
    except ValueError as error:  # a bad @handle or option value
        printer.close()
        parser.error(str(error))
    finally:
        printer.close()
    if args.command not in LOOKUPS:  # lookups stream no events: no summary
        err.write(printer.summary() + "\n")
    return code


def main_exit() -> None:
    """Console-script entry point: run :func:`main` and exit with its code."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. `tiktok-live events | head`: the reader left, which is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_OK
    sys.exit(code)
