"""The script's ``msg`` frames as bytes, and the cache that renders them once (``Simulator(prerender=True)``).

A ``msg`` frame's costly part, its gzip fetch result, depends only on the host, its LIVE and the step's position:
the msg ids (a pure function of seed, LIVE, position and index), the cursor (position + 1), the internal_ext
(the position), the room id and the step's messages; only ``now`` and the messages' ``create_time`` read the wall
clock. What belongs to one connection is added when the frame is sent: the seq_id and log_id that lead the push
frame, and any fault aimed at the step (such a step is rendered afresh for that connection).

A push frame's fields serialize in field-number order, seq_id (1) and log_id (2) first, so a frame is the
connection's ``PushFrame(seq_id, log_id)`` bytes followed by the rendered rest: the bytes a whole ``PushFrame``
would serialize to.
"""

from __future__ import annotations

import gzip
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from tiktok_live._generated.pb import transport_pb2, webcast_pb2

if TYPE_CHECKING:
    from tiktok_live.testing._scenario import Step
    from tiktok_live.testing._server import Simulator

__all__ = [
    "CORRUPT_PREFIX",
    "UNKNOWN_METHOD",
    "FrameCache",
    "RenderedFrame",
    "push_body",
    "render_frame",
    "render_messages",
    "render_step",
    "wall_ms",
]

UNKNOWN_METHOD: Final = "WebcastSimulatorUnknownMessage"
"""The method name of the extra message the ``unknown_method_at`` fault adds."""
CORRUPT_PREFIX: Final = b"\x0a\xff\xff\xff\x07"
"""Prepended to a payload by ``corrupt_message_at``: field 1 claims ~268 MB, so no message class can decode it."""

_FetchResult = webcast_pb2.ProtoMessageFetchResult
_Message = webcast_pb2.ProtoMessageFetchResult.BaseProtoMessage
_GZIP_LEVEL: Final = 6
"""zlib's default level, the one TikTok's frames show (gzip.compress defaults to 9: slower, hardly smaller)."""
_LATER_FRAMES: Final = 4096
"""Frames of a loop's later passes kept at least (more for a longer script: one pass's worth)."""


def wall_ms() -> int:
    """The wall clock in milliseconds, for ``now`` and ``create_time`` (one function: tests pin it)."""
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class RenderedFrame:
    """A ``msg`` frame without what belongs to its connection: the serialized push-frame fields after seq_id and
    log_id, and the internal_ext its ack must carry."""

    body: bytes
    internal_ext: str


def push_body(payload_type: str, payload: bytes, headers: Iterable[tuple[str, str]] = ()) -> bytes:
    """The serialized fields of a push frame after seq_id and log_id (service, method, headers, encoding, type,
    payload), as TikTok's push server fills them."""
    frame = transport_pb2.PushFrame(
        service=1, method=1, payload_encoding="pb", payload_type=payload_type, payload=payload
    )
    for key, value in headers:
        frame.headers.add(key=key, value=value)
    return frame.SerializeToString()


def render_messages(
    sim: Simulator,
    position: int,
    step: Step,
    create_time: int,
    *,
    corrupt_index: int | None = None,
    unknown_method: bool = False,
) -> list[_Message]:
    """The messages of the step at ``position``: each spec rendered with its msg id, the room id and
    ``create_time``; ``corrupt_index`` and ``unknown_method`` are the faults that change them."""
    room_id = sim.room_id
    messages = []
    for index, spec in enumerate(step.messages):
        msg_id = sim._msg_id(position, index)
        payload = spec.render(msg_id=msg_id, room_id=room_id, create_time=create_time)
        if corrupt_index == index:
            payload = CORRUPT_PREFIX + payload
        messages.append(_Message(method=spec.method, payload=payload, msg_id=msg_id, msg_type=0))
    if unknown_method:
        msg_id = sim._msg_id(position, len(step.messages))
        common = webcast_pb2.CommonMessageData(
            method=UNKNOWN_METHOD, msg_id=msg_id, room_id=room_id, create_time=create_time
        )
        payload = webcast_pb2.WebcastChatMessage(common=common).SerializeToString()  # field 1 = common
        messages.append(_Message(method=UNKNOWN_METHOD, payload=payload, msg_id=msg_id))
    for offset, message in enumerate(messages):
        message.offset = offset
    return messages


