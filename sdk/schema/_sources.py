"""Where ``schema unknowns`` reads messages from: recordings, folders of payload files, JSON Lines.

- A recording (``tiktok-live record``; gzip JSON Lines with a ``tiktok-live-recording`` header): every received
  frame is decoded as the client does (push frame -> fetch result -> messages, duplicates by message id skipped);
  the transport envelopes are surveyed too.
- A folder: every ``*.bin`` file in it is one message payload, its method taken from the file name
  (``WebcastChatMessage.bin``, or ``020_WebcastChatMessage_88a0232f.bin``: a numeric prefix and a hex suffix are
  dropped). One such file can be given on its own.
- Any other file (gzip or not): JSON Lines. A record with ``method`` and ``payload`` (base64, optionally prefixed
  ``base64:``) is a payload; JSON Lines events (``watch --json``, exports) are read as far as they allow: unknown
  methods from ``UnknownEvent`` records (with their payload, or their field view in older files); decoded events
  keep only declared fields, so they are counted as not checked.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final, TypeAlias, cast

from google.protobuf.message import Message

from tiktok_live.errors import SchemaSourceError
from tiktok_live.schema._wire import Nested, RawFields, RawValue, Text, Varint, classify

__all__ = [
    "Envelope",
    "Item",
    "Payload",
    "SchemaSourceError",
    "Unchecked",
    "UnknownView",
    "method_from_filename",
    "read_source",
]

GZIP_MAGIC: Final = b"\x1f\x8b"
_FILE_NAME: Final = re.compile(r"^(?:\d+_)?(?P<method>.+?)(?:_[0-9a-fA-F]{6,})?$")


@dataclass(frozen=True, slots=True)
class Payload:
    """One message payload as TikTok sent it, with its wire method."""

    method: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Envelope:
    """A decoded transport message (push frame, fetch result): surveyed for undeclared fields itself."""

    message: Message


@dataclass(frozen=True, slots=True)
class UnknownView:
    """A payload of an unknown method known only by its field view (a JSON Lines record without bytes)."""

    method: str
    fields: RawFields
    size: int


@dataclass(frozen=True, slots=True)
class Unchecked:
    """Something that could not be surveyed: ``what`` it was and ``why``."""

    what: str
    why: str


Item: TypeAlias = Payload | Envelope | UnknownView | Unchecked
"""One thing a source yields: a payload, an envelope, a JSON Lines record's unknown view, or what it could not check."""


def method_from_filename(path: Path) -> str:
    """The method a payload file is named for: ``020_WebcastChatMessage_88a0232f.bin`` -> ``WebcastChatMessage``."""
    match = _FILE_NAME.match(path.stem)
    return match.group("method") if match else path.stem


def read_source(path: Path) -> Iterator[Item]:
    """Every item of one source (see the module docstring); raises SchemaSourceError for an unusable source."""
    if path.is_dir():
        yield from _folder(path)
        return
    if not path.is_file():
        raise SchemaSourceError(f"{path}: no such file or folder")
    if path.suffix == ".bin":
        yield Payload(method_from_filename(path), _read_bytes(path))
        return
    with path.open("rb") as handle:
        gzipped = handle.read(2) == GZIP_MAGIC
    if gzipped and _is_recording(path):
        yield from _recording(path)
        return
    yield from _json_lines(path, gzipped)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise SchemaSourceError(f"{path}: cannot be read: {error.strerror or error}") from error


def _folder(path: Path) -> Iterator[Item]:
    files = sorted(item for item in path.glob("*.bin") if item.is_file())
    if not files:
        raise SchemaSourceError(f"{path}: no *.bin payload files in this folder (name them after their method)")
    for file in files:
        yield Payload(method_from_filename(file), _read_bytes(file))


def _is_recording(path: Path) -> bool:
    from tiktok_live.recording import FORMAT

    try:
        with gzip.open(path, "rb") as handle:
            first = handle.readline(64 * 1024)
    except (OSError, EOFError) as error:
        raise SchemaSourceError(f"{path} is not readable gzip: {error}") from error
    try:
        header = json.loads(first)
    except ValueError:
        return False
    return isinstance(header, dict) and header.get("format") == FORMAT


