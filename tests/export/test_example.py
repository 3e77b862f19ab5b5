"""``examples/redis_gift_counter.py`` in two other processes: together they count every room's gifts once."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from pathlib import Path

from tests.export.conftest import ServerProcess, export_rooms, simulators
from tests.pool.conftest import bounded
from tiktok_live.events import CommentEvent, GiftEvent
from tiktok_live.export import open_sink
from tiktok_live.testing import comment, end, gift, gift_streak

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "redis_gift_counter.py"


@bounded(30)
async def test_two_example_workers_count_the_gifts_per_room(redis_server: ServerProcess) -> None:
    url = f"redis://127.0.0.1:{redis_server.port}/0"
    async with simulators(2) as (first, second):
        first.script(*gift_streak("ann", repeats=3), comment("ann", "hi"), gift("bob"), end())
        second.script(
            *gift_streak("cat", repeats=5), gift("dan", repeat_count=2), *gift_streak("eve", repeats=1), end()
        )
        async with open_sink(url) as sink:
            await export_rooms([first, second], sink, GiftEvent, CommentEvent)
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable, str(EXAMPLE), url, name, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        for name in ("worker-1", "worker-2")
    ]
    totals: Counter[str] = Counter()
    for worker in workers:
        out, err = await worker.communicate()
        assert worker.returncode == 0, err.decode()
        for line in out.decode().splitlines():
            room_id, count = line.split()
            totals[room_id] += int(count)
    assert totals == {str(first.room_id): 3 + 1, str(second.room_id): 5 + 2 + 1}
