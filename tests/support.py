"""Helpers every test area may use: bounded condition waits and an injectable fake clock.

Tests never wait for time to pass and never assert on elapsed wall time. They wait for a condition, bounded
(:func:`wait_for_condition`), or drive time-dependent code with a :class:`FakeClock` passed as its ``clock=`` and
``sleep=``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final

POLL: Final = 0.005
"""How often :func:`wait_for_condition` re-checks a condition that has no event to wait on (seconds)."""


async def wait_for_condition(
    condition: Callable[[], bool],
    timeout: float = 5.0,  # noqa: ASYNC109 - bounds a polling loop, not one await
    message: str = "",
) -> None:
    """Return as soon as ``condition()`` holds; fail the test when it still does not after ``timeout`` seconds.

    For conditions on counters and state that offer nothing to await; the poll interval is not a wait for
    something to happen, the deadline only bounds a test that would otherwise hang.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() >= deadline:
            raise AssertionError(message or f"condition not met within {timeout:g} s")
        await asyncio.sleep(POLL)


class FakeClock:
    """A monotonic clock that moves only when told: pass ``clock`` as ``clock=`` and :meth:`sleep` as ``sleep=``.

    :meth:`sleep` records each requested delay in ``sleeps``, advances the clock by it and yields to the event
    loop once (so other tasks run as they would during a real sleep), without waiting for any real time.
    Tests use delays that are exact in binary (1/16 s, not 0.05 s), so that time adds up exactly.
    """

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        assert seconds >= 0, "a monotonic clock never goes back"
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        """Record ``seconds``, advance the clock by it, and let other tasks run once."""
        self.sleeps.append(seconds)
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)
