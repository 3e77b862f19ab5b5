"""Red-team regressions for RoomPool (issue 13): one sign-server answer must not hang the pool, its published
limits must not freeze it, its rate-limit request must not carry the key to another host, and its logs must not
show a session id.

Rooms run against simulators on loopback behind a hostile sign server that relays to them. Every test is bounded.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from typing import Final

import aiohttp
import pytest
from aiohttp import web

from tests.hostile import HostileServer
from tests.pool.conftest import bounded, simulators
from tests.support import FakeClock
from tiktok_live import ReconnectPolicy, TikTokLiveError
from tiktok_live._sign import MAX_PAUSE
from tiktok_live.pool import RATE_LIMITS_PATH, RoomPool, RoomState, SignLimiter
from tiktok_live.testing import Simulator, comment, end

KEY: Final = "KEY-sk_live_5ecret0123456789"
SESSION: Final = "SESSION-ab12cd34ef56secret"
POLICY = ReconnectPolicy(base_delay=0.05, max_delay=0.2, max_attempts=3)


class RelaySign:
    """A sign server for several simulators: relays ``/webcast/fetch`` to the simulator of the asked room, except
    that the first ``fail_first`` requests are answered with ``failure``; ``/webcast/rate_limits`` answers
    ``limits`` (raw text) when set, else 404."""

    def __init__(
        self,
        sims: list[Simulator],
        *,
        failure: Callable[[web.Request], web.Response] | None = None,
        fail_first: int = 0,
        limits: str | None = None,
    ) -> None:
        self._sims = {str(sim.room_id): sim for sim in sims}
        self._failure = failure
        self._fail_first = fail_first
        self._limits = limits
        self.signs = 0
        self.server = HostileServer({"/webcast/fetch": self._sign, RATE_LIMITS_PATH: self._rate_limits})

    async def _sign(self, request: web.Request) -> web.Response:
        self.signs += 1
        if self._failure is not None and self.signs <= self._fail_first:
            return self._failure(request)
        sim = self._sims[request.query["room_id"]]
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{sim.url}/webcast/fetch", params=request.query) as answer,
        ):
            body = await answer.read()
            headers = {"X-Set-TT-Cookie": answer.headers.get("X-Set-TT-Cookie", "")}
            return web.Response(status=answer.status, body=body, content_type=answer.content_type, headers=headers)

    async def _rate_limits(self, request: web.Request) -> web.Response:
        if self._limits is None:
            return web.Response(status=404)
        return web.Response(text=self._limits, content_type="application/json")


def _rate_limited(retry_after: str) -> Callable[[web.Request], web.Response]:
    def answer(request: web.Request) -> web.Response:
        return web.json_response({"message": "slow down"}, status=429, headers={"Retry-After": retry_after})

    return answer


def _add_rooms(pool: RoomPool, sims: list[Simulator], sign_url: str) -> None:
    for sim in sims:
        sim.script(comment("alice", f"hi from {sim.user}"), end())
        pool.add(sim.user, room_id=sim.room_id, web_url=sim.url, webcast_url=sim.url, sign_url=sign_url)


def _settled(pool: RoomPool) -> dict[str, str]:
    """Each room's outcome: ``ended``, or ``failed: <error class>`` (a typed error)."""
    outcome: dict[str, str] = {}
    for room in pool:
        if room.state is RoomState.FAILED:
            assert isinstance(room.error, TikTokLiveError), room.error
            outcome[room.unique_id] = f"failed: {type(room.error).__name__}"
        else:
            outcome[room.unique_id] = room.state.value
    return outcome


# ── item 4: one 429 never hangs the pool ────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("retry_after", ["1e9", "inf", "nan", "-5", "1e400"])
@bounded(30)
async def test_one_absurd_retry_after_never_hangs_a_pool(retry_after: str) -> None:
    async with simulators(3) as sims:
        relay = RelaySign(sims, failure=_rate_limited(retry_after), fail_first=1)
        async with relay.server, RoomPool(max_connecting=1, reconnect=POLICY, fetch_room_info=False) as pool:
            _add_rooms(pool, sims, relay.server.url)
            await asyncio.wait_for(pool.wait(), 20)  # returns: no room is left waiting behind an endless pause
            outcome = _settled(pool)
            limiter = next(iter(pool.limiters.values()))
    rooms = [sim.user for sim in sims]
    if retry_after == "1e9":  # a real wait beyond max_delay: that room gives up as a lone client would
        assert outcome == {rooms[0]: "failed: SignatureRateLimitError", rooms[1]: "ended", rooms[2]: "ended"}
        assert limiter.pauses == 1
    else:  # not a number to wait on: retried with backoff, every room connects
        assert outcome == dict.fromkeys(rooms, "ended")


