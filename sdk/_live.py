"""Waiting for a host to go live: poll a live check with backoff, without the sign server or a WebSocket.

:func:`poll_until_live` is the loop behind ``client.wait_until_live()``, ``connect(wait_live=True)`` and follow mode.
It knows nothing of HTTP: it calls ``check`` (which returns the live room id, or None while the host is offline),
and sleeps with the injected ``sleep`` between checks, so tests drive it without waiting (and see every pause).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from typing import Final

from tiktok_live.errors import TikTokLiveError

__all__ = ["MAX_BACKOFF", "check_interval", "poll_until_live"]

logger = logging.getLogger("tiktok_live.lookup")

MAX_BACKOFF: Final = 600.0
"""The longest pause between two live checks after failures (429s, 5xx, network), in seconds, unless the poll
interval itself is longer or TikTok's ``Retry-After`` asks for more."""


def check_interval(poll_interval: float, name: str = "poll_interval") -> float:
    """``poll_interval`` as a float, or ValueError when it is not a positive, finite number of seconds."""
    if isinstance(poll_interval, bool) or not isinstance(poll_interval, int | float):
        raise ValueError(f"{name} must be a number of seconds (got {type(poll_interval).__name__})")
    if not (math.isfinite(poll_interval) and poll_interval > 0):
        raise ValueError(f"{name} must be a positive number of seconds, e.g. 30 (got {poll_interval!r})")
    return float(poll_interval)


async def poll_until_live(
    check: Callable[[], Awaitable[int | None]],
    poll_interval: float,
    *,
    label: str,
    sleep: Callable[[float], Awaitable[None]],
    max_backoff: float = MAX_BACKOFF,
) -> int:
    """Call ``check`` every ``poll_interval`` seconds until it returns a room id, and return that.

    A check that fails with a retryable error (a 429, a 5xx, a network failure, a captcha page) is logged and
    retried later: the pause doubles after each failure in a row, up to ``max_backoff`` (or the poll interval, if
    longer), and is at least what a ``Retry-After`` asked; a check that works again resets it. Other errors
    (UserNotFoundError, AgeRestrictedError, ...) are raised. Cancellation propagates at once.
    """
    ceiling = max(max_backoff, poll_interval)
    delay = poll_interval
    failures = 0
    while True:
        try:
            room_id = await check()
        except TikTokLiveError as error:
            if not error.retryable:
                raise
            failures += 1
            asked = getattr(error, "retry_after", None)
            delay = min(ceiling, poll_interval * 2.0 ** min(failures, 32))
            if isinstance(asked, int | float) and asked > delay:
                delay = float(asked)
            logger.warning("%s: the live check failed (%s); checking again in %.0f s", label, error, delay)
        else:
            if room_id is not None:
                return room_id
            failures = 0
            delay = poll_interval
            logger.info("%s is not live; checking again in %g s", label, delay)
        await sleep(delay)
