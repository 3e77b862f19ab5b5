"""The NATS JetStream sink against a real nats-server (-js) on loopback: subjects per room, schema and order, a crash
mid-run, server-side deduplication, and one durable consumer shared by two workers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import nats
import nats.errors
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from tests.export.conftest import ServerProcess, export_rooms, no_warnings_beyond, simulators
from tests.export.test_sink import SCHEMA_KEYS
from tests.pool.conftest import bounded, until
from tests.support import wait_for_condition
from tiktok_live.events import CommentEvent, ConnectEvent, GiftEvent
from tiktok_live.export import NatsStreamSink, Record, open_sink
from tiktok_live.testing import comment, end, gift

SUBJECT = "tl-test.events"


@pytest.fixture
async def reader(nats_server: ServerProcess) -> AsyncIterator[tuple[Client, JetStreamContext]]:
    """A plain nats-py connection and JetStream context on the test server."""

    async def quiet(error: Exception) -> None:  # the crash test makes it reconnect: not worth an ERROR log
        pass

    nc = await nats.connect(
        f"nats://127.0.0.1:{nats_server.port}", max_reconnect_attempts=-1, reconnect_time_wait=0.1, error_cb=quiet
    )
    yield nc, nc.jetstream(timeout=5)
    await nc.close()


def sink_url(server: ServerProcess) -> str:
    return f"nats://127.0.0.1:{server.port}?subject={SUBJECT}"


async def read_all(js: JetStreamContext, durable: str = "checker") -> list[Msg]:
    """Every message of the stream, in stream order, through a fresh durable pull consumer."""
    sub = await js.pull_subscribe(f"{SUBJECT}.>", durable=durable)
    messages: list[Msg] = []
    while True:
        try:
            batch = await sub.fetch(100, timeout=0.5)
        except nats.errors.TimeoutError:
            return messages
        for message in batch:
            await message.ack()
        messages.extend(batch)


@bounded(20)
async def test_events_reach_the_room_subjects_in_order_with_the_schema(
    nats_server: ServerProcess, reader: tuple[Client, JetStreamContext], caplog: pytest.LogCaptureFixture
) -> None:
    _, js = reader
    async with simulators(2) as sims:
        for index, sim in enumerate(sims):
            sim.script(*(comment("viewer", f"{index}-{n}") for n in range(30)), gift("viewer"), end())
        with no_warnings_beyond(caplog):
            async with open_sink(sink_url(nats_server)) as sink:
                sent = await export_rooms(sims, sink, CommentEvent, GiftEvent, ConnectEvent)
        messages = await read_all(js)
    assert sent == len(messages) == 2 * (1 + 30 + 1)
    assert (await js.stream_info("tiktok-live")).config.subjects == [f"{SUBJECT}.>"]
    for index, sim in enumerate(sims):
        mine = [message for message in messages if message.subject == f"{SUBJECT}.{sim.room_id}"]
        records = [json.loads(message.data) for message in mine]
        assert [record["type"] for record in records] == ["ConnectEvent"] + ["CommentEvent"] * 30 + ["GiftEvent"]
        assert [record["data"]["content"] for record in records[1:31]] == [f"{index}-{n}" for n in range(30)]
        assert all(set(record) == SCHEMA_KEYS and record["room_id"] == str(sim.room_id) for record in records)
        for message, record in zip(mine[1:], records[1:], strict=True):
            assert message.headers is not None
            assert message.headers["Nats-Msg-Id"] == f"{sim.room_id}:{record['msg_id']}:{record['type']}"


@bounded(30)
async def test_a_crash_and_restart_mid_run_loses_nothing(
    nats_server: ServerProcess, reader: tuple[Client, JetStreamContext], caplog: pytest.LogCaptureFixture
) -> None:
    nc, js = reader
    count = 400
    async with simulators(1) as (sim,):
        sim.script(*(comment("viewer", str(n)) for n in range(count)), end(), delay=0.004)
        with no_warnings_beyond(caplog, "cannot deliver", "delivering again", "still down"):
            sink = open_sink(sink_url(nats_server) + "&batch=20", retry_max=0.2)
            assert isinstance(sink, NatsStreamSink)
            sink.ack_timeout = sink.reconnect_wait = 0.2  # notice the crash quickly
            async with sink:
                run = asyncio.create_task(export_rooms([sim], sink, CommentEvent))
                await until(lambda: sink.stats.delivered >= count // 4)
                acknowledged = sink.stats.delivered
                await nats_server.restart(down_for=0.3)  # SIGKILL, then the same store folder
                await wait_for_condition(lambda: nc.stats["reconnects"] >= 1 and nc.is_connected)
                assert (await js.stream_info("tiktok-live")).state.messages >= acknowledged
                await run
    texts = [json.loads(message.data)["data"]["content"] for message in await read_all(js)]
    assert texts == [str(n) for n in range(count)]  # JetStream dropped the retried copies (Nats-Msg-Id)
    assert sink.stats.failures >= 1 and sink.stats.dropped == 0 and sink.stats.delivered == count
    assert nats_server.starts == 2


@bounded(15)
async def test_jetstream_drops_copies_of_a_retried_record(
    nats_server: ServerProcess, reader: tuple[Client, JetStreamContext]
) -> None:
    _, js = reader
    record = Record.from_event(CommentEvent.from_bytes(comment("viewer", "once").template), room_id=5)
    async with open_sink(sink_url(nats_server)) as sink:
        for _ in range(3):
            sink.send(record)
            await sink.flush()
    assert sink.stats.delivered == 3
    assert [json.loads(message.data)["data"]["content"] for message in await read_all(js)] == ["once"]


@bounded(20)
async def test_one_durable_consumer_splits_the_work_between_two_workers(
    nats_server: ServerProcess, reader: tuple[Client, JetStreamContext]
) -> None:
    _, js = reader
    async with simulators(3) as sims:
        for sim in sims:
            sim.script(*(comment("viewer", str(n)) for n in range(40)), end())
        async with open_sink(sink_url(nats_server)) as sink:
            sent = await export_rooms(sims, sink, CommentEvent)
    first_sub = await js.pull_subscribe(f"{SUBJECT}.>", durable="workers")
    second_sub = await js.pull_subscribe(f"{SUBJECT}.>", durable="workers")

    async def work(sub: JetStreamContext.PullSubscription) -> list[int]:
        sequences: list[int] = []
        while True:
            try:
                batch = await sub.fetch(7, timeout=0.5)
            except nats.errors.TimeoutError:
                return sequences
            for message in batch:
                sequences.append(message.metadata.sequence.stream)
                await message.ack()

    first, second = await asyncio.gather(work(first_sub), work(second_sub))
    assert sent == 120
    assert first and second and not set(first) & set(second)
    assert sorted(first + second) == list(range(1, 121))


@bounded(20)
async def test_a_server_down_at_start_gets_the_buffer_once_it_is_up(
    nats_server: ServerProcess, caplog: pytest.LogCaptureFixture
) -> None:
    nats_server.kill_now()
    async with simulators(1) as (sim,):
        sim.script(*(comment("viewer", str(n)) for n in range(25)), end())
        with caplog.at_level("WARNING", logger="tiktok_live.export"):
            async with open_sink(sink_url(nats_server), retry_max=0.2, connect_timeout=0.5) as sink:
                run = asyncio.create_task(export_rooms([sim], sink, CommentEvent))
                await until(lambda: sink.stats.accepted >= 25)
                assert sink.stats.delivered == 0 and sink.stats.pending == 25
                await nats_server.start()
                await run
    nc = await nats.connect(f"nats://127.0.0.1:{nats_server.port}")
    try:
        texts = [json.loads(message.data)["data"]["content"] for message in await read_all(nc.jetstream())]
    finally:
        await nc.close()
    assert texts == [str(n) for n in range(25)]
    messages = [record.getMessage() for record in caplog.records]
    assert any("cannot deliver" in message for message in messages)
    assert any("delivering again" in message for message in messages)
