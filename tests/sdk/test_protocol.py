"""Framing (sdk/_protocol.py, protocol.md §5): push frames, gzip by header or magic, size bounds, fetch results."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import pytest

from tiktok_live import _protocol
from tiktok_live._generated.pb import transport_pb2, webcast_pb2
from tiktok_live._protocol import (
    DEFAULT_MAX_DECOMPRESSED_SIZE,
    MAX_GZIP_MEMBERS,
    decode_fetch_result,
    decode_push_frame,
    frame_header,
    frame_payload,
    gunzip,
)
from tiktok_live.errors import FrameDecodeError, TikTokLiveError

MB = 1024 * 1024


def _fetch_result_bytes(n_messages: int = 2) -> bytes:
    result = webcast_pb2.ProtoMessageFetchResult(cursor="t-1_r-2", fetch_interval=1000, now=1_700_000_000_000)
    result.internal_ext = "internal_src:pushserver|wss_msg_type:r"
    result.need_ack = True
    result.route_params["wrss"] = "abc"
    for index in range(n_messages):
        message = result.messages.add(method="WebcastChatMessage", msg_id=7_000_000_000_000_000_000 + index)
        message.payload = webcast_pb2.WebcastChatMessage(content=f"hi {index}").SerializeToString()
    return result.SerializeToString()


def _frame(payload: bytes, compress_type: str | None = None) -> transport_pb2.PushFrame:
    frame = transport_pb2.PushFrame(seq_id=1, log_id=2, payload_encoding="pb", payload_type="msg", payload=payload)
    if compress_type is not None:
        frame.headers.add(key="compress_type", value=compress_type)
    return frame


def _round_trip(frame: transport_pb2.PushFrame) -> transport_pb2.PushFrame:
    return decode_push_frame(frame.SerializeToString())


def _gzip_stream(total: int, chunk: int = MB) -> bytes:
    """``total`` zero bytes gzipped without ever holding them all (a gzip bomb is small on the wire)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(chunk)
    parts = [compressor.compress(zeros) for _ in range(total // chunk)]
    parts.append(compressor.flush())
    return b"".join(parts)


def test_frame_decode_error_is_a_library_error() -> None:
    assert issubclass(FrameDecodeError, TikTokLiveError)


# ── Push frames and headers. ────────────────────────────────────────────────────────────────────────────────────


def test_push_frame_round_trip() -> None:
    frame = _frame(b"payload", "none")
    frame.headers.add(key="im-cursor", value="t-1")
    decoded = _round_trip(frame)
    assert decoded == frame
    assert decoded.payload_type == "msg"
    assert frame_header(decoded, "compress_type") == "none"
    assert frame_header(decoded, "im-cursor") == "t-1"
    assert frame_header(decoded, "missing") is None


def test_frame_header_last_one_wins() -> None:
    frame = _frame(b"")
    frame.headers.add(key="k", value="first")
    frame.headers.add(key="other", value="x")
    frame.headers.add(key="k", value="last")
    assert frame_header(frame, "k") == "last"
    assert frame_header(frame, "K") is None, "header keys are case-sensitive"


def test_empty_frame() -> None:
    frame = decode_push_frame(b"")
    assert frame == transport_pb2.PushFrame()
    assert frame_payload(frame) == b""


@pytest.mark.parametrize(
    "data",
    [b"\xff" * 8, b"\x0f", b"\x42\x10abc", b"\x80" * 11, b"\x2a\x05\x0a\x03"],
    ids=["ff", "wire-type-7", "truncated-payload", "overlong-varint", "truncated-header"],
)
def test_garbage_push_frame(data: bytes) -> None:
    with pytest.raises(FrameDecodeError) as caught:
        decode_push_frame(data)
    assert caught.value.__cause__ is not None, "the protobuf error is chained"
    assert str(len(data)) in str(caught.value)


@pytest.mark.parametrize("data", [b"\xff" * 8, b"\x0f", b"\x12\x10abc"], ids=["ff", "wire-type-7", "truncated"])
def test_garbage_fetch_result(data: bytes) -> None:
    with pytest.raises(FrameDecodeError) as caught:
        decode_fetch_result(data)
    assert caught.value.__cause__ is not None


def test_fetch_result_round_trip() -> None:
    data = _fetch_result_bytes(3)
    result = decode_fetch_result(data)
    assert result.cursor == "t-1_r-2"
    assert result.need_ack is True
    assert dict(result.route_params) == {"wrss": "abc"}
    assert [message.msg_id for message in result.messages] == [7_000_000_000_000_000_000 + i for i in range(3)]
    assert result.SerializeToString() == data


# ── Payload decompression. ──────────────────────────────────────────────────────────────────────────────────────


def test_gzip_by_header() -> None:
    data = _fetch_result_bytes()
    frame = _round_trip(_frame(gzip.compress(data), "gzip"))
    assert frame_payload(frame) == data
    assert decode_fetch_result(frame_payload(frame)).cursor == "t-1_r-2"


@pytest.mark.parametrize("compress_type", [None, "none", ""])
def test_gzip_by_magic_bytes(compress_type: str | None) -> None:
    """The header may be absent or wrong: gzip's magic bytes (1F 8B 08) decide (protocol.md §5.1)."""
    data = _fetch_result_bytes()
    compressed = gzip.compress(data)
    assert compressed.startswith(b"\x1f\x8b\x08")
    assert frame_payload(_round_trip(_frame(compressed, compress_type))) == data


@pytest.mark.parametrize("compress_type", [None, "none", "identity"])
def test_uncompressed_passthrough(compress_type: str | None) -> None:
    data = _fetch_result_bytes()
    assert frame_payload(_round_trip(_frame(data, compress_type))) == data


def test_gzip_header_on_plain_payload() -> None:
    with pytest.raises(FrameDecodeError):
        frame_payload(_frame(_fetch_result_bytes(), "gzip"))


@pytest.mark.parametrize("cut", [1, 4, 8, 20], ids=lambda cut: f"minus-{cut}")
def test_truncated_gzip(cut: int) -> None:
    compressed = gzip.compress(bytes(range(256)) * 64)
    with pytest.raises(FrameDecodeError):
        frame_payload(_frame(compressed[:-cut], "gzip"))
    with pytest.raises(FrameDecodeError):
        gunzip(compressed[:-cut])


def test_truncated_gzip_header_only() -> None:
    with pytest.raises(FrameDecodeError):
        frame_payload(_frame(b"\x1f\x8b\x08"))


def _corrupt(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0xFF]) + data[index + 1 :]


@pytest.mark.parametrize(
    "where",
    ["crc", "length", "method", "flags-reserved"],
)
def test_corrupt_gzip(where: str) -> None:
    compressed = gzip.compress(b"some payload " * 100)
    corrupted = {
        "crc": _corrupt(compressed, len(compressed) - 8),  # CRC32 trailer
        "length": _corrupt(compressed, len(compressed) - 1),  # ISIZE trailer
        "method": compressed[:2] + b"\x07" + compressed[3:],  # not deflate
        "flags-reserved": compressed[:3] + b"\xe0" + compressed[4:],  # reserved FLG bits set
    }[where]
    with pytest.raises(FrameDecodeError):
        frame_payload(_frame(corrupted, "gzip"))


def test_gzip_bomb_is_bounded() -> None:
    """50 MB of zeros (~50 KB compressed) against a 1 MB limit: rejected without inflating it all."""
    bomb = _gzip_stream(50 * MB)
    assert len(bomb) < MB
    frame = _round_trip(_frame(bomb, "gzip"))
    tracemalloc.start()
    try:
        with pytest.raises(FrameDecodeError, match="limit"):
            frame_payload(frame, max_size=MB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MB, f"peak {peak} bytes: the payload was inflated beyond the limit"


def test_gzip_bomb_default_limit() -> None:
    assert DEFAULT_MAX_DECOMPRESSED_SIZE == 16 * MB
    bomb = _gzip_stream(DEFAULT_MAX_DECOMPRESSED_SIZE + MB)
    with pytest.raises(FrameDecodeError):
        frame_payload(_frame(bomb))


def test_gzip_size_boundary() -> None:
    data = bytes(range(256)) * 4
    compressed = gzip.compress(data)
    assert frame_payload(_frame(compressed), max_size=len(data)) == data
    with pytest.raises(FrameDecodeError):
        frame_payload(_frame(compressed), max_size=len(data) - 1)


def test_uncompressed_size_boundary() -> None:
    data = b"\x0a\x00" * 512
    assert frame_payload(_frame(data), max_size=len(data)) == data
    with pytest.raises(FrameDecodeError, match="limit"):
        frame_payload(_frame(data), max_size=len(data) - 1)
    with pytest.raises(FrameDecodeError):
        frame_payload(_frame(data + b"\x00"), max_size=len(data))


def test_empty_gzip_member() -> None:
    assert frame_payload(_frame(gzip.compress(b""), "gzip")) == b""


@pytest.mark.parametrize("data", [b"\xff" * 8, b"\x0f", b"\x42\x10abc", b"", b"\x1f\x8b\x08garbage"])
def test_garbage_never_raises_other_errors(data: bytes) -> None:
    """protobuf accepts some garbage as a frame; anything else must be a FrameDecodeError."""
    try:
        frame = decode_push_frame(data)
        payload = frame_payload(frame, max_size=MB)
        decode_fetch_result(payload)
    except FrameDecodeError:
        pass


# ── Many gzip members: linear work, a bounded member count. ─────────────────────────────────────────────────────


class _CountingZlib:
    """Stands in for the zlib module inside ``_protocol``: counts the bytes handed to decompressors and the bytes
    they copy out as ``unused_data`` (the work that grows with the input, whatever the machine's speed)."""

    MAX_WBITS = zlib.MAX_WBITS
    error = zlib.error

    def __init__(self) -> None:
        self.bytes_in = 0
        self.copied = 0

    def decompressobj(self, wbits: int) -> _CountingDecompressor:
        return _CountingDecompressor(self, zlib.decompressobj(wbits))


class _CountingDecompressor:
    def __init__(self, counter: _CountingZlib, inner: zlib._Decompress) -> None:
        self._counter = counter
        self._inner = inner

    def decompress(self, data: bytes | memoryview, max_length: int = 0) -> bytes:
        self._counter.bytes_in += len(data)
        return self._inner.decompress(data, max_length)

    @property
    def eof(self) -> bool:
        return self._inner.eof

    @property
    def unused_data(self) -> bytes:
        data = self._inner.unused_data
        self._counter.copied += len(data)
        return data

    @property
    def unconsumed_tail(self) -> bytes:
        data = self._inner.unconsumed_tail
        self._counter.copied += len(data)
        return data


@pytest.mark.parametrize("member_size", [0, 1_000, 30_000])
def test_many_gzip_members_take_linear_work(monkeypatch: pytest.MonkeyPatch, member_size: int) -> None:
    """Decoding N members must not re-read or copy the rest of the payload per member (that was quadratic: 4 MB of
    empty members took 29 s and froze the event loop). The work is counted in bytes, not timed."""
    members = [gzip.compress(bytes([index % 251]) * member_size, mtime=0) for index in range(MAX_GZIP_MEMBERS)]
    data = b"".join(members)
    counter = _CountingZlib()
    monkeypatch.setattr(_protocol, "zlib", counter)
    out = gunzip(data, max_size=len(members) * member_size)
    assert out == b"".join(bytes([index % 251]) * member_size for index in range(MAX_GZIP_MEMBERS))
    work = counter.bytes_in + counter.copied
    assert work <= 4 * len(data) + 256 * len(members), f"{work} bytes of work for {len(data)} bytes of input"


def test_the_gzip_member_count_is_bounded() -> None:
    member = gzip.compress(b"x", mtime=0)
    assert gunzip(member * MAX_GZIP_MEMBERS) == b"x" * MAX_GZIP_MEMBERS
    with pytest.raises(FrameDecodeError, match=f"more than {MAX_GZIP_MEMBERS} gzip members"):
        gunzip(member * (MAX_GZIP_MEMBERS + 1))
    with pytest.raises(FrameDecodeError, match="gzip members"):
        gunzip(gzip.compress(b"", mtime=0) * (4 * MB // 20))  # the 4 MB frame of the report, refused at once


@pytest.mark.parametrize("damage", ["truncated-last", "garbage-between", "garbage-after", "corrupt-middle"])
def test_damage_in_any_member_is_a_frame_decode_error(damage: str) -> None:
    members = [gzip.compress(f"member {index} ".encode() * 300, mtime=0) for index in range(5)]
    data = {
        "truncated-last": b"".join(members)[:-3],
        "garbage-between": b"".join(members[:2]) + b"\x00\x00" + b"".join(members[2:]),
        "garbage-after": b"".join(members) + b"\x1f\x8b",
        "corrupt-middle": b"".join(members[:2]) + _corrupt(members[2], len(members[2]) - 8) + b"".join(members[3:]),
    }[damage]
    with pytest.raises(FrameDecodeError):
        gunzip(data)


def test_the_output_bound_holds_across_members() -> None:
    members = gzip.compress(b"a" * 600, mtime=0) * 2
    assert gunzip(members, max_size=1200) == b"a" * 1200
    with pytest.raises(FrameDecodeError, match="limit"):
        gunzip(members, max_size=1199)
