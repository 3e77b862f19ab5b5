"""Helpers for the pool tests: simulators (one per host), room options pointing at them, and a per-test time bound.

Every test runs in-process against simulators on 127.0.0.1 and is bounded by :func:`bounded` (no network beyond
loopback, no unbounded wait).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import ParamSpec, TypeVar

import pytest

from tests.support import wait_for_condition
from tiktok_live.pool import ClientOptions
from tiktok_live.testing import Simulator

P = ParamSpec("P")
T = TypeVar("T")
FAST = {"ping_interval": 0.05, "ack_grace": 1.0, "enter_room_timeout": 1.0}
"""Simulator options with short client-duty deadlines."""


def bounded(seconds: float) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
    """Fail the decorated async test if it runs longer than ``seconds`` (fixtures are bounded on their own)."""

    def decorate(test: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        @functools.wraps(test)
        async def run(*args: P.args, **kwargs: P.kwargs) -> T:
            async with asyncio.timeout(seconds):
                return await test(*args, **kwargs)

        return run

    return decorate


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    """Wait until ``condition()`` holds, at most ``seconds`` (:func:`tests.support.wait_for_condition`)."""
    await wait_for_condition(condition, seconds)


def room_options(sim: Simulator) -> ClientOptions:
    """Client options aiming a pool room at ``sim`` (pages, webcast API and sign server)."""
    return {"web_url": sim.url, "webcast_url": sim.url, "sign_url": sim.url}


@contextlib.asynccontextmanager
async def simulators(count: int, **options: object) -> AsyncIterator[list[Simulator]]:
    """``count`` started simulators for hosts ``host0`` … with distinct seeds (so distinct room ids)."""
    async with contextlib.AsyncExitStack() as stack:
        sims = [
            await stack.enter_async_context(Simulator(f"host{i}", seed=i, **{**FAST, **options}))  # type: ignore[arg-type]
            for i in range(count)
        ]
        yield sims


@pytest.fixture
async def three_sims() -> AsyncIterator[list[Simulator]]:
    """Three started simulators with empty scripts."""
    async with simulators(3) as sims:  # binds three loopback ports: nothing to wait for
        yield sims
