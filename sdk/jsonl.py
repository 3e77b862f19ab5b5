"""The JSON Lines event schema, version 1: one JSON object per event, shared by the CLI, exports and web pages.

::

    {"v": 1, "type": "CommentEvent", "method": "WebcastChatMessage", "room_id": "7411...", "msg_id": "7412...",
     "create_time": 1692726385028, "received_at": 1692726385101, "data": {...}, "derived": {...}}

- ``v``: schema version (a new number means an incompatible change; new keys may appear within a version).
- ``type``: the event's class name; ``method``: the wire method (``null`` for connection events).
- ``room_id``, ``msg_id``: decimal strings (64-bit ids do not fit JSON numbers); ``msg_id`` is the envelope's
  message id (``BaseEvent.msg_id``: unknown messages and derived events have it too), else the common block's;
  ``null`` for connection events and messages sent without one.
- ``create_time``: ms since the epoch, normalised (some messages carry seconds); ``null`` when unknown.
- ``received_at``: ms since the epoch when the client received it.
- ``data``: generated events — the message as protobuf JSON with the project's field names (64-bit integers as
  strings, enums by name, unset fields left out); ``UnknownEvent`` — its generic field view (``{number: [values]}``,
  bytes as ``"base64:..."``), ``decode_error``, ``size`` and ``payload`` (the bytes as received, base64, so that
  ``tiktok-live schema unknowns`` can read them back); connection events — their attributes.
- ``derived``: the convenience values of the event (``streaking``, ``diamonds``, ``value``, ``users_joined``, ...),
  only JSON scalars.
"""

from __future__ import annotations

import base64
import codecs
import json
import re
import time
from collections.abc import Mapping
from typing import Final

from google.protobuf.json_format import MessageToDict

from tiktok_live._base import BaseEvent, FieldValue, ProtoEvent, UnknownEvent

__all__ = ["SCHEMA_VERSION", "escape_non_ascii", "event_to_dict", "event_to_json"]

SCHEMA_VERSION: Final = 1
"""The JSON Lines event schema's version, the ``v`` of every object: a new number is an incompatible change."""
_SECONDS_BEFORE: Final = 10**11  # a create_time below this is in seconds (10**11 ms is 1973)
_CONVENIENCE_MODULES: Final = frozenset({"tiktok_live._base", "tiktok_live._derived"})
_SKIP: Final = frozenset({"type", "bytes", "as_base64", "size", "proto"})


_CONVENIENCE_CACHE: dict[type[BaseEvent], tuple[str, ...]] = {}


def _convenience(event_type: type[BaseEvent]) -> tuple[str, ...]:
    """Property names that mixins and derived events add to ``event_type`` (not the generated field properties)."""
    cached = _CONVENIENCE_CACHE.get(event_type)
    if cached is not None:
        return cached
    names: list[str] = []
    for klass in event_type.__mro__:
        if klass.__module__ not in _CONVENIENCE_MODULES or klass in (BaseEvent, ProtoEvent, UnknownEvent):
            continue
        names.extend(name for name, value in vars(klass).items() if isinstance(value, property) and name not in _SKIP)
    result = _CONVENIENCE_CACHE[event_type] = tuple(dict.fromkeys(names))
    return result


def _scalar(value: object) -> bool:
    return value is None or isinstance(value, bool | int | float | str)


def _jsonable(value: FieldValue) -> object:
    if isinstance(value, bytes):
        return "base64:" + base64.b64encode(value).decode("ascii")
    if isinstance(value, Mapping):
        return {str(number): [_jsonable(item) for item in items] for number, items in value.items()}
    return value


def _attribute(value: object) -> object:
    """A connection event's attribute as JSON: 64-bit integers (room ids) as strings, objects as their repr."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**53:
        return str(value)
    return value if _scalar(value) else repr(value)


def _create_time(raw: int) -> int | None:
    if raw <= 0:
        return None
    return raw * 1000 if raw < _SECONDS_BEFORE else raw


def event_to_dict(event: BaseEvent, *, room_id: int | None = None, received_at: int | None = None) -> dict[str, object]:
    """One event as a schema-v1 object (see the module docstring). ``received_at`` defaults to now."""
    record: dict[str, object] = {
        "v": SCHEMA_VERSION,
        "type": event.type,
        "method": None,
        "room_id": str(room_id) if room_id else None,
        "msg_id": str(event.msg_id) if event.msg_id else None,
        "create_time": None,
        "received_at": received_at if received_at is not None else int(time.time() * 1000),
    }
    if isinstance(event, ProtoEvent):
        proto = event.proto
        record["method"] = type(event).METHODS[0] if type(event).METHODS else proto.DESCRIPTOR.name
        if "common" in proto.DESCRIPTOR.fields_by_name:
            common = getattr(proto, "common")  # noqa: B009 - present on this message, checked above
            if record["msg_id"] is None and common.msg_id:
                record["msg_id"] = str(common.msg_id)
            record["create_time"] = _create_time(common.create_time)
            if record["room_id"] is None and common.room_id:
                record["room_id"] = str(common.room_id)
        record["data"] = MessageToDict(proto, preserving_proto_field_name=True)
    elif isinstance(event, UnknownEvent):
        record["method"] = event.method
        record["data"] = {
            "fields": {str(number): [_jsonable(v) for v in values] for number, values in event.fields().items()},
            "decode_error": str(event.decode_error) if event.decode_error is not None else None,
            "size": event.size,
            "payload": event.as_base64,
        }
    else:
        record["data"] = {
            name: _attribute(getattr(event, name))
            for klass in type(event).__mro__
            for name in getattr(klass, "__slots__", ())
            if not name.startswith("_")
        }
    derived = {name: getattr(event, name) for name in _convenience(type(event))}
    record["derived"] = {name: value for name, value in derived.items() if _scalar(value)}
    return record


def event_to_json(event: BaseEvent, *, room_id: int | None = None, received_at: int | None = None) -> str:
    """:func:`event_to_dict` as one compact JSON line (no trailing newline)."""
    return json.dumps(
        event_to_dict(event, room_id=room_id, received_at=received_at), ensure_ascii=False, separators=(",", ":")
    )


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def escape_non_ascii(line: str) -> str:
    """A JSON text with every non-ASCII character written as its ``\\u`` escape (astral ones as a surrogate pair):
    the same JSON value, in plain ASCII, for an output that cannot encode UTF-8. (Outside strings a JSON text is
    ASCII, so escaping is safe anywhere in it.)"""
    return _NON_ASCII.sub(lambda match: json.dumps(match.group())[1:-1], line)


def is_unicode_stream(stream: object) -> bool:
    """Whether ``stream`` encodes every character (its ``encoding`` is UTF-8, -16 or -32; a stream without one
    counts as such). When not, write JSON through :func:`escape_non_ascii`."""
    encoding = getattr(stream, "encoding", None)
    if not isinstance(encoding, str):
        return True
    try:
        return codecs.lookup(encoding).name.startswith("utf")
    except LookupError:
        return False
