"""The push protocol of one TikTok LIVE room, without I/O: bytes in, typed events and bytes to send out.

:class:`Session` is the whole protocol state of one room (cursor, ``internal_ext``, the duplicate window, the
heartbeat sequence). It never touches a socket, a clock or an event loop, so any transport can drive it — the
client's aiohttp WebSocket, a replayed recording, a benchmark corpus, frames captured by another program, or a
worker that took the room over from another machine (:meth:`Session.snapshot` / :meth:`Session.restore`)::

    from tiktok_live.protocol import Session
    from tiktok_live.events import CommentEvent

    session = Session(wanted={CommentEvent})
    for data in frames_captured_elsewhere:          # each: one WebSocket binary message from TikTok
        received = session.receive(data)
        if received.ack is not None:
            send(received.ack)                       # a live transport sends it back at once
        for event in received.events:
            print(event.user.nickname, event.comment)
        if received.ended:
            break

The frames a client sends are built here too: :meth:`Session.enter_room` once the socket is open, then
:meth:`Session.heartbeat` every few seconds (TikTok announces the period in the handshake's ``Handshake-Options:
ping-interval=…`` header; 10 s otherwise).

What :meth:`Session.receive` does with one message: parse the push frame; ignore anything but ``msg`` frames;
gunzip the payload (``compress_type: gzip`` header, or gzip's magic bytes); parse the fetch result; build the ack
when TikTok asks for one (``need_ack``: a push frame of type ``ack`` whose payload is the new ``internal_ext``
and whose ``log_id`` is the frame's); remember the new cursor and ``internal_ext`` (a reconnect resumes from
them); drop messages whose ``msg_id`` it has already seen (TikTok resends history after a reconnect); decode each
wanted message with its event class; append the derived events (``FollowEvent`` after its ``SocialEvent``,
``LiveEndEvent`` after its ``ControlEvent``, …). A frame that cannot be read is reported in ``Received.error``;
``receive`` itself never raises.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, NamedTuple, TypeVar

from google.protobuf.message import DecodeError

from tiktok_live._base import BaseEvent, UnknownEvent
from tiktok_live._derived import DERIVED, LiveEndEvent, derive
from tiktok_live._generated.events import ControlEvent
from tiktok_live._generated.pb import transport_pb2, webcast_pb2
from tiktok_live._generated.registry import REGISTRY
from tiktok_live._protocol import DEFAULT_MAX_DECOMPRESSED_SIZE, decode_event, frame_payload
from tiktok_live.errors import FrameDecodeError, SnapshotError

__all__ = ["DEFAULT_DEDUPE_SIZE", "SNAPSHOT_VERSION", "Received", "Session"]

DEFAULT_DEDUPE_SIZE: Final = 10_000
"""How many recent ``msg_id`` s a session remembers to drop duplicates (about 100 bytes each)."""
SNAPSHOT_VERSION: Final = 1
"""The version of :meth:`Session.snapshot`'s format; :meth:`Session.restore` refuses others."""

_NO_EVENTS: Final[tuple[BaseEvent, ...]] = ()
_T = TypeVar("_T")


class Received(NamedTuple):
    """What one received WebSocket message produced (a named tuple: immutable, and cheap to make per frame).

    ``events``: the decoded events in emission order (generated events, ``UnknownEvent`` s and derived events;
    only the classes the session wants; duplicates dropped). ``ack``: the bytes to send back at once, or None.
    ``cursor`` and ``internal_ext``: the session's stream position after this message. ``ended``: the stream's
    end has been seen (in this message or before). ``duplicates``: messages dropped as already seen.
    ``messages``: messages the frame carried. ``payload_type``: the push frame's type (``"msg"`` for messages;
    others carry no events). ``error``: why the frame could not be read (then nothing else happened), else None.
    """

    events: tuple[BaseEvent, ...]
    ack: bytes | None
    cursor: str
    internal_ext: str
    ended: bool
    duplicates: int = 0
    messages: int = 0
    payload_type: str = ""
    error: FrameDecodeError | None = None


