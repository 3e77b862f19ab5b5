"""The JSON Lines sink on a full disk: a batch is written whole or not at all, so the file never ends with half a
line. A file-size limit (RLIMIT_FSIZE, in a child process) stands in for the full disk: writes past it fail with
EFBIG after writing what fits, as ENOSPC does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

LIMIT = 10_000

SCRIPT = """
import asyncio, json, resource, sys
from tiktok_live.events import CommentEvent
from tiktok_live.export import JsonLinesSink
from tiktok_live.export._sink import Record

async def main(path: str) -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), resource.RLIM_INFINITY))
    sink = JsonLinesSink(path, batch_size=7, retry_base=0.01, retry_max=0.02, close_timeout=0.5)
    async with sink:
        for n in range(200):
            sink.send(Record.from_event(CommentEvent(CommentEvent.PROTO(content=f"comment {n} " + "x" * n))))
    stats = sink.stats
    print(json.dumps({"accepted": stats.accepted, "delivered": stats.delivered, "dropped": stats.dropped,
                      "last_error": stats.last_error}))

asyncio.run(main(sys.argv[1]))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_a_full_disk_never_leaves_half_a_line(tmp_path: Path) -> None:
    target = tmp_path / "events.jsonl"
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(target), str(LIMIT)], capture_output=True, text=True, timeout=60, check=True
    )
    stats = json.loads(result.stdout)
    data = target.read_bytes()
    assert 0 < len(data) <= LIMIT
    assert data.endswith(b"\n")
    lines = data.decode("utf-8").splitlines()
    assert [json.loads(line)["data"]["content"].split()[1] for line in lines] == [str(n) for n in range(len(lines))]
    assert stats["delivered"] == len(lines)  # what was counted delivered is exactly what is in the file
    assert stats["dropped"] == stats["accepted"] - len(lines) > 0
    assert "File too large" in stats["last_error"]
