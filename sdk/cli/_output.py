"""What the commands print: readable lines or JSON Lines on stdout, a status line and the summary on stderr.

Viewer text (nicknames, comments, gift names, anything from the network) goes through :func:`safe` before it
reaches a terminal: control characters, escape sequences and bidi overrides are shown as escapes, never
interpreted. JSON output escapes them by construction.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from google.protobuf.message import Message

    from tiktok_live._base import BaseEvent
    from tiktok_live.client import TikTokLiveClient
    from tiktok_live.schema.cli import UnknownTally

__all__ = ["Printer", "Stats", "Style", "safe"]


def _escape(code: int) -> str:
    named = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}
    return named.get(code) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


_UNSAFE = (
    *range(0x00, 0x20),  # C0 controls: ESC starts CSI/OSC sequences, CR rewrites the line, LF fakes one
    0x7F,
    *range(0x80, 0xA0),  # C1 controls: 0x9b is a one-byte CSI, 0x9d a one-byte OSC
    0x061C,  # the bidi marks and overrides: they reorder what follows on the line
    0x200E,
    0x200F,
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
    0x2028,  # line and paragraph separators
    0x2029,
)
_SAFE_TABLE = {code: _escape(code) for code in _UNSAFE}


def safe(text: object) -> str:
    """``text`` fit for a terminal: every control character (C0, DEL, C1), bidi override or line separator is
    replaced by its escape (``\\x1b``, ``\\r``, ``\\u202e``), so viewer text cannot move the cursor, clear the
    screen, set the window title, write the clipboard or fake a line. Printable text, emoji included, is
    unchanged."""
    return str(text).translate(_SAFE_TABLE)


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
        """Messages per second since the start."""
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
        from tiktok_live.jsonl import is_unicode_stream

        self._unicode_out = is_unicode_stream(out)
        self.closed_output = False
        """Set when stdout's reader went away (a closed pipe) or writing failed: nothing more is printed."""
        self.output_error: OSError | None = None
        """Why writing to stdout failed (a full disk, an I/O error); None when it did not, or the reader left."""
        self.stop: Callable[[], None] | None = None
        self.unknowns: UnknownTally | None = None
        """Set by ``--report-unknown``: its summary ends the run's summary."""

    @property
    def watched(self) -> bool:
        """Whether anything was watched (an event arrived): only then is a summary worth printing."""
        return bool(self.stats.counts)

    def handle(self, event: BaseEvent) -> None:
        """Count, then print one event. When stdout fails (its reader left, ``| head``; a full disk), stop the
        client."""
        if self.closed_output:
            return
        self._count(event)
        if self.json_mode:
            self.emit(self.json_line(event))
        else:
            line = self.describe(event)
            if line is not None:
                self._clear_status()
                self.emit(line)
        self._status()

    def json_line(self, event: BaseEvent) -> str:
        """``event`` as one JSON line (schema v1); non-ASCII characters as ``\\u`` escapes when stdout cannot
        encode them (``PYTHONIOENCODING=ascii``, a legacy code page), so no event is lost or mangled."""
        from tiktok_live.jsonl import escape_non_ascii, event_to_json

        line = event_to_json(event, room_id=self.room_id())
        return line if self._unicode_out else escape_non_ascii(line)

    def emit(self, line: str) -> None:
        """Write ``line`` and a newline to stdout and flush. When the reader has gone (a closed pipe) or the write
        fails (a full disk: :attr:`output_error`), stop printing and stop the client."""
        if self.closed_output:
            return
        try:
            self.out.write(line + "\n")
            self.out.flush()
        except BrokenPipeError:
            self._close_output(None)
        except OSError as error:
            self._close_output(error)

    def _close_output(self, error: OSError | None) -> None:
        self.closed_output = True
        self.output_error = error
        if self.stop is not None:
            self.stop()

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
            nickname = safe(getattr(user, "nickname", "") or "?")
            unique_id = safe(getattr(user, "unique_id", ""))
            return s(nickname, "1") + (s(f" @{unique_id}", "2") if unique_id else "")

        tag = event.type.removesuffix("Event").lower()
        text: str
        if isinstance(event, events.CommentEvent):
            text = f"{name(event.user)}: {safe(event.comment)}"
        elif isinstance(event, events.GiftEvent):
            if event.streaking:
                return None
            value = f"{event.diamonds} diamonds" + (f", ~${event.value:.2f}" if event.value else "")
            text = f"{name(event.from_user)} sent {event.repeat_count}x {s(safe(event.gift.name), '35')} ({value})"
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
            text = s(f"connected to @{safe(event.unique_id)} (room {event.room_id})", "32")
        elif isinstance(event, events.DisconnectEvent):
            text = s(f"disconnected: {safe(event.reason)}", "33")
        elif isinstance(event, events.ReconnectEvent):
            text = s(f"reconnecting in {event.delay:.1f} s (attempt {event.attempt}; {safe(event.reason)})", "33")
        elif isinstance(event, events.ErrorEvent):
            text = s(f"error: {type(event.exception).__name__}: {safe(event.exception)}", "31")
        elif isinstance(event, events.UnknownEvent):
            text = f"{safe(event.method)} ({event.size} bytes{', undecodable' if event.decode_error else ''})"
        elif isinstance(event, events.SocialEvent | events.ControlEvent):
            return None  # shown through Follow/Share and LivePause/LiveUnpause/LiveEnd
        elif isinstance(event, events.LinkMicBattleEvent):
            text = f"battle {event.battle_id}: {_enum_name(event.proto, 'action')}"
        elif isinstance(event, events.PollEvent):
            text = f"poll {event.poll_id}: {_enum_name(event.proto, 'message_type')}"
        elif isinstance(event, events.GoalUpdateEvent):
            who_ = f"@{safe(event.contributor_display_id)} " if event.contributor_display_id else ""
            text = f"goal progress: {who_}+{event.contribute_count}"
        else:
            user: object = getattr(getattr(event, "proto", None), "user", None)
            user_id = getattr(user, "id", None)
            text = name(user) if isinstance(user_id, int) and user_id else event.type
        return f"{stamp} {s(f'{safe(tag):<13}', '36')} {text}"

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
        ) + (f"\n{self.unknowns.summary()}" if self.unknowns is not None else "")

    def close(self) -> None:
        """Remove the status line."""
        self._clear_status()


def _enum_name(message: Message, field_name: str) -> str:
    """The name of an enum field's value (its number when the schema does not know it)."""
    proto_field = message.DESCRIPTOR.fields_by_name[field_name]
    number = getattr(message, field_name)
    value = proto_field.enum_type.values_by_number.get(number) if proto_field.enum_type is not None else None
    return value.name if value is not None else str(number)
