"""The Redis Streams sink against a real redis-server on loopback: schema and order, a crash mid-run, consumer
groups, and a server that is down at start."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from tests.export.conftest import ServerProcess, export_rooms, no_warnings_beyond, simulators
from tests.export.test_sink import SCHEMA_KEYS
from tests.pool.conftest import bounded, until
from tiktok_live.events import CommentEvent, ConnectEvent, DisconnectEvent, GiftEvent
from tiktok_live.export import RedisStreamSink, open_sink
from tiktok_live.testing import comment, end, gift

STREAM = "tiktok-live-test"


@pytest.fixture
async def reader(redis_server: ServerProcess) -> AsyncIterator[aioredis.Redis]:
    """A plain redis client on the test server (answers decoded to str)."""
    client = aioredis.Redis(host="127.0.0.1", port=redis_server.port, decode_responses=True)
    yield client
    await client.aclose()


def sink_url(server: ServerProcess) -> str:
    return f"redis://127.0.0.1:{server.port}/0?stream={STREAM}"


async def entries(client: aioredis.Redis) -> list[dict[str, object]]:
    """Every entry of the test stream as its parsed record, checking each has exactly the ``event`` field."""
    parsed: list[dict[str, object]] = []
    for _entry_id, fields in await client.xrange(STREAM):
        assert list(fields) == ["event"]
        parsed.append(json.loads(fields["event"]))
    return parsed


@bounded(20)
async def test_events_reach_the_stream_in_order_with_the_schema(
    redis_server: ServerProcess, reader: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    async with simulators(2) as sims:
        for index, sim in enumerate(sims):
            sim.script(*(comment("viewer", f"{index}-{n}") for n in range(30)), gift("viewer"), end())
        with no_warnings_beyond(caplog):
            async with open_sink(sink_url(redis_server)) as sink:
                sent = await export_rooms(sims, sink, CommentEvent, GiftEvent, ConnectEvent, DisconnectEvent)
        records = await entries(reader)
    assert sent == len(records) == 2 * (1 + 30 + 1 + 1)
    assert sink.stats.delivered == sent and sink.stats.dropped == 0 and sink.stats.failures == 0
    for index, sim in enumerate(sims):
        mine = [record for record in records if record["room_id"] == str(sim.room_id)]
        assert [record["type"] for record in mine] == ["ConnectEvent"] + ["CommentEvent"] * 30 + [
            "GiftEvent",
            "DisconnectEvent",
        ]
        assert [record["data"]["content"] for record in mine[1:31]] == [f"{index}-{n}" for n in range(30)]  # type: ignore[index]
        for record in mine:
            assert set(record) == SCHEMA_KEYS and record["v"] == 1
        assert all(isinstance(record["msg_id"], str) for record in mine[1:-1])
        assert mine[-2]["derived"]["diamonds"] == 1  # type: ignore[index]


@bounded(30)
async def test_a_crash_and_restart_mid_run_loses_nothing(
    redis_server: ServerProcess, reader: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    count = 400
    async with simulators(1) as (sim,):
        sim.script(*(comment("viewer", str(n)) for n in range(count)), end(), delay=0.004)
        with no_warnings_beyond(caplog, "cannot deliver", "delivering again", "still down"):
            async with open_sink(sink_url(redis_server) + "&batch=20", retry_max=0.2) as sink:
                assert isinstance(sink, RedisStreamSink)
                run = asyncio.create_task(export_rooms([sim], sink, CommentEvent))
                await until(lambda: sink.stats.delivered >= count // 4)
                acknowledged = sink.stats.delivered
                await redis_server.restart(down_for=0.3)  # SIGKILL: no shutdown, only what the AOF holds
                records = await entries(reader)
                assert len(records) >= acknowledged  # everything acknowledged before the crash survived it
                await run
    records = await entries(reader)
    texts = [record["data"]["content"] for record in records]  # type: ignore[index]
    assert list(dict.fromkeys(texts)) == [str(n) for n in range(count)]  # all there, in order (after dedupe)
    assert sink.stats.failures >= 1 and sink.stats.dropped == 0 and sink.stats.delivered == count
    assert redis_server.starts == 2


@bounded(20)
async def test_a_consumer_group_splits_the_work_between_two_consumers(
    redis_server: ServerProcess, reader: aioredis.Redis
) -> None:
    async with simulators(3) as sims:
        for sim in sims:
            sim.script(*(comment("viewer", str(n)) for n in range(40)), end())
        async with open_sink(sink_url(redis_server)) as sink:
            sent = await export_rooms(sims, sink, CommentEvent)
    await reader.xgroup_create(STREAM, "workers", id="0")

    async def consume(name: str) -> list[str]:
        got: list[str] = []
        while True:
            reply = await reader.xreadgroup("workers", name, {STREAM: ">"}, count=7)
            if not reply:
                return got
            for _stream, batch in reply:
                for entry_id, _fields in batch:
                    got.append(entry_id)
                    await reader.xack(STREAM, "workers", entry_id)
            await asyncio.sleep(0)  # let the other consumer take its turn

    first, second = await asyncio.gather(consume("one"), consume("two"))
    all_ids = [entry_id for entry_id, _ in await reader.xrange(STREAM)]
    assert sent == 120 and len(all_ids) == 120
    assert first and second and not set(first) & set(second)
    assert sorted(first + second) == sorted(all_ids)
    assert (await reader.xpending(STREAM, "workers"))["pending"] == 0


@bounded(20)
async def test_a_server_down_at_start_gets_the_buffer_once_it_is_up(
    redis_server: ServerProcess, reader: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    redis_server.kill_now()
    async with simulators(1) as (sim,):
        sim.script(*(comment("viewer", str(n)) for n in range(25)), end())
        with caplog.at_level("WARNING", logger="tiktok_live.export"):
            async with open_sink(sink_url(redis_server), retry_max=0.2) as sink:
                run = asyncio.create_task(export_rooms([sim], sink, CommentEvent))
                await until(lambda: sink.stats.accepted >= 25)
                assert sink.stats.delivered == 0 and sink.stats.pending == 25
                await redis_server.start()
                await run
    texts = [record["data"]["content"] for record in await entries(reader)]  # type: ignore[index]
    assert texts == [str(n) for n in range(25)]
    messages = [record.getMessage() for record in caplog.records]
    assert any("cannot deliver" in message for message in messages)
    assert any("delivering again" in message for message in messages)
