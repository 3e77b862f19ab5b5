"""Push frames for tests, built with the generated ``_pb2`` classes and the simulator's message builders.

A :class:`Wire` is one message as TikTok's envelope carries it (method, payload, ``msg_id``); :func:`msg_frame`
packs several into one ``msg`` push frame the way TikTok does (a fetch result, gzip by header, by magic bytes
alone, or not at all). :func:`expected` says what a :class:`~tiktok_live.protocol.Session` wanting every class
must make of one message, computed with ``decode_message`` and ``derive`` (the reference the session must match).
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from tiktok_live._base import BaseEvent, UnknownEvent
from tiktok_live._derived import derive
from tiktok_live._generated.pb import transport_pb2, webcast_pb2
from tiktok_live._protocol import decode_message
from tiktok_live.testing import MessageSpec

ROOM_ID: Final = 7_400_000_000_000_000_001
CREATE_TIME: Final = 1_700_000_000_000
Compression: TypeAlias = Literal["gzip-header", "gzip-magic", "plain"]
COMPRESSIONS: Final[tuple[Compression, ...]] = ("gzip-header", "gzip-magic", "plain")
"""``gzip-header``: gzip with ``compress_type: gzip``; ``gzip-magic``: gzip without the header (the magic bytes
decide); ``plain``: an uncompressed fetch result."""


@dataclass(frozen=True, slots=True)
class Wire:
    """One message as sent in a fetch result: its method, payload and envelope ``msg_id``."""

    method: str
    payload: bytes
    msg_id: int


def wire(spec: MessageSpec, msg_id: int) -> Wire:
    """``spec`` rendered as the simulator sends it, under envelope id ``msg_id``."""
    return Wire(spec.method, spec.render(msg_id=msg_id, room_id=ROOM_ID, create_time=CREATE_TIME), msg_id)


def fetch_result(
    messages: Iterable[Wire], *, cursor: str = "", internal_ext: str = "", need_ack: bool = False
) -> bytes:
    """A serialized ``ProtoMessageFetchResult`` holding ``messages`` in order."""
    result = webcast_pb2.ProtoMessageFetchResult(cursor=cursor, internal_ext=internal_ext, need_ack=need_ack)
    for message in messages:
        result.messages.add(method=message.method, payload=message.payload, msg_id=message.msg_id)
    return result.SerializeToString()


def push_frame(
    payload: bytes,
    *,
    payload_type: str = "msg",
    compression: Compression = "plain",
    log_id: int = 0,
    seq_id: int = 0,
) -> bytes:
    """A serialized push frame carrying ``payload`` (compressed as ``compression`` says)."""
    frame = transport_pb2.PushFrame(
        seq_id=seq_id, log_id=log_id, payload_encoding="pb", payload_type=payload_type, service=1, method=1
    )
    if compression == "plain":
        frame.payload = payload
    else:
        frame.payload = gzip.compress(payload, mtime=0)
        if compression == "gzip-header":
            frame.headers.add(key="compress_type", value="gzip")
    return frame.SerializeToString()


def msg_frame(
    messages: Sequence[Wire],
    *,
    cursor: str = "",
    internal_ext: str = "",
    need_ack: bool = False,
    compression: Compression = "gzip-header",
    log_id: int = 0,
) -> bytes:
    """A ``msg`` push frame holding ``messages``, as TikTok sends one."""
    result = fetch_result(messages, cursor=cursor, internal_ext=internal_ext, need_ack=need_ack)
    return push_frame(result, compression=compression, log_id=log_id)


def ack_of(data: bytes) -> transport_pb2.PushFrame:
    """Parse an ack a session built."""
    return transport_pb2.PushFrame.FromString(data)


def key(event: BaseEvent) -> tuple[object, ...]:
    """What identifies an event for comparisons: its class, payload and ``msg_id`` (and method when unknown)."""
    method = event.method if isinstance(event, UnknownEvent) else None
    return (type(event), event.bytes, event.msg_id, method)


def expected(message: Wire) -> list[tuple[object, ...]]:
    """The keys of the events a session wanting every class emits for ``message``: the decoded event (or
    ``UnknownEvent``), then its derived events."""
    event = decode_message(message.method, message.payload, message.msg_id)
    events = [event] if isinstance(event, UnknownEvent) else [event, *derive(event)]
    return [key(item) for item in events]
