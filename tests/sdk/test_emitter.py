"""The emitter (sdk/_emitter.py): async handlers in flight are capped; what is dropped is counted and reported."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tiktok_live import TikTokLiveClient
from tiktok_live._connection import ErrorEvent
from tiktok_live._emitter import DEFAULT_MAX_IN_FLIGHT, Emitter
from tiktok_live.errors import HandlerOverloadError, TikTokLiveError
from tiktok_live.events import CommentEvent, UnknownEvent
from tiktok_live.testing import Simulator, comment, end

TIMEOUT = 20.0


def _event(index: int) -> UnknownEvent:
    return UnknownEvent(f"Method{index}", b"")


async def test_a_flood_into_a_slow_async_handler_keeps_at_most_the_limit_in_flight(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A slow async handler (``await asyncio.sleep(30)``) under a 3,400 msg/s flood built ~100,000 pending tasks
    and 880 MB. Now at most ``max_in_flight`` calls run; the calls beyond are not started, and are counted (an
    attribute), logged (first and every 1,000th) and reported as ErrorEvents carrying the event not handled."""
    emitter = Emitter()
    release = asyncio.Event()
    started: list[str] = []
    reports: list[ErrorEvent] = []

    async def slow(event: UnknownEvent) -> None:
        started.append(event.method)
        await release.wait()

    emitter.add_listener(UnknownEvent, slow)
    emitter.add_listener(ErrorEvent, reports.append)
    flood = DEFAULT_MAX_IN_FLIGHT + 5_000
    with caplog.at_level(logging.WARNING, logger="tiktok_live"):
        for index in range(flood):
            emitter.emit(_event(index))
    assert emitter.in_flight == DEFAULT_MAX_IN_FLIGHT
    assert emitter.dropped == flood - DEFAULT_MAX_IN_FLIGHT
    warnings = [record for record in caplog.records if "handler calls" in record.getMessage()]
    assert len(warnings) == 1 + (flood - DEFAULT_MAX_IN_FLIGHT) // 1000
    assert [type(report.exception) for report in reports] == [HandlerOverloadError] * len(warnings)
    first = reports[0]
    assert isinstance(first.exception, TikTokLiveError) and first.exception.dropped == 1
    assert first.exception.limit == DEFAULT_MAX_IN_FLIGHT and "max_handlers_in_flight" in str(first.exception)
    assert isinstance(first.event, UnknownEvent) and first.event.method == f"Method{DEFAULT_MAX_IN_FLIGHT}"

    release.set()
    await asyncio.wait_for(emitter.drain(), TIMEOUT)
    assert len(started) == DEFAULT_MAX_IN_FLIGHT and emitter.in_flight == 0
    emitter.emit(_event(-1))  # room again: the next call runs
    await asyncio.wait_for(emitter.drain(), TIMEOUT)
    assert started[-1] == "Method-1" and emitter.dropped == flood - DEFAULT_MAX_IN_FLIGHT


async def test_sync_handlers_always_run_and_the_limit_is_adjustable() -> None:
    emitter = Emitter(max_in_flight=3)
    release = asyncio.Event()
    seen: list[int] = []

    async def slow(event: UnknownEvent) -> None:
        await release.wait()

    emitter.add_listener(UnknownEvent, slow)
    emitter.add_listener(UnknownEvent, lambda event: seen.append(1))
    for index in range(10):
        emitter.emit(_event(index))
    assert (emitter.in_flight, emitter.dropped, len(seen)) == (3, 7, 10)
    emitter.max_in_flight = 5
    emitter.emit(_event(10))
    emitter.emit(_event(11))
    emitter.emit(_event(12))
    assert (emitter.in_flight, emitter.dropped) == (5, 8)
    release.set()
    await asyncio.wait_for(emitter.drain(), TIMEOUT)
    with pytest.raises(ValueError, match="max_in_flight"):
        Emitter(max_in_flight=0)


async def test_a_slow_error_handler_at_the_limit_does_not_report_itself() -> None:
    """ErrorEvent handlers count too; one that cannot start is counted and logged, never reported again."""
    emitter = Emitter(max_in_flight=2)
    release = asyncio.Event()
    errors: list[ErrorEvent] = []

    async def slow(event: object) -> None:
        await release.wait()

    async def slow_errors(event: ErrorEvent) -> None:
        errors.append(event)
        await release.wait()

    emitter.add_listener(UnknownEvent, slow)
    emitter.add_listener(ErrorEvent, slow_errors)
    for index in range(5):
        emitter.emit(_event(index))
    await asyncio.sleep(0)
    assert emitter.in_flight == 2 and emitter.dropped == 4  # 3 handler calls, then the ErrorEvent handler call
    assert errors == []
    release.set()
    await asyncio.wait_for(emitter.drain(), TIMEOUT)


async def test_a_client_under_a_flood_keeps_its_handlers_in_flight_bounded() -> None:
    """End to end: the simulator floods comments into an async handler that never finishes until released."""
    count = DEFAULT_MAX_IN_FLIGHT + 1_500
    async with Simulator("streamer", ping_interval=0.05, ack_grace=5.0) as sim:
        sim.script(*(comment("alice", f"c{index}") for index in range(count)), end())
        client = sim.client(strict=False)  # production behaviour: drops are reported, not raised
        release, all_received = asyncio.Event(), asyncio.Event()
        received: list[CommentEvent] = []
        overloads: list[ErrorEvent] = []

        async def slow(event: CommentEvent) -> None:
            await release.wait()

        def receive(event: CommentEvent) -> None:
            received.append(event)
            if len(received) == count:
                all_received.set()

        client.add_listener(CommentEvent, slow)
        client.add_listener(CommentEvent, receive)
        client.add_listener(ErrorEvent, overloads.append)
        connecting = asyncio.create_task(client.connect())
        await asyncio.wait_for(all_received.wait(), TIMEOUT)
        assert client._emitter.in_flight == DEFAULT_MAX_IN_FLIGHT
        assert client._emitter.dropped == count - DEFAULT_MAX_IN_FLIGHT
        release.set()
        await asyncio.wait_for(connecting, TIMEOUT)
    handler_overloads = [event for event in overloads if isinstance(event.exception, HandlerOverloadError)]
    assert handler_overloads and isinstance(handler_overloads[0].event, CommentEvent)
    assert handler_overloads[-1].exception.dropped <= count - DEFAULT_MAX_IN_FLIGHT


def test_the_overload_error_names_the_limit_and_what_to_do() -> None:
    error = HandlerOverloadError(dropped=3, limit=10)
    assert "10" in str(error) and "3" in str(error)
    assert isinstance(error, TikTokLiveError)


def test_a_client_has_the_default_limit() -> None:
    assert TikTokLiveClient("someone")._emitter.max_in_flight == DEFAULT_MAX_IN_FLIGHT