class Session:
    """One room's push-protocol state; feed it every binary WebSocket message with :meth:`receive`.

    ``wanted``: the event classes to decode and return (generated, derived, ``UnknownEvent``); None means every
    class. A message whose class nobody wants is skipped without decoding (lazy dispatch); the sources of wanted
    derived events are decoded as needed, and ``ControlEvent`` always is, so ``ended`` is exact whatever is wanted.
    ``dedupe_size``: how many recent ``msg_id`` s to remember. ``max_decompressed_size``: the bound on one frame's
    gunzipped payload (a larger one is an error, not an allocation).
    """

    __slots__ = (
        "_decode",
        "_emit",
        "_order",
        "_seen",
        "_wanted",
        "cursor",
        "decoded",
        "dedupe_size",
        "ended",
        "heartbeats",
        "internal_ext",
        "max_decompressed_size",
        "room_id",
    )

    def __init__(
        self,
        wanted: Iterable[type[BaseEvent]] | None = None,
        dedupe_size: int = DEFAULT_DEDUPE_SIZE,
        *,
        max_decompressed_size: int = DEFAULT_MAX_DECOMPRESSED_SIZE,
        room_id: int = 0,
    ) -> None:
        if dedupe_size < 0:
            raise ValueError("dedupe_size cannot be negative")
        if max_decompressed_size < 1:
            raise ValueError("max_decompressed_size must be positive")
        self.dedupe_size = dedupe_size
        self.max_decompressed_size = max_decompressed_size
        self.room_id = room_id
        """The room this session reads (kept in snapshots; set by :meth:`enter_room` and :meth:`heartbeat`)."""
        self.cursor = ""
        """The stream position TikTok gave last: a reconnect passes it back to resume."""
        self.internal_ext = ""
        """TikTok's opaque resume state, echoed in acks and passed back on reconnect."""
        self.ended = False
        """Whether the stream's end (``ControlEvent`` action 3 or 4) has been seen."""
        self.decoded = 0
        """How many message payloads this session decoded (lazy dispatch skips unwanted ones)."""
        self.heartbeats = 0
        """Heartbeats built since the last :meth:`enter_room` (the last one's sequence number)."""
        self._seen: set[int] = set()
        self._order: deque[int] = deque()
        self._wanted: frozenset[type[BaseEvent]] | None = None
        self._decode: frozenset[type[BaseEvent]] | None = None
        self._emit: frozenset[type[BaseEvent]] | None = None
        self.wanted = None if wanted is None else frozenset(wanted)

    # ── what to decode ──────────────────────────────────────────────────────────────────────────────────────────

    @property
    def wanted(self) -> frozenset[type[BaseEvent]] | None:
        """The event classes :meth:`receive` returns; None for every class. Assign to change it at any time."""
        return self._wanted

    @wanted.setter
    def wanted(self, wanted: Iterable[type[BaseEvent]] | None) -> None:
        if wanted is None:
            self._wanted = self._decode = self._emit = None
            return
        emit = frozenset(wanted)
        decode = set(emit) | {ControlEvent}
        for source, derived in DERIVED.items():
            if not emit.isdisjoint(derived):
                decode.add(source)
        self._wanted = self._emit = emit
        self._decode = frozenset(decode)

    # ── bytes in ────────────────────────────────────────────────────────────────────────────────────────────────

    def receive(self, data: bytes) -> Received:
        """Handle one binary WebSocket message from TikTok (a push frame). Never raises: a frame that cannot be
        read comes back with ``error`` set and changes nothing."""
        frame = transport_pb2.PushFrame()
        try:
            frame.ParseFromString(data)
            payload_type = frame.payload_type
            if payload_type != "msg":
                return Received(_NO_EVENTS, None, self.cursor, self.internal_ext, self.ended, payload_type=payload_type)
            result = webcast_pb2.ProtoMessageFetchResult()
            result.ParseFromString(frame_payload(frame, self.max_decompressed_size))
        except DecodeError as error:
            return self._unreadable(
                FrameDecodeError(f"not a push frame with a fetch result ({len(data)} bytes)"), error
            )
        except FrameDecodeError as error:
            return self._unreadable(error, None)
        ack = None
        if result.need_ack:
            ack = transport_pb2.PushFrame(
                payload_encoding="pb",
                payload_type="ack",
                payload=(result.internal_ext or "-").encode(),
                log_id=frame.log_id,
            ).SerializeToString()
        return self._result(result, ack, payload_type)

    def receive_fetch_result(self, data: bytes) -> Received:
        """Handle a bare fetch result (not wrapped in a push frame): the first messages that come with the sign
        server's connection bundle, or a polled ``/webcast/im/fetch/`` answer. Nothing is acked. Never raises."""
        result = webcast_pb2.ProtoMessageFetchResult()
        try:
            result.ParseFromString(data)
        except DecodeError as error:
            return self._unreadable(FrameDecodeError(f"not a fetch result ({len(data)} bytes)"), error)
        return self._result(result, None, "msg")

    def _unreadable(self, error: FrameDecodeError, cause: BaseException | None) -> Received:
        if cause is not None:
            error.__cause__ = cause
        return Received(_NO_EVENTS, None, self.cursor, self.internal_ext, self.ended, error=error)

    def _result(self, result: webcast_pb2.ProtoMessageFetchResult, ack: bytes | None, payload_type: str) -> Received:
        if result.cursor:
            self.cursor = result.cursor
        if result.internal_ext:
            self.internal_ext = result.internal_ext
        messages = result.messages
        events, duplicates = self._messages(messages)
        return Received(
            events, ack, self.cursor, self.internal_ext, self.ended, duplicates, len(messages), payload_type
        )

    def _messages(
        self, messages: Sequence[webcast_pb2.ProtoMessageFetchResult.BaseProtoMessage]
    ) -> tuple[tuple[BaseEvent, ...], int]:
        """Dedupe, decode and derive: the hot path (one call per frame; locals for speed)."""
        seen, order, limit = self._seen, self._order, self.dedupe_size
        decode, emit = self._decode, self._emit
        emit_unknown = emit is None or UnknownEvent in emit
        registry_get = REGISTRY.get
        derived_from = DERIVED
        events: list[BaseEvent] = []
        append = events.append
        duplicates = decoded = 0
        for message in messages:
            msg_id = message.msg_id
            if msg_id:
                if msg_id in seen:
                    duplicates += 1
                    continue
                if limit:
                    seen.add(msg_id)
                    order.append(msg_id)
                    if len(order) > limit:
                        seen.discard(order.popleft())
            method = message.method
            event_class = registry_get(method)
            if event_class is None:
                if emit_unknown:
                    append(UnknownEvent(method, message.payload, None, msg_id))
                continue
            if decode is not None and event_class not in decode:
                continue
            decoded += 1
            event = decode_event(event_class, method, message.payload, msg_id)
            if type(event) is UnknownEvent:  # the payload did not decode
                if emit_unknown:
                    append(event)
                continue
            if emit is None or event_class in emit:
                append(event)
            if event_class in derived_from:
                for derived in derive(event):
                    if type(derived) is LiveEndEvent:
                        self.ended = True
                    if emit is None or type(derived) in emit:
                        append(derived)
        self.decoded += decoded
        return tuple(events), duplicates

    # ── bytes out ───────────────────────────────────────────────────────────────────────────────────────────────

    def enter_room(self, room_id: int) -> bytes:
        """The frame a client sends right after each socket opens: join ``room_id`` as an audience member. The
        heartbeat sequence starts over: the next :meth:`heartbeat` is number 1 again."""
        self.room_id = room_id
        self.heartbeats = 0
        message = transport_pb2.EnterRoomMessage(
            room_id=room_id, live_id=12, identity="audience", filter_welcome_msg="0", enter_unique_id=0
        )
        return _push_frame("im_enter_room", message.SerializeToString())

    def heartbeat(self, room_id: int) -> bytes:
        """The next heartbeat frame for ``room_id`` (sequence numbers count up from 1 on each socket, after
        :meth:`enter_room`). TikTok closes a socket that stops sending them."""
        self.room_id = room_id
        self.heartbeats += 1
        beat = transport_pb2.HeartbeatMessage(room_id=room_id, send_packet_seq_id=self.heartbeats)
        return _push_frame("hb", beat.SerializeToString())

    # ── moving a room ───────────────────────────────────────────────────────────────────────────────────────────

    def seen(self, msg_id: int) -> bool:
        """Whether ``msg_id`` is in the duplicate window (a message with it would be dropped)."""
        return msg_id in self._seen

    def snapshot(self, *, seen: bool = True) -> dict[str, object]:
        """The session's state as a JSON-serialisable dict: room id, cursor, ``internal_ext``, ended, and the
        duplicate window (oldest first). :meth:`restore` rebuilds a session that drops exactly the duplicates this
        one would; hand a room to another process or machine with it.

        ``seen=False`` leaves the duplicate window out (``"seen": []``): for a store that keeps the window apart
        and appends each frame's new ids (a fleet worker does), copying thousands of ids per frame would be waste.
        Put the window back under ``"seen"`` before :meth:`restore`."""
        return {
            "version": SNAPSHOT_VERSION,
            "room_id": self.room_id,
            "cursor": self.cursor,
            "internal_ext": self.internal_ext,
            "ended": self.ended,
            "dedupe_size": self.dedupe_size,
            "heartbeats": self.heartbeats,
            "seen": list(self._order) if seen else [],
        }

    @classmethod
    def restore(
        cls,
        snapshot: Mapping[str, object],
        wanted: Iterable[type[BaseEvent]] | None = None,
        *,
        max_decompressed_size: int = DEFAULT_MAX_DECOMPRESSED_SIZE,
    ) -> Session:
        """A session in the state :meth:`snapshot` described. Raises :class:`~tiktok_live.errors.SnapshotError`
        when ``snapshot`` is not one (wrong version, missing or mistyped keys)."""
        if not isinstance(snapshot, Mapping) or snapshot.get("version") != SNAPSHOT_VERSION:  # type: ignore[redundant-expr]  # untrusted input
            raise SnapshotError(f"not a session snapshot of version {SNAPSHOT_VERSION}")
        room_id = _typed(snapshot, "room_id", int)
        dedupe_size = _typed(snapshot, "dedupe_size", int)
        heartbeats = _typed(snapshot, "heartbeats", int)
        cursor = _typed(snapshot, "cursor", str)
        internal_ext = _typed(snapshot, "internal_ext", str)
        ended = _typed(snapshot, "ended", bool)
        seen = snapshot.get("seen")
        if not isinstance(seen, list) or not all(type(item) is int for item in seen):
            raise SnapshotError("snapshot key 'seen' must be a list of message ids")
        if dedupe_size < 0 or room_id < 0 or heartbeats < 0:
            raise SnapshotError("snapshot numbers cannot be negative")
        session = cls(wanted, dedupe_size, max_decompressed_size=max_decompressed_size, room_id=room_id)
        session.cursor, session.internal_ext, session.ended, session.heartbeats = (
            cursor,
            internal_ext,
            ended,
            heartbeats,
        )
        kept = seen[max(0, len(seen) - dedupe_size) :] if dedupe_size else []  # the newest, oldest first
        session._order.extend(kept)
        session._seen.update(kept)
        return session

    def __repr__(self) -> str:
        return (
            f"<Session room_id={self.room_id} cursor={self.cursor!r} seen={len(self._order)}/{self.dedupe_size}"
            f"{' ended' if self.ended else ''}>"
        )


def _typed(snapshot: Mapping[str, object], key: str, kind: type[_T]) -> _T:
    value = snapshot.get(key)
    if type(value) is not kind:
        raise SnapshotError(f"snapshot key {key!r} must be {kind.__name__}, not {type(value).__name__}")
    return value


def _push_frame(payload_type: str, payload: bytes) -> bytes:
    return transport_pb2.PushFrame(
        payload_encoding="pb", payload_type=payload_type, payload=payload
    ).SerializeToString()
