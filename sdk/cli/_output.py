"""What the commands print: readable lines or JSON Lines on stdout, a status line and the summary on stderr."""

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

__all__ = ["Printer", "Stats", "Style"]


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
        self.closed_output = False
        """Set when stdout's reader went away (a closed pipe): nothing more is printed."""
        self.stop: Callable[[], None] | None = None
        self.unknowns: UnknownTally | None = None
        """Set by ``--report-unknown``: its summary ends the run's summary."""

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
