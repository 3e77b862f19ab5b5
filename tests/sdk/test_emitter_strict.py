"""The emitter's strict mode: the first handler exception is kept and raised once the stream is over."""

from __future__ import annotations

import asyncio

import pytest

from tiktok_live._emitter import Emitter
from tiktok_live.errors import HandlerOverloadError
from tiktok_live.events import CommentEvent, ErrorEvent


def _comment(text: str) -> CommentEvent:
    return CommentEvent(CommentEvent.PROTO(content=text))


async def test_not_strict_keeps_nothing() -> None:
    emitter = Emitter()
    errors: list[ErrorEvent] = []
    emitter.add_listener(ErrorEvent, errors.append)

    def bad(event: CommentEvent) -> None:
        raise ValueError("boom")

    emitter.add_listener(CommentEvent, bad)
    emitter.emit(_comment("hi"))
    await emitter.drain()
    assert emitter.failure is None
    emitter.raise_if_failed()  # nothing kept: no raise
    assert [type(event.exception) for event in errors] == [ValueError]


async def test_strict_raises_the_first_handler_error_once_with_a_count_of_the_others() -> None:
    emitter = Emitter(strict=True)
    errors: list[ErrorEvent] = []
    emitter.add_listener(ErrorEvent, errors.append)

    def check(event: CommentEvent) -> None:
        assert event.comment == "bye"

    async def bad_async(event: CommentEvent) -> None:
        raise RuntimeError(f"async {event.comment}")

    emitter.add_listener(CommentEvent, check)
    emitter.add_listener(CommentEvent, bad_async)
    emitter.emit(_comment("hi"))
    emitter.emit(_comment("again"))
    await emitter.drain()
    first = emitter.failure
    assert isinstance(first, AssertionError)
    with pytest.raises(AssertionError) as raised:
        emitter.raise_if_failed()
    assert raised.value is first
    assert any("3 more handler error(s)" in note for note in raised.value.__notes__)
    assert len(errors) == 4  # still logged and emitted, as without strict mode
    emitter.raise_if_failed()  # raised once: forgotten


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_strict_keeps_errors_of_error_event_handlers(asynchronous: bool) -> None:
    emitter = Emitter(strict=True)

    def bad_sync(event: ErrorEvent) -> None:
        raise KeyError("in the ErrorEvent handler")

    async def bad_async(event: ErrorEvent) -> None:
        raise KeyError("in the ErrorEvent handler")

    emitter.add_listener(ErrorEvent, bad_async if asynchronous else bad_sync)
    emitter.report(ValueError("a bad frame"))
    await emitter.drain()
    with pytest.raises(KeyError):
        emitter.raise_if_failed()


async def test_strict_counts_a_dropped_async_handler_call_as_a_failure() -> None:
    """A call the in-flight cap did not start never ran its asserts: in strict mode that fails the test too."""
    emitter = Emitter(1, strict=True)
    release = asyncio.Event()

    async def slow(event: CommentEvent) -> None:
        await release.wait()

    emitter.add_listener(CommentEvent, slow)
    emitter.emit(_comment("one"))
    emitter.emit(_comment("two"))  # beyond the cap: dropped
    release.set()
    await emitter.drain()
    with pytest.raises(HandlerOverloadError):
        emitter.raise_if_failed()
