"""Bytes -> events: push frames, fetch results (gzip by header or magic bytes, bounded) and message payloads.

I/O-free: the client feeds WebSocket bytes in and gets typed objects out. ``decode_message`` never raises; the
frame functions raise :class:`~tiktok_live.errors.FrameDecodeError` for input that is not a valid frame.
"""

from __future__ import annotations

import logging
import zlib
from typing import Final

from google.protobuf.message import DecodeError, Message

from tiktok_live._base import BaseEvent, ProtoEvent, UnknownEvent
from tiktok_live._generated.pb import transport_pb2, webcast_pb2
from tiktok_live._generated.registry import REGISTRY
from tiktok_live.errors import FrameDecodeError

__all__ = [
    "DEFAULT_MAX_DECOMPRESSED_SIZE",
    "decode_event",
    "decode_fetch_result",
    "decode_message",
    "decode_push_frame",
    "frame_header",
    "frame_payload",
]

logger = logging.getLogger(__name__)

GZIP_MAGIC: Final = b"\x1f\x8b\x08"
DEFAULT_MAX_DECOMPRESSED_SIZE: Final = 16 * 1024 * 1024
"""Upper bound on a decompressed frame payload (a gzip bomb stops here); real frames are a few KB to a few MB."""
MAX_GZIP_MEMBERS: Final = 1024
"""Upper bound on the gzip members of one payload (TikTok sends one; gzip allows several, concatenated)."""
_FIRST_GZIP_CHUNK: Final = 64
_MAX_GZIP_CHUNK: Final = 64 * 1024


def decode_message(method: str, payload: bytes, msg_id: int = 0) -> BaseEvent:
    """Decode one message payload with its method's event class; never raises.

    Returns the method's event (decoded eagerly), or an :class:`UnknownEvent` when no class knows ``method`` or
    when the payload does not decode (then ``decode_error`` says why, and a warning is logged by method and size).
    ``msg_id`` is the envelope's message id, kept on the event.
    """
    return decode_event(REGISTRY.get(method), method, payload, msg_id)


def decode_event(event_class: type[ProtoEvent[Message]] | None, method: str, payload: bytes, msg_id: int) -> BaseEvent:
    """:func:`decode_message` with the registry lookup done by the caller (``protocol.Session`` does it once)."""
    if event_class is None:
        return UnknownEvent(method, payload, None, msg_id)
    try:
        return event_class.from_bytes(payload, msg_id)
    except DecodeError as error:
        logger.warning("payload of %s (%d bytes) did not decode: %s", method, len(payload), error)
        return UnknownEvent(method, payload, error, msg_id)


def decode_push_frame(data: bytes) -> transport_pb2.PushFrame:
    """Parse one WebSocket binary message as a push frame; raises FrameDecodeError if it is not one."""
    frame = transport_pb2.PushFrame()
    try:
        frame.ParseFromString(data)
    except DecodeError as error:
        raise FrameDecodeError(f"not a push frame ({len(data)} bytes): {error}") from error
    return frame


def frame_header(frame: transport_pb2.PushFrame, key: str) -> str | None:
    """The value of push header ``key`` (the last one if repeated), or None."""
    value = None
    for header in frame.headers:
        if header.key == key:
            value = header.value
    return value


def frame_payload(frame: transport_pb2.PushFrame, max_size: int = DEFAULT_MAX_DECOMPRESSED_SIZE) -> bytes:
    """The frame's payload, gunzipped when the ``compress_type`` header says gzip or the bytes start with gzip's
    magic; at most ``max_size`` bytes after decompression (FrameDecodeError beyond, and on corrupt gzip)."""
    payload = frame.payload
    # The magic bytes first: TikTok gzips every msg frame, and reading the headers costs more than the check.
    if payload.startswith(GZIP_MAGIC) or frame_header(frame, "compress_type") == "gzip":
        return gunzip(payload, max_size)
    if len(payload) > max_size:
        raise FrameDecodeError(f"frame payload of {len(payload)} bytes exceeds the limit of {max_size}")
    return payload


def gunzip(data: bytes, max_size: int = DEFAULT_MAX_DECOMPRESSED_SIZE) -> bytes:
    """Decompress gzip data (one or more members), bounded by ``max_size`` output bytes.

    Raises FrameDecodeError when the data is corrupt, truncated, followed by garbage, holds more than
    :data:`MAX_GZIP_MEMBERS` members, or expands beyond the bound (decompression stops there: a gzip bomb never
    allocates more than ``max_size``). The work is linear in ``len(data)`` plus the output, however the input is cut
    into members: after the first, each member is fed from an offset into the input, in chunks that grow with the
    member, so what zlib copies out at its end (``unused_data``) is at most about twice its size."""
    view = memoryview(data)
    parts: list[bytes] = []
    size = offset = members = 0
    while True:  # one member per round: gzip allows several, concatenated
        if members == MAX_GZIP_MEMBERS:
            raise FrameDecodeError(
                f"gzip payload ({len(data)} bytes) has more than {MAX_GZIP_MEMBERS} gzip members; "
                "a real frame has one: the frame is skipped"
            )
        members += 1
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        # The first member (usually the only one) gets the whole input in one call; later ones get chunks that
        # grow from a few bytes, so a payload of many tiny members is not copied once per member.
        chunk = len(data) if members == 1 else _FIRST_GZIP_CHUNK
        while not decompressor.eof:
            if offset >= len(data):
                raise FrameDecodeError(f"truncated gzip payload ({len(data)} bytes)")
            piece = view[offset : offset + chunk]
            try:
                part = decompressor.decompress(piece, max_size - size + 1)
            except zlib.error as error:
                raise FrameDecodeError(f"corrupt gzip payload ({len(data)} bytes): {error}") from error
            size += len(part)
            if size > max_size:
                raise FrameDecodeError(f"gzip payload expands beyond the limit of {max_size} bytes")
            parts.append(part)
            # Below the output bound zlib consumed the whole piece, or stopped at the member's end: what it left
            # is in unused_data (a copy: of the rest of the input once, after the first member; then of a piece).
            offset += len(piece) - len(decompressor.unused_data)
            chunk = min(2 * chunk, _MAX_GZIP_CHUNK)
        if offset == len(data):
            return b"".join(parts)
        if not data.startswith(GZIP_MAGIC, offset):
            raise FrameDecodeError(f"{len(data) - offset} bytes of garbage after the gzip payload")


def decode_fetch_result(data: bytes) -> webcast_pb2.ProtoMessageFetchResult:
    """Parse a (decompressed) ``msg`` payload or sign-server body; raises FrameDecodeError if it is not one."""
    result = webcast_pb2.ProtoMessageFetchResult()
    try:
        result.ParseFromString(data)
    except DecodeError as error:
        raise FrameDecodeError(f"not a fetch result ({len(data)} bytes): {error}") from error
    return result
