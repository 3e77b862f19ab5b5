"""The buffered writer every sink shares, on an in-memory backend: order, batches, outages, the bound, close, and
records; then ``open_sink``'s URLs."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from tests.export.conftest import no_warnings_beyond
from tests.pool.conftest import bounded, until
from tiktok_live.events import CommentEvent, ConnectEvent, GiftEvent
from tiktok_live.export import (
    JsonLinesSink,
    NatsStreamSink,
    PermanentSinkError,
    Record,
    RedisStreamSink,
    Sink,
    open_sink,
)
from tiktok_live.jsonl import event_to_json
from tiktok_live.pool import RoomEvent
from tiktok_live.testing import comment, gift

SCHEMA_KEYS = {"v", "type", "method", "room_id", "msg_id", "create_time", "received_at", "data", "derived"}


class MemorySink(Sink):
    """A sink whose "server" is a list; ``up`` switches it on and off, ``lose_acks`` stores but then fails."""

    def __init__(self, **options: object) -> None:
        super().__init__("memory://test", retry_base=0.01, retry_max=0.02, **options)  # type: ignore[arg-type]
        self.up = True
        self.lose_acks = 0
        self.stored: list[Record] = []
        self.batches: list[int] = []
        self.disconnected = False

    async def connect(self) -> None:
        if not self.up:
            raise ConnectionError("connection refused")

    async def write(self, batch: Sequence[Record]) -> None:
        if not self.up:
            raise ConnectionError("connection reset")
        self.stored.extend(batch)
        self.batches.append(len(batch))
        if self.lose_acks:
            self.lose_acks -= 1
            raise TimeoutError("the acknowledgement was lost")

    async def disconnect(self) -> None:
        self.disconnected = True


def records(count: int, start: int = 0) -> list[Record]:
    """``count`` distinct comment records of room 1."""
    return [
        Record.from_event(CommentEvent.from_bytes(comment("viewer", str(n)).template), room_id=1)
        for n in range(start, start + count)
    ]


@bounded(10)
async def test_records_are_delivered_in_order_in_batches(caplog: pytest.LogCaptureFixture) -> None:
    batch = records(1200)
    with no_warnings_beyond(caplog):
        async with MemorySink(batch_size=500) as sink:
            for record in batch:
                sink.send(record)
            await sink.flush()
            assert sink.stored == batch
            assert max(sink.batches) <= 500
            assert (sink.stats.accepted, sink.stats.delivered, sink.stats.pending, sink.stats.dropped) == (
                1200,
                1200,
                0,
                0,
            )
    assert sink.disconnected and sink.closed
    with pytest.raises(RuntimeError, match="closed"):
        sink.send(batch[0])


@bounded(10)
async def test_an_outage_buffers_retries_reports_and_recovers(caplog: pytest.LogCaptureFixture) -> None:
    batch = records(50)
    with caplog.at_level("WARNING", logger="tiktok_live.export"):
        async with MemorySink() as sink:
            sink.up = False
            for record in batch[:30]:
                sink.send(record)
            await until(lambda: sink.stats.failures >= 3)
            assert sink.stats.down_since is not None and sink.stats.pending == 30
            assert "ConnectionError" in (sink.stats.last_error or "")
            for record in batch[30:]:
                sink.send(record)
            sink.up = True
            await sink.flush()
    assert sink.stored == batch and sink.stats.dropped == 0 and sink.stats.down_since is None
    messages = [record.getMessage() for record in caplog.records]
    assert any("cannot deliver (ConnectionError" in message for message in messages)
    assert any("delivering again after" in message and "0 records dropped" in message for message in messages)


@bounded(10)
async def test_the_bound_drops_the_oldest_and_says_how_many(caplog: pytest.LogCaptureFixture) -> None:
    batch = records(25)
    with caplog.at_level("WARNING", logger="tiktok_live.export"):
        async with MemorySink(max_buffer=10, batch_size=5) as sink:
            sink.up = False
            for record in batch:
                sink.send(record)
            assert sink.stats.dropped == 15 and sink.stats.pending == 10
            sink.up = True
            await sink.flush()
    assert sink.stored == batch[15:]
    assert (sink.stats.accepted, sink.stats.delivered, sink.stats.dropped) == (25, 10, 15)
    messages = [record.getMessage() for record in caplog.records]
    assert "memory://test: buffer full (10 records): dropped 1 records so far" in messages
    assert "memory://test: the buffer is empty again: dropped 15 records so far" in messages


@bounded(10)
async def test_a_lost_acknowledgement_means_a_duplicate_not_a_loss() -> None:
    batch = records(20)
    async with MemorySink(batch_size=10) as sink:
        sink.lose_acks = 1
        for record in batch:
            sink.send(record)
        await sink.flush()
    assert sink.stored == batch[:10] + batch[:10] + batch[10:]  # the first batch twice: at least once, in order
    assert sink.stats.delivered == 20 and sink.stats.failures == 1


@bounded(10)
async def test_closing_while_down_counts_what_is_left(caplog: pytest.LogCaptureFixture) -> None:
    sink = MemorySink()
    sink.up = False
    await sink.start()
    for record in records(7):
        sink.send(record)
    with caplog.at_level("ERROR", logger="tiktok_live.export"):
        await sink.close(grace=0.1)
    assert (sink.stats.delivered, sink.stats.dropped, sink.stats.pending) == (0, 7, 0)
    assert any("closed with 7 undelivered records" in record.getMessage() for record in caplog.records)
    await sink.close()  # twice is fine


@bounded(10)
async def test_a_permanent_failure_drops_and_counts_everything_after_it(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(MemorySink):
        async def write(self, batch: Sequence[Record]) -> None:
            raise PermanentSinkError("the reader went away")

    with caplog.at_level("ERROR", logger="tiktok_live.export"):
        async with Broken() as sink:
            for record in records(3):
                sink.send(record)
            await sink.flush()
            sink.send(records(1)[0])
    assert (sink.stats.accepted, sink.stats.delivered, sink.stats.dropped) == (4, 0, 4)
    assert any("the reader went away" in record.getMessage() for record in caplog.records)


@bounded(10)
async def test_records_are_the_schema_lines_with_dedupe_keys() -> None:
    event = GiftEvent.from_bytes(gift("viewer").render(msg_id=42, room_id=7, create_time=1_700_000_000))
    record = Record.from_event(event, room_id=7, received_at=1_700_000_000_500)
    assert record.line == event_to_json(event, room_id=7, received_at=1_700_000_000_500)
    data = json.loads(record.line)
    assert set(data) == SCHEMA_KEYS and data["v"] == 1 and data["msg_id"] == "42"
    assert (record.type, record.room_id, record.msg_id, record.dedupe_id) == ("GiftEvent", "7", "42", "7:42:GiftEvent")
    connect = Record.from_room_event(RoomEvent("host", 7, ConnectEvent("host", 7), 1_700_000_000_000))
    assert connect.msg_id is None and connect.room_id == "7" and len(connect.dedupe_id) == 32
    assert json.loads(connect.line)["received_at"] == 1_700_000_000_000


def test_open_sink_chooses_by_url(tmp_path: object) -> None:
    assert isinstance(open_sink("-"), JsonLinesSink)
    assert open_sink("events.jsonl").name == "events.jsonl"
    assert isinstance(open_sink("file:///tmp/events.jsonl"), JsonLinesSink)
    redis = open_sink("redis://user:secret@localhost:6379/2?stream=rooms&maxlen=1000&buffer=50&batch=10")
    assert isinstance(redis, RedisStreamSink)
    assert (redis.stream, redis.maxlen, redis.max_buffer, redis.batch_size) == ("rooms", 1000, 50, 10)
    assert "secret" not in redis.name and "user:***@localhost:6379" in redis.name
    assert redis.url == "redis://user:secret@localhost:6379/2"
    assert open_sink("redis://localhost").stream == "tiktok-live"  # type: ignore[attr-defined]
    assert "socket_timeout=3" in open_sink("redis://localhost/0?socket_timeout=3").url  # type: ignore[attr-defined]
    nats = open_sink("nats://localhost:4222?subject=tl.events&stream=TL&create=0")
    assert isinstance(nats, NatsStreamSink)
    assert (nats.subject, nats.stream, nats.create_stream, nats.url) == (
        "tl.events",
        "TL",
        False,
        "nats://localhost:4222",
    )
    assert nats.subject_for(Record("{}", "X", "99", None, "id")) == "tl.events.99"
    default = open_sink("nats://localhost:4222")
    assert (default.subject, default.stream) == ("tiktok-live.events", "tiktok-live")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("kafka://localhost:9092", "unsupported sink kafka://:"),
        ("reddis://localhost:6379/0", "did you mean redis://"),
        ("redis://localhost/0?steam=x", "unknown query keys ['steam']"),
        ("nats://localhost?topic=x", "unknown query keys ['topic']"),
        ("redis://localhost/0?buffer=lots", "buffer= takes a whole number"),
        ("redis://localhost/0?maxlen=0", "maxlen= must be at least 1"),
        ("nats://localhost?subject=a.*", "not a NATS subject prefix"),
        ("nats://localhost?stream=a.b", "not a JetStream stream name"),
        ("file:///tmp/x?y=1", "unknown query keys"),
    ],
)
def test_open_sink_refuses_bad_urls(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("*", r"\*")):
        open_sink(url)
