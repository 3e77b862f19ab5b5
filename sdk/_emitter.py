"""A typed facade over pyee's ``AsyncIOEventEmitter``, keyed by event class.

Handlers may be sync or async. A handler that raises is logged and reported as an :class:`ErrorEvent`; it never
stops the other handlers or the reader. The emitter also tracks which event classes anyone listens to, so the
client decodes only those (lazy dispatch).

Async handlers run as tasks, at most ``max_in_flight`` at once (:data:`DEFAULT_MAX_IN_FLIGHT`). The reader never
waits for handlers (acks and heartbeats must go on), so a call that would go beyond the limit is dropped: not
started, counted in :attr:`Emitter.dropped`, logged as a warning and reported as an :class:`ErrorEvent` carrying a
:class:`HandlerOverloadError` and the event it did not handle (the first time, then every 1,000th). Calls already
running are never cancelled, and sync handlers always run.

Strict mode (for tests): the first exception a handler raises is also kept, and :meth:`Emitter.raise_if_failed`
raises it once the stream is over, so an ``assert`` in a handler fails the test instead of becoming a log line.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeAlias, TypeVar, cast

from pyee.asyncio import AsyncIOEventEmitter

from tiktok_live._base import BaseEvent
from tiktok_live._connection import ErrorEvent
from tiktok_live.errors import HandlerOverloadError

__all__ = ["DEFAULT_MAX_IN_FLIGHT", "E", "Emitter", "Handler"]

logger = logging.getLogger(__name__)

E = TypeVar("E", bound=BaseEvent)
Handler: TypeAlias = Callable[[E], Awaitable[None] | None]
"""A sync or async function taking one event of its class."""
ErrorHandler: TypeAlias = Callable[[ErrorEvent], Awaitable[None] | None]
DEFAULT_MAX_IN_FLIGHT: Final = 1_000
"""Async handler calls running at once, at most. A bot's handlers that await a database or an API for a second
under a few hundred events a second stay well below it; a handler that never keeps up would otherwise pile up
tasks without end (~9 KB each: 100,000 tasks took 880 MB)."""
_REPORT_EVERY: Final = 1_000
_NO_KWARGS: Final[dict[str, Any]] = {}


class _BoundedEmitter(AsyncIOEventEmitter):
    """pyee's asyncio emitter, with a cap on handler tasks in flight (its own is unbounded)."""

    def __init__(self, owner: Emitter) -> None:
        super().__init__()
        self._owner = owner

    @property
    def in_flight(self) -> int:
        return len(self._waiting)

    def _emit_run(self, f: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            result = f(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - handler dispatch: a raising handler is reported, not fatal
            self.emit("error", error)
            return
        if result is None:  # a sync handler, done: the common case, checked first
            return
        if asyncio.iscoroutine(result):
            if len(self._waiting) >= self._owner.max_in_flight:
                result.close()  # never started: none of the handler's code ran
                self._owner._dropped_call(args[0] if args else None)
                return
            task: asyncio.Future[Any] = asyncio.ensure_future(result)
        elif isinstance(result, asyncio.Future):
            task = result  # already scheduled by the handler itself: it can only be tracked
        else:
            return
        task.add_done_callback(self._finished)
        self._waiting.add(task)

    def _finished(self, task: asyncio.Future[Any]) -> None:
        self._waiting.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            self.emit("error", error)


class Emitter:
    """Event-class-keyed emitter. Keys are class names, as pyee keys by string (and TikTokLive users expect it).

    At most ``max_in_flight`` async handler calls run at once; see the module documentation for what happens
    beyond. ``strict``: see :meth:`raise_if_failed`."""

    def __init__(self, max_in_flight: int = DEFAULT_MAX_IN_FLIGHT, *, strict: bool = False) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.max_in_flight = max_in_flight
        """Async handler calls allowed to run at once (may be changed at any time)."""
        self.dropped = 0
        """Async handler calls not started because ``max_in_flight`` were running."""
        self.strict = strict
        """Keep the first handler exception for :meth:`raise_if_failed` (tests); it is logged and reported either
        way."""
        self._failure: BaseException | None = None
        self._more_failures = 0
        self._pyee = _BoundedEmitter(self)
        self._pyee.add_listener("error", self._on_handler_error)
        self._counts: dict[type[BaseEvent], int] = {}
        # The handlers of each class, in pyee's order, refreshed on every change: emit() runs them without pyee's
        # per-event lock, lookup and list copy (the dispatch of every message goes through here).
        self._handlers: dict[type[BaseEvent], tuple[Callable[..., Any], ...]] = {}
        self.listened: frozenset[type[BaseEvent]] = frozenset()
        """Event classes that have at least one handler (recomputed on every change, read per message)."""
        self.on_change: Callable[[], None] | None = None
        self._error_wrappers: dict[object, ErrorHandler] = {}

    def add_listener(self, event_type: type[E], handler: Handler[E]) -> None:
        """Call ``handler`` for every event of exactly ``event_type``."""
        if event_type is ErrorEvent:
            # An ErrorEvent handler that raised would report its own error again: keep its errors to the log.
            wrapped = self._error_wrappers.setdefault(handler, _guarded(cast("ErrorHandler", handler), self._failed))
            self._pyee.add_listener(event_type.__name__, wrapped)
        else:
            self._pyee.add_listener(event_type.__name__, handler)
        self._counts[event_type] = self._counts.get(event_type, 0) + 1
        self._refresh(event_type)
        self._changed()

    def remove_listener(self, event_type: type[E], handler: Handler[E]) -> None:
        """Stop calling ``handler`` for ``event_type``; a handler that was not added is ignored."""
        target = self._error_wrappers.pop(handler, handler) if event_type is ErrorEvent else handler
        try:
            self._pyee.remove_listener(event_type.__name__, target)
        except KeyError:
            return
        remaining = self._counts.get(event_type, 0) - 1
        if remaining > 0:
            self._counts[event_type] = remaining
        else:
            self._counts.pop(event_type, None)
        self._refresh(event_type)
        self._changed()

    def _refresh(self, event_type: type[BaseEvent]) -> None:
        handlers = tuple(self._pyee.listeners(event_type.__name__))
        if handlers:
            self._handlers[event_type] = handlers
        else:
            self._handlers.pop(event_type, None)

    def emit(self, event: BaseEvent) -> None:
        """Run every handler of ``event``'s class, in the order they were added (async ones are scheduled; a
        handler added or removed by one of them counts from the next event)."""
        handlers = self._handlers.get(type(event))
        if handlers:
            run = self._pyee._emit_run
            args = (event,)
            for handler in handlers:
                run(handler, args, _NO_KWARGS)

    async def drain(self) -> None:
        """Wait for running async handlers to finish."""
        await self._pyee.wait_for_complete()

    @property
    def in_flight(self) -> int:
        """Async handler calls running now."""
        return self._pyee.in_flight

    def _dropped_call(self, event: object) -> None:
        self.dropped += 1
        if self.strict and self._failure is None:  # a handler that did not run may hide a failing assert
            self._failed(HandlerOverloadError(self.dropped, self.max_in_flight))
        if self.dropped != 1 and self.dropped % _REPORT_EVERY != 0:
            return
        logger.warning(
            "async handlers are not keeping up: %d calls running; dropped %d handler calls so far (%s)",
            self.max_in_flight,
            self.dropped,
            type(event).__name__,
        )
        # A dropped ErrorEvent handler call is only counted: reporting it would feed the same overload.
        if isinstance(event, BaseEvent) and not isinstance(event, ErrorEvent):
            self.report(HandlerOverloadError(self.dropped, self.max_in_flight), event)

    def _changed(self) -> None:
        self.listened = frozenset(self._counts)
        if self.on_change is not None:
            self.on_change()

    def report(self, error: BaseException, event: BaseEvent | None = None) -> None:
        """Emit ``error`` as an :class:`ErrorEvent` to its handlers (if any)."""
        if ErrorEvent in self.listened:
            self._pyee.emit(ErrorEvent.__name__, ErrorEvent(error, event))

    @property
    def failure(self) -> BaseException | None:
        """In strict mode, the first exception a handler raised that :meth:`raise_if_failed` has not raised yet."""
        return self._failure

    def raise_if_failed(self) -> None:
        """In strict mode, raise the first handler exception kept since the last call (then forget it); a note
        on it tells how many more handlers failed. Does nothing when no handler failed or strict is off."""
        failure, more = self._failure, self._more_failures
        self._failure, self._more_failures = None, 0
        if failure is None:
            return
        what = (
            "a handler call was dropped"
            if isinstance(failure, HandlerOverloadError)
            else "an event handler raised this"
        )
        failure.add_note(
            f"tiktok-live: {what} while the client was running (strict mode re-raises handler errors once the "
            "stream is over; strict=False only logs them and emits ErrorEvent)"
            + (f"; {more} more handler error(s) were logged" if more else "")
        )
        raise failure

    def _failed(self, error: BaseException) -> None:
        if not self.strict:
            return
        if self._failure is None:
            self._failure = error
        else:
            self._more_failures += 1

    def _on_handler_error(self, error: BaseException) -> None:
        logger.error("an event handler raised %s: %s", type(error).__name__, error, exc_info=error)
        self._failed(error)
        self.report(error)


def _guarded(handler: ErrorHandler, failed: Callable[[BaseException], None]) -> ErrorHandler:
    """``handler`` with its exceptions logged and passed to ``failed`` (an ErrorEvent handler's own errors are not
    reported as ErrorEvents: that would loop)."""
    if inspect.iscoroutinefunction(handler):

        async def guarded_async(event: ErrorEvent) -> None:
            try:
                result = handler(event)
                if result is not None:
                    await result
            except Exception as error:
                logger.exception("an ErrorEvent handler raised")
                failed(error)

        return guarded_async

    def guarded(event: ErrorEvent) -> None:
        try:
            result = handler(event)
        except Exception as error:
            logger.exception("an ErrorEvent handler raised")
            failed(error)
            return
        if inspect.isawaitable(result):
            logger.error("an ErrorEvent handler returned an awaitable; make it `async def`")

    return guarded
