"""How a worker computes its fair share of the rooms (pure: no Redis)."""

from __future__ import annotations

import pytest

from tiktok_live.fleet._worker import fair_share


def shares(rooms: int, workers: list[tuple[str, int]]) -> list[int]:
    return [fair_share(rooms, workers, name, capacity) for name, capacity in workers]


@pytest.mark.parametrize(
    ("rooms", "workers", "expected"),
    [
        (30, [("a", 100), ("b", 100), ("c", 100)], [10, 10, 10]),
        (30, [("a", 100), ("b", 100), ("c", 100), ("d", 100)], [8, 8, 7, 7]),
        (20, [("small", 5), ("big", 100)], [5, 15]),  # the small worker is full: the big one takes the rest
        (20, [("a", 5), ("b", 5)], [5, 5]),  # not enough capacity: nobody exceeds theirs
        (0, [("a", 10), ("b", 10)], [0, 0]),
        (1, [("a", 10), ("b", 10)], [1, 0]),
    ],
)
def test_shares_add_up_to_the_rooms_within_capacities(
    rooms: int, workers: list[tuple[str, int]], expected: list[int]
) -> None:
    assert shares(rooms, workers) == expected
    assert sum(expected) == min(rooms, sum(capacity for _, capacity in workers))


def test_a_worker_not_yet_in_the_heartbeats_counts_itself() -> None:
    assert fair_share(30, [("a", 100), ("b", 100)], "new", 100) == 10