@pytest.mark.parametrize("seconds", [1e9, math.inf, math.nan, -5.0, 0.0])
@bounded(5)
async def test_a_limiter_pause_is_bounded_whatever_it_is_given(seconds: float) -> None:
    clock = FakeClock(1000.0)
    limiter = SignLimiter(clock=clock, sleep=clock.sleep)
    limiter.pause(seconds)
    await limiter.acquire()
    assert all(math.isfinite(delay) and 0 < delay <= MAX_PAUSE for delay in clock.sleeps), clock.sleeps
    assert clock.now - 1000.0 <= MAX_PAUSE and limiter.acquired == 1


@pytest.mark.parametrize(
    "published",
    [
        '{"second": {"max": NaN}}',
        '{"minute": {"max": Infinity}, "second": {"max": -Infinity}}',
        '{"minute": {"max": 5, "remaining": NaN, "reset_at": NaN}}',
        '{"minute": {"max": 1e400}}',
        '{"minute": {"max": "' + "9" * 5000 + '"}}',
        '{"hour": {"max": 5, "remaining": -3, "reset_at": -1}}',
        '{"minute": {"max": 0.001}}',
        '{"second": [1, 2], "minute": null, "day": true}',
        "[" * 100_000 + "]" * 100_000,
        '{"data": "nothing"}',
    ],
)
@bounded(30)
async def test_garbage_published_limits_never_freeze_signing(published: str) -> None:
    async with simulators(3) as sims:
        relay = RelaySign(sims, limits=published)
        async with relay.server, RoomPool(max_connecting=1, reconnect=POLICY, fetch_room_info=False) as pool:
            _add_rooms(pool, sims, relay.server.url)
            await asyncio.wait_for(pool.wait(), 20)
            outcome = _settled(pool)
            limiters = list(pool.limiters.values())
    assert outcome == {sim.user: "ended" for sim in sims}
    for limiter in limiters:
        for bucket in limiter.buckets:
            assert math.isfinite(bucket.capacity) and bucket.capacity >= 1 and math.isfinite(bucket.tokens)


def test_garbage_limits_give_no_bucket() -> None:
    for garbage in (
        {"second": {"max": math.nan}},
        {"minute": {"max": math.inf}},
        {"minute": math.nan},
        {"minute": {"max": 10**5000}},
        {"minute": {"max": "nan"}},
        {"minute": {"max": -5}},
    ):
        assert SignLimiter.from_rate_limits(garbage) is None, garbage
    limiter = SignLimiter.from_rate_limits({"minute": {"max": 5, "remaining": math.nan, "reset_at": math.inf}})
    assert limiter is not None and [bucket.tokens for bucket in limiter.buckets] == [5.0]


# ── item 3: the pool's rate-limit request never carries the key to another host ─────────────────────────────


@bounded(30)
async def test_a_rate_limits_redirect_to_another_origin_never_carries_the_key() -> None:
    async def limits(request: web.Request) -> web.Response:
        return web.json_response({"minute": {"max": 100}})

    async with HostileServer({RATE_LIMITS_PATH: limits}) as other, simulators(1) as sims:
        relay = RelaySign(sims)

        async def moved(request: web.Request) -> web.Response:
            return web.Response(status=302, headers={"Location": f"{other.url}{RATE_LIMITS_PATH}"})

        relay.server.routes[RATE_LIMITS_PATH] = moved
        async with relay.server, RoomPool(sign_api_key=KEY, reconnect=POLICY, fetch_room_info=False) as pool:
            _add_rooms(pool, sims, relay.server.url)
            await asyncio.wait_for(pool.wait(), 20)
            outcome = _settled(pool)
            limiters = list(pool.limiters.values())
    assert other.seen == []
    assert outcome == {sims[0].user: "ended"}
    assert [limiter.buckets for limiter in limiters] == [()]  # unthrottled: the redirect was not followed


# ── item 5: the pool's logs never show a session id ─────────────────────────────────────────────────────────


@bounded(30)
async def test_a_sign_redirect_loop_never_puts_the_session_id_in_pool_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("WHITELIST_AUTHENTICATED_SESSION_ID_HOST", "127.0.0.1")
    caplog.set_level(logging.DEBUG)

    def loop(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": f"/webcast/fetch?{request.query_string}"})

    async with simulators(2) as sims:
        relay = RelaySign(sims, failure=loop, fail_first=1_000)
        options = {"session_id": SESSION, "sign_api_key": KEY, "reconnect": POLICY, "fetch_room_info": False}
        async with relay.server, RoomPool(max_connecting=1, **options) as pool:  # type: ignore[arg-type]
            _add_rooms(pool, sims, relay.server.url)
            await asyncio.wait_for(pool.wait(), 20)
            errors = [str(room.error) for room in pool]
    assert any(SESSION in seen.query for seen in relay.server.requests_to("/webcast/fetch"))  # it was sent
    assert all(errors)
    handler = logging.Handler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logged = "\n".join(handler.format(record) for record in caplog.records)
    for text in (*errors, logged):
        assert SESSION not in text and KEY not in text
