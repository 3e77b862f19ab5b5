"""The sign client (sdk/_sign.py) against the simulator's sign server, with an injected sleep: retries after
Retry-After, backoff on 5xx, no retry for rejected keys, and the gate paced and paused. No real time is waited."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.support import FakeClock
from tiktok_live._config import ReconnectPolicy
from tiktok_live._sign import SignClient
from tiktok_live.errors import SignAPIError, SignAPIKeyError, SignatureRateLimitError
from tiktok_live.testing import Simulator

POLICY = ReconnectPolicy(base_delay=0.5, max_delay=8.0, jitter=0.0, max_attempts=4)


class RecordingGate:
    """A SignGate that lets everything through and records what it was asked."""

    def __init__(self) -> None:
        self.acquired = 0
        self.pauses: list[float] = []

    async def acquire(self) -> None:
        self.acquired += 1

    def pause(self, seconds: float) -> None:
        self.pauses.append(seconds)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def _signer(sim: Simulator, http: aiohttp.ClientSession, clock: FakeClock, gate: RecordingGate) -> SignClient:
    return SignClient(sim.config(), lambda: http, gate=gate, rng=random.Random(1), sleep=clock.sleep)


async def test_a_rate_limit_is_retried_after_retry_after_and_pauses_the_gate(http: aiohttp.ClientSession) -> None:
    clock, gate = FakeClock(), RecordingGate()
    async with Simulator(sign_status=429, sign_fail_times=1, sign_retry_after=2.5) as sim:
        bundle = await _signer(sim, http, clock, gate).sign_with_retry(sim.room_id, POLICY)
    assert bundle.result.push_server and bundle.cookies
    assert clock.sleeps == [2.5]
    assert gate.acquired == 2 and gate.pauses == [2.5]
    assert [request.status for request in sim.sign_requests] == [429, 200]


async def test_server_errors_back_off_per_the_policy(http: aiohttp.ClientSession) -> None:
    clock, gate = FakeClock(), RecordingGate()
    async with Simulator(sign_status=503, sign_fail_times=3) as sim:
        await _signer(sim, http, clock, gate).sign_with_retry(sim.room_id, POLICY)
    assert clock.sleeps == [0.5, 1.0, 2.0]
    assert gate.pauses == [] and len(sim.sign_requests) == 4


async def test_retries_stop_at_max_attempts(http: aiohttp.ClientSession) -> None:
    clock, gate = FakeClock(), RecordingGate()
    async with Simulator(sign_status=503) as sim:
        with pytest.raises(SignAPIError, match="HTTP 503") as raised:
            await _signer(sim, http, clock, gate).sign_with_retry(sim.room_id, POLICY)
    assert raised.value.retryable
    assert clock.sleeps == [0.5, 1.0, 2.0] and len(sim.sign_requests) == 4


async def test_a_rejected_key_is_never_retried(http: aiohttp.ClientSession) -> None:
    clock, gate = FakeClock(), RecordingGate()
    async with Simulator(sign_status=401) as sim:
        with pytest.raises(SignAPIKeyError):
            await _signer(sim, http, clock, gate).sign_with_retry(sim.room_id, POLICY)
    assert clock.sleeps == [] and len(sim.sign_requests) == 1


async def test_a_retry_after_beyond_max_delay_is_raised_not_waited(http: aiohttp.ClientSession) -> None:
    clock, gate = FakeClock(), RecordingGate()
    async with Simulator(sign_status=429, sign_retry_after=600.0) as sim:
        with pytest.raises(SignatureRateLimitError) as raised:
            await _signer(sim, http, clock, gate).sign_with_retry(sim.room_id, POLICY)
    assert raised.value.retry_after == 600.0
    assert clock.sleeps == [] and gate.pauses == [8.0]  # the gate pause is capped at max_delay as well
