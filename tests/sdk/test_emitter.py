"""The emitter (sdk/_emitter.py): async handlers in flight are capped, and what is dropped is counted and reported;
sync and async handlers, exact-class keys, error isolation, ErrorEvent handlers that fail, removal, the listened set
the client decodes by, and drain."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tiktok_live import TikTokLiveClient
from tiktok_live._connection import ErrorEvent
from tiktok_live._emitter import DEFAULT_MAX_IN_FLIGHT, Emitter
from tiktok_live.errors import HandlerOverloadError, TikTokLiveError
from tiktok_live.events import CommentEvent, FollowEvent, LikeEvent, SocialEvent, UnknownEvent
from tiktok_live.testing import Simulator, comment, end, follow

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


# ── dispatch, errors, removal, drain ─────────────────────────────────────────────────────────────────────────────

COMMENT = CommentEvent.from_bytes(comment("alice", "hi").template, 1)
FOLLOW = FollowEvent.from_bytes(follow("bob").template, 2)


def _raise(error: Exception) -> None:
    raise error


async def test_sync_handlers_run_at_once_and_async_ones_by_drain() -> None:
    emitter = Emitter()
    calls: list[str] = []
    release = asyncio.Event()

    async def slow(event: CommentEvent) -> None:
        await release.wait()
        calls.append(f"async {event.comment}")

    emitter.add_listener(CommentEvent, lambda event: calls.append(f"sync {event.comment}"))
    emitter.add_listener(CommentEvent, slow)
    emitter.emit(COMMENT)
    assert calls == ["sync hi"]  # the async handler is scheduled, not awaited by emit
    drain = asyncio.create_task(emitter.drain())
    for _ in range(5):
        await asyncio.sleep(0)  # let the scheduled handler and drain run as far as they can
    assert not drain.done(), "drain returned while a handler was still running"
    release.set()
    await asyncio.wait_for(drain, 5)
    assert calls == ["sync hi", "async hi"]


async def test_handlers_get_exactly_their_class() -> None:
    emitter = Emitter()
    social: list[SocialEvent] = []
    follows: list[FollowEvent] = []
    emitter.add_listener(SocialEvent, social.append)
    emitter.add_listener(FollowEvent, follows.append)
    emitter.emit(FOLLOW)  # a FollowEvent is a SocialEvent subclass: only its own handlers run
    emitter.emit(COMMENT)  # nobody listens: nothing happens
    assert (social, follows) == ([], [FOLLOW])


async def test_a_failing_handler_stops_neither_the_others_nor_the_caller(caplog: pytest.LogCaptureFixture) -> None:
    emitter = Emitter()
    seen: list[str] = []
    errors: list[ErrorEvent] = []

    async def fails_later(event: CommentEvent) -> None:
        await asyncio.sleep(0)
        raise KeyError("async boom")

    emitter.add_listener(CommentEvent, lambda event: _raise(ValueError("sync boom")))
    emitter.add_listener(CommentEvent, fails_later)
    emitter.add_listener(CommentEvent, lambda event: seen.append(event.comment))
    emitter.add_listener(ErrorEvent, errors.append)
    with caplog.at_level(logging.ERROR, logger="tiktok_live"):
        emitter.emit(COMMENT)
        emitter.emit(COMMENT)
        await asyncio.wait_for(emitter.drain(), 5)
    assert seen == ["hi", "hi"]
    assert sorted(type(error.exception).__name__ for error in errors) == ["KeyError"] * 2 + ["ValueError"] * 2
    assert all(isinstance(error, ErrorEvent) and error.event is None for error in errors)
    logged = [record for record in caplog.records if "an event handler raised" in record.getMessage()]
    assert len(logged) == 4 and all(record.exc_info for record in logged)


async def test_without_error_handlers_a_failure_is_only_logged(caplog: pytest.LogCaptureFixture) -> None:
    emitter = Emitter()
    emitter.add_listener(CommentEvent, lambda event: _raise(RuntimeError("nobody listens")))
    with caplog.at_level(logging.ERROR, logger="tiktok_live"):
        emitter.emit(COMMENT)
    assert ["RuntimeError" in record.getMessage() for record in caplog.records] == [True]
    assert ErrorEvent not in emitter.listened


async def test_error_handlers_that_fail_are_logged_and_never_reported_again(caplog: pytest.LogCaptureFixture) -> None:
    emitter = Emitter()
    calls: list[str] = []

    def broken(event: ErrorEvent) -> None:
        calls.append("sync")
        raise RuntimeError("the error handler failed too")

    async def broken_async(event: ErrorEvent) -> None:
        calls.append("async")
        raise RuntimeError("so did this one")

    emitter.add_listener(ErrorEvent, broken)
    emitter.add_listener(ErrorEvent, broken_async)
    emitter.add_listener(ErrorEvent, lambda event: calls.append(type(event.exception).__name__))
    emitter.add_listener(CommentEvent, lambda event: _raise(ValueError("first")))
    with caplog.at_level(logging.ERROR, logger="tiktok_live"):
        emitter.emit(COMMENT)
        await asyncio.wait_for(emitter.drain(), 5)
    assert sorted(calls) == ["ValueError", "async", "sync"]  # once each: no loop of errors about errors
    messages = [record.getMessage() for record in caplog.records]
    assert messages.count("an ErrorEvent handler raised") == 2
    assert sum("an event handler raised" in message for message in messages) == 1


async def test_a_sync_error_handler_returning_an_awaitable_is_told_off(caplog: pytest.LogCaptureFixture) -> None:
    emitter = Emitter()
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    emitter.add_listener(ErrorEvent, lambda event: future)
    with caplog.at_level(logging.ERROR, logger="tiktok_live"):
        emitter.report(ValueError("x"))
    future.cancel()
    assert any("returned an awaitable" in record.getMessage() for record in caplog.records)


async def test_report_reaches_error_handlers_only_when_there_are_some() -> None:
    emitter = Emitter()
    emitter.report(ValueError("nobody listens"))  # nothing to do, nothing raised
    errors: list[ErrorEvent] = []
    emitter.add_listener(ErrorEvent, errors.append)
    error = ValueError("the stream failed")
    emitter.report(error, COMMENT)
    (reported,) = errors
    assert reported.exception is error and reported.event is COMMENT
    assert "while handling CommentEvent" in repr(reported)


async def test_removed_handlers_are_not_called_and_unknown_ones_are_ignored() -> None:
    emitter = Emitter()
    first: list[CommentEvent] = []
    second: list[CommentEvent] = []
    errors: list[ErrorEvent] = []
    emitter.add_listener(CommentEvent, first.append)
    emitter.add_listener(CommentEvent, second.append)
    emitter.add_listener(ErrorEvent, errors.append)
    emitter.remove_listener(CommentEvent, first.append)
    emitter.remove_listener(CommentEvent, print)  # never added: ignored
    emitter.remove_listener(LikeEvent, print)  # no handler of that class at all: ignored
    emitter.emit(COMMENT)
    assert (first, second) == ([], [COMMENT])
    assert CommentEvent in emitter.listened
    emitter.remove_listener(ErrorEvent, errors.append)  # the wrapped ErrorEvent handler goes too
    emitter.report(ValueError("x"))
    assert errors == [] and ErrorEvent not in emitter.listened


async def test_listened_tracks_classes_with_handlers_and_on_change_fires_on_each_change() -> None:
    emitter = Emitter()
    changes: list[frozenset[type]] = []
    emitter.on_change = lambda: changes.append(emitter.listened)
    assert emitter.listened == frozenset()

    def one(event: CommentEvent) -> None: ...

    def two(event: CommentEvent) -> None: ...

    emitter.add_listener(CommentEvent, one)
    emitter.add_listener(CommentEvent, two)
    emitter.add_listener(ErrorEvent, print)
    emitter.remove_listener(CommentEvent, one)
    assert emitter.listened == {CommentEvent, ErrorEvent}  # `two` still listens
    emitter.remove_listener(CommentEvent, two)
    emitter.remove_listener(ErrorEvent, print)
    assert changes == [
        {CommentEvent},
        {CommentEvent},
        {CommentEvent, ErrorEvent},
        {CommentEvent, ErrorEvent},
        {ErrorEvent},
        frozenset(),
    ]
    assert emitter.listened == frozenset()


async def test_drain_with_nothing_running_returns_at_once() -> None:
    emitter = Emitter()
    emitter.add_listener(CommentEvent, lambda event: None)
    emitter.emit(COMMENT)
    await asyncio.wait_for(emitter.drain(), 5)
