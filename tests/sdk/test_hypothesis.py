"""Property tests: arbitrary bytes never crash the decoders, and field values round-trip through the events.

Examples are derandomized (a fixed seed per test) and no example database is written, so runs are reproducible.
"""

from __future__ import annotations

import gzip
from typing import Any, TypeAlias

import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tiktok_live._base import BaseEvent, ProtoEvent, UnknownEvent
from tiktok_live._derived import derive
from tiktok_live._generated.pb import transport_pb2
from tiktok_live._generated.registry import REGISTRY
from tiktok_live._protocol import decode_fetch_result, decode_message, decode_push_frame, frame_payload
from tiktok_live.errors import FrameDecodeError

SETTINGS = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
METHODS = sorted(REGISTRY)
Field: TypeAlias = Any
"""A field descriptor: the pure-Python and the upb descriptor classes have different stubs."""

pytestmark = pytest.mark.usefixtures("quiet_decode_warnings")


@SETTINGS
@given(method=st.sampled_from(METHODS) | st.text(max_size=40), payload=st.binary(max_size=512))
def test_decode_message_never_raises(method: str, payload: bytes) -> None:
    event = decode_message(method, payload)
    assert isinstance(event, BaseEvent)
    assert event.bytes == payload
    registered = REGISTRY.get(method)
    if isinstance(event, UnknownEvent):
        assert event.method == method
        if registered is None:
            assert event.decode_error is None
        else:
            assert isinstance(event.decode_error, DecodeError)
        event.fields()  # the generic view never raises either
    else:
        assert registered is not None and type(event) is registered
    for derived in derive(event):  # derived events are pure functions of any decoded event
        assert isinstance(derived, ProtoEvent) and derived.bytes is event.bytes


@SETTINGS
@given(data=st.binary(max_size=512))
def test_decode_push_frame_only_raises_frame_decode_error(data: bytes) -> None:
    try:
        frame = decode_push_frame(data)
    except FrameDecodeError:
        return
    assert isinstance(frame, transport_pb2.PushFrame)


@SETTINGS
@given(data=st.binary(max_size=512))
def test_decode_fetch_result_only_raises_frame_decode_error(data: bytes) -> None:
    try:
        decode_fetch_result(data)
    except FrameDecodeError:
        pass


def _payloads() -> st.SearchStrategy[bytes]:
    raw = st.binary(max_size=512)
    gzipped = st.binary(max_size=512).map(gzip.compress)
    damaged = st.tuples(gzipped, st.integers(min_value=0, max_value=600), st.binary(max_size=4)).map(
        lambda parts: parts[0][: parts[1]] + parts[2]
    )
    magic = raw.map(lambda data: b"\x1f\x8b\x08" + data)
    return raw | gzipped | damaged | magic


@SETTINGS
@given(
    payload=_payloads(),
    compress_type=st.sampled_from([None, "gzip", "none", ""]),
    max_size=st.integers(min_value=0, max_value=1024),
)
def test_frame_payload_only_raises_frame_decode_error(payload: bytes, compress_type: str | None, max_size: int) -> None:
    frame = transport_pb2.PushFrame(payload=payload)
    if compress_type is not None:
        frame.headers.add(key="compress_type", value=compress_type)
    try:
        result = frame_payload(frame, max_size=max_size)
    except FrameDecodeError:
        return
    assert len(result) <= max_size


@SETTINGS
@given(data=st.binary(max_size=1024), compress_type=st.sampled_from([None, "gzip", "none"]))
def test_gzip_round_trip(data: bytes, compress_type: str | None) -> None:
    frame = transport_pb2.PushFrame(payload=gzip.compress(data))
    if compress_type is not None:
        frame.headers.add(key="compress_type", value=compress_type)
    assert frame_payload(decode_push_frame(frame.SerializeToString()), max_size=1024) == data


# ── Generated field values round-trip through _pb2 serialization and the event properties. ──────────────────────

_INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_ENUM: (-(2**31), 2**31 - 1),  # proto3 enums are open: any int32 survives
}


def _scalar_fields() -> list[tuple[type[ProtoEvent[Message]], Field, str]]:
    found = []
    for cls in sorted(set(REGISTRY.values()), key=lambda cls: cls.__name__):
        for field in cls.PROTO.DESCRIPTOR.fields:
            if field.is_repeated or field.type == FieldDescriptor.TYPE_MESSAGE:
                continue
            for name in (field.name, f"{field.name}_"):
                if isinstance(vars(cls).get(name), property):
                    found.append((cls, field, name))
                    break
            else:
                raise AssertionError(f"{cls.__name__} has no property for {field.name}")
    return found


SCALAR_FIELDS = _scalar_fields()


def _values(field: Field) -> st.SearchStrategy[object]:
    if field.type in _INT_RANGES:
        low, high = _INT_RANGES[field.type]
        return st.integers(min_value=low, max_value=high)
    if field.type == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if field.type == FieldDescriptor.TYPE_STRING:
        return st.text(max_size=64)
    if field.type == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=64)
    if field.type == FieldDescriptor.TYPE_DOUBLE:
        return st.floats(allow_nan=False)
    if field.type == FieldDescriptor.TYPE_FLOAT:
        return st.floats(allow_nan=False, width=32)
    raise AssertionError(f"no strategy for {field.full_name}")


@st.composite
def _field_assignment(draw: st.DrawFn) -> tuple[type[ProtoEvent[Message]], Field, str, object]:
    cls, field, name = draw(st.sampled_from(SCALAR_FIELDS))
    return cls, field, name, draw(_values(field))


@SETTINGS
@given(assignment=_field_assignment())
def test_scalar_values_round_trip(assignment: tuple[type[ProtoEvent[Message]], Field, str, object]) -> None:
    cls, field, name, value = assignment
    message = cls.PROTO()
    setattr(message, field.name, value)
    data = message.SerializeToString()
    event = decode_message(cls.METHODS[0], data)
    assert type(event) is cls
    assert getattr(event, name) == value
    assert event.bytes == data
