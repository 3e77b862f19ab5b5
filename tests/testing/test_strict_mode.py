"""Strict clients (``Simulator.client()``, the fixture): an exception raised in a handler fails the test."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from tiktok_live import TikTokLiveClient
from tiktok_live.events import CommentEvent, ErrorEvent
from tiktok_live.testing import Simulator, comment, end

from .conftest import FAST, within


def _expect_bye(event: CommentEvent) -> None:
    assert event.comment == "bye", "expected a goodbye"


async def _watch_hi(sim: Simulator) -> None:
    """A strict client watches a LIVE saying "hi" with a handler expecting "bye", through start() and the reader
    task (not connect(), which would raise the handler's error itself once the client is wired)."""
    sim.script(comment("alice", "hi"), end())
    client = sim.client()
    client.add_listener(CommentEvent, _expect_bye)
    await within(await client.start())  # the reader task: it ends with the stream and raises nothing
    await client.disconnect()


async def test_leaving_the_simulator_raises_a_strict_clients_handler_error() -> None:
    with pytest.raises(AssertionError, match="expected a goodbye") as raised:
        async with Simulator(**FAST) as sim:
            await _watch_hi(sim)
    assert any("strict mode" in note for note in raised.value.__notes__)


async def test_raise_handler_errors_without_leaving_the_simulator() -> None:
    async with Simulator(**FAST) as sim:
        await _watch_hi(sim)
        with pytest.raises(AssertionError):
            sim.raise_handler_errors()
        sim.raise_handler_errors()  # raised once


async def test_strict_false_only_logs_and_emits() -> None:
    errors: list[ErrorEvent] = []
    async with Simulator(**FAST) as sim:
        sim.script(comment("alice", "hi"), end())
        client = sim.client(strict=False)
        client.add_listener(CommentEvent, _expect_bye)
        client.add_listener(ErrorEvent, errors.append)
        await within(client.connect())
    assert [type(event.exception) for event in errors] == [AssertionError]


async def test_an_error_in_the_block_wins_over_a_handler_error() -> None:
    with pytest.raises(LookupError):
        async with Simulator(**FAST) as sim:
            await _watch_hi(sim)
            raise LookupError("the test's own failure")


async def test_connect_raises_the_handler_error_after_the_stream_ends() -> None:
    async with Simulator(**FAST) as sim:
        sim.script(comment("alice", "hi"), comment("bob", "still here"), end())
        client = sim.client()
        seen: list[str] = []
        client.add_listener(CommentEvent, lambda event: seen.append(event.comment))
        client.add_listener(CommentEvent, _expect_bye)
        with pytest.raises(AssertionError, match="expected a goodbye"):
            await within(client.connect())
        assert seen == ["hi", "still here"]  # the stream went on to its end first
        assert sim.violations == []


async def test_the_client_option_strict() -> None:
    async with Simulator(**FAST) as sim:
        sim.script(comment("alice", "hi"), end())
        client = TikTokLiveClient("@simulator", config=sim.config(strict=True))
        client.add_listener(CommentEvent, _expect_bye)
        with pytest.raises(AssertionError):
            await within(client.connect())


@pytest.fixture
def simulator_in_a_thread() -> Iterator[Simulator]:
    """A simulator served by an event loop in another thread, for the blocking ``run()``."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="simulator loop", daemon=True)
    thread.start()
    sim = Simulator(**FAST)
    asyncio.run_coroutine_threadsafe(sim.start(), loop).result(10)
    try:
        yield sim
    finally:
        asyncio.run_coroutine_threadsafe(sim.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_run_raises_the_handler_error(simulator_in_a_thread: Simulator) -> None:
    sim = simulator_in_a_thread
    sim.script(comment("alice", "hi"), end())
    client = sim.client()
    client.add_listener(CommentEvent, _expect_bye)
    try:
        with pytest.raises(AssertionError, match="expected a goodbye"):
            client.run()
    finally:
        sim._strict_clients.discard(client)  # what run() did not raise is not this fixture's to raise