def _recording(path: Path) -> Iterator[Item]:
    from tiktok_live._protocol import decode_fetch_result, decode_push_frame, frame_payload
    from tiktok_live.errors import FrameDecodeError
    from tiktok_live.recording import SignRecord, read_recording

    recording = read_recording(path)  # RecordingError (a TikTokLiveError) says what is wrong with the file
    seen: set[int] = set()
    for record in recording.records:
        try:
            if isinstance(record, SignRecord):
                result = decode_fetch_result(record.body)
            elif record.direction == "in":
                frame = decode_push_frame(record.data)
                yield Envelope(frame)
                if frame.payload_type != "msg":
                    continue
                result = decode_fetch_result(frame_payload(frame))
            else:
                continue  # our own frames: acks, heartbeats, the enter-room request
        except FrameDecodeError as error:
            yield Unchecked("frame", f"did not decode: {error}")
            continue
        yield Envelope(result)
        for message in result.messages:
            if message.msg_id:
                if message.msg_id in seen:
                    continue
                seen.add(message.msg_id)
            yield Payload(message.method, message.payload)


def _json_lines(path: Path, gzipped: bool) -> Iterator[Item]:
    try:
        opened: IO[bytes] = cast("IO[bytes]", gzip.open(path, "rb")) if gzipped else path.open("rb")
    except OSError as error:
        raise SchemaSourceError(f"{path}: cannot be read: {error}") from error
    found = False
    with opened as handle:
        number = 0
        try:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError as error:
                    raise SchemaSourceError(
                        f"{path}: line {number} is not JSON; pass a recording, a folder of payload files or JSON Lines"
                    ) from error
                item = _record(record, f"{path}: line {number}")
                if item is not None:
                    found = True
                    yield item
        except (OSError, EOFError) as error:
            raise SchemaSourceError(f"{path}: unreadable after line {number}: {error}") from error
    if not found:
        raise SchemaSourceError(f"{path}: no message records in this file")


def _record(record: object, where: str) -> Item | None:
    if not isinstance(record, dict):
        raise SchemaSourceError(f"{where} is not a JSON object")
    method = record.get("method")
    data = record.get("data")
    if isinstance(record.get("payload"), str) and isinstance(method, str):
        return Payload(method, _base64(record["payload"], where))
    if "v" not in record or "type" not in record:
        raise SchemaSourceError(
            f"{where}: neither a payload record ({{'method', 'payload'}}) nor a JSON Lines event ({{'v', 'type'}})"
        )
    if not isinstance(method, str):
        return None  # a connection event: no message behind it
    if record["type"] != "UnknownEvent" or not isinstance(data, dict):
        return Unchecked(str(record["type"]), "no payload bytes")
    if isinstance(data.get("payload"), str):
        return Payload(method, _base64(data["payload"], where))
    fields = data.get("fields")
    if not isinstance(fields, dict):
        return Unchecked(method, "no payload bytes")
    return UnknownView(method, _view(fields), int(data.get("size") or 0))


def _base64(value: str, where: str) -> bytes:
    try:
        return base64.b64decode(value.removeprefix("base64:"), validate=True)
    except (binascii.Error, ValueError) as error:
        raise SchemaSourceError(f"{where}: the payload is not valid base64") from error


def _view(fields: Mapping[str, object]) -> dict[int, tuple[RawValue, ...]]:
    """A JSON field view (``{"1": [value, ...]}``, bytes as ``"base64:..."``) back into classified values."""
    view: dict[int, tuple[RawValue, ...]] = {}
    for key, values in fields.items():
        if not key.isdigit() or not isinstance(values, list):
            continue
        view[int(key)] = tuple(_view_value(value) for value in values)
    return view


def _view_value(value: object) -> RawValue:
    if isinstance(value, bool):
        return Varint(int(value))
    if isinstance(value, int):
        return Varint(value % 2**64)
    if isinstance(value, dict):
        return Nested(b"", _view(value))
    text = str(value)
    if text.startswith("base64:"):
        try:
            return classify(base64.b64decode(text.removeprefix("base64:")))
        except (binascii.Error, ValueError):
            pass
    return Text(text.encode("utf-8", "surrogatepass"), text)