def render_frame(
    sim: Simulator, position: int, messages: list[_Message], now: int, *, suffix: str = "", truncated: bool = False
) -> RenderedFrame:
    """The ``msg`` frame of the step at ``position`` carrying ``messages``: a gzip fetch result needing an ack,
    its cursor, internal_ext (``suffix`` appended) and ``now`` repeated in the headers; ``truncated`` cuts the
    gzip payload in half (a fault: no ack can be expected for it)."""
    result = _FetchResult(
        messages=messages,
        cursor=sim._cursor(position + 1),
        internal_ext=f"internal_src:sim|seq:{position + 1}{suffix}",
        now=now,
        need_ack=True,
        heartbeat_duration=10_000,
        fetch_interval=0,
    )
    payload = gzip.compress(result.SerializeToString(), compresslevel=_GZIP_LEVEL, mtime=0)
    if truncated:
        payload = payload[: max(len(payload) // 2, 1)]
    headers = (
        ("compress_type", "gzip"),
        ("im-cursor", result.cursor),
        ("im-internal_ext", result.internal_ext),
        ("im-now", str(now)),
    )
    return RenderedFrame(push_body("msg", payload, headers), result.internal_ext)


def render_step(sim: Simulator, position: int, step: Step, now: int) -> RenderedFrame:
    """The ``msg`` frame of ``step``, the step at ``position``, as of ``now`` (ms), with no fault applied: what the
    cache holds, and what a connection renders at send time when the cache has nothing for the step."""
    return render_frame(sim, position, render_messages(sim, position, step, now), now)


class FrameCache:
    """The ``msg`` frames of one host's current script, rendered once and shared by every connection.

    :meth:`refresh` renders the steps not yet rendered; a new LIVE, room id, seed or loop setting, or a new
    script (not an appended step), drops every frame first. :meth:`get` answers only while the frames still
    match the host, so a change the cache was not told of costs a render, never a stale frame. In loop mode, the
    passes after the first (each with msg ids of its own) are rendered when first asked for and kept for the
    other connections: the latest of them, one pass's worth or 4,096 frames, whichever is more.
    """

    def __init__(self) -> None:
        self._key: tuple[object, ...] = ()
        self._steps: list[Step] | None = None
        self._frames: list[RenderedFrame | None] = []
        self._later: OrderedDict[int, RenderedFrame] = OrderedDict()

    def __len__(self) -> int:
        return len(self._frames) + len(self._later)

    def clear(self) -> None:
        """Drop every frame."""
        self._key, self._steps = (), None
        self._frames = []
        self._later.clear()

    def refresh(self, sim: Simulator) -> int:
        """Render every step of ``sim``'s script not rendered yet (all of them when what they depend on
        changed); returns how many were rendered."""
        if not self._matches(sim):
            self.clear()
            self._key, self._steps = _key(sim), sim._steps
        start = len(self._frames)
        if start == len(sim._steps):
            return 0
        self._later.clear()  # appended steps move where the loop's later passes fall
        now = wall_ms()
        for position in range(start, len(sim._steps)):
            step = sim._step_at(position)
            self._frames.append(render_step(sim, position, step, now) if step and step.messages else None)
        return len(sim._steps) - start

    def get(self, sim: Simulator, position: int, step: Step) -> RenderedFrame | None:
        """The frame of ``step``, the step at ``position`` of ``sim``'s script; None when it is not rendered (or
        no longer matches ``sim``)."""
        if not self._matches(sim):
            return None
        frames = self._frames
        if position < len(frames):
            return frames[position]
        if not sim.loop or len(frames) != len(sim._steps) or not frames:
            return None
        rendered = self._later.get(position)
        if rendered is None:
            rendered = self._later[position] = render_step(sim, position, step, wall_ms())
            if len(self._later) > max(len(frames), _LATER_FRAMES):
                self._later.popitem(last=False)
        return rendered

    def _matches(self, sim: Simulator) -> bool:
        return self._steps is sim._steps and self._key == _key(sim)


def _key(sim: Simulator) -> tuple[object, ...]:
    """What a rendered frame depends on besides its step (the steps list itself is compared by identity)."""
    return (sim._live, sim.room_id, sim.seed, sim.loop, sim._id_base, sim._lives_per_range)
