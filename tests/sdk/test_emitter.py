"""The event emitter (sdk/_emitter.py): sync and async handlers, exact-class keys, error isolation, ErrorEvent
handlers that fail, removal, the listened set the client decodes by, and drain."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tiktok_live._emitter import Emitter
from tiktok_live.events import CommentEvent, ErrorEvent, FollowEvent, LikeEvent, SocialEvent
from tiktok_live.testing import comment, follow

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
