"""One sign budget for the whole fleet: fixed windows counted in Redis, as the sign server counts them; a 429's
Retry-After pauses every worker."""

from __future__ import annotations

import pytest

from tests.fleet.conftest import FleetHarness, wait_for

LIMIT = 5
RETRY_AFTER = 2.0


@pytest.mark.fleet(hosts=30, speed=1.0, sign_retry_after=RETRY_AFTER)
async def test_the_fleet_never_exceeds_the_sign_budget_and_a_429_pauses_every_worker(fleet: FleetHarness) -> None:
    sim = fleet.sim
    sim.sign_status, sim.sign_fail_times = 429, 1  # the first sign request is rate-limited, then all succeed
    await fleet.add()
    for number in range(3):
        fleet.worker(f"w{number}", "--sign-limit", f"second={LIMIT}", "--sign-limit", "minute=1000")

    async def all_connected() -> bool:
        return all(room.events > 0 for room in (await fleet.rooms()).values())

    await wait_for(all_connected, 60, "all 30 rooms to connect through a budget of 5 signs a second")
    counts = sim.sign_counts(1)
    assert sum(counts.values()) >= 31  # 30 rooms and the 429
    assert max(counts.values()) <= LIMIT, counts  # counted by the sign server, per fixed window of a second
    # After the 429 (Retry-After 2 s), nobody signed until the pause was over: requests already granted may still
    # arrive just after it, hence the margin at the start.
    limited = next(request for request in sim.sign_requests if request.status == 429)
    during = [r.at - limited.at for r in sim.sign_requests if limited.at + 0.8 < r.at < limited.at + RETRY_AFTER - 0.1]
    assert not during, f"sign requests during the pause: {during}"
