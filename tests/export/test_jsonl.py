"""The JSON Lines sink: files (appended), stdout, and a reader that goes away."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tests.export.conftest import export_rooms, simulators
from tests.export.test_sink import SCHEMA_KEYS, records
from tests.pool.conftest import bounded
from tiktok_live.events import CommentEvent
from tiktok_live.export import JsonLinesSink, open_sink
from tiktok_live.testing import comment, end


@bounded(15)
async def test_a_file_gets_one_schema_line_per_event_appended(tmp_path: Path) -> None:
    target = tmp_path / "out" / "events.jsonl"
    target.parent.mkdir()
    async with simulators(1) as (sim,):
        sim.script(*(comment("viewer", str(n)) for n in range(10)), end())
        for _ in range(2):
            async with open_sink(str(target)) as sink:
                await export_rooms([sim], sink, CommentEvent)
    lines = target.read_text(encoding="utf-8").splitlines()
    parsed = [json.loads(line) for line in lines]
    assert [record["data"]["content"] for record in parsed] == [str(n) for n in range(10)] * 2
    assert all(set(record) == SCHEMA_KEYS and record["room_id"] == str(sim.room_id) for record in parsed)


@bounded(5)
async def test_dash_is_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    async with open_sink("-") as sink:
        for record in records(3):
            sink.send(record)
    assert [json.loads(line)["data"]["content"] for line in capsys.readouterr().out.splitlines()] == ["0", "1", "2"]


class ClosedPipe(io.StringIO):
    """A text stream whose reader went away."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


@bounded(5)
async def test_a_reader_that_went_away_fails_the_sink_for_good(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("ERROR", logger="tiktok_live.export"):
        async with JsonLinesSink(ClosedPipe()) as sink:
            for record in records(4):
                sink.send(record)
            await sink.flush()
            sink.send(records(1)[0])
    assert (sink.stats.accepted, sink.stats.delivered, sink.stats.dropped) == (5, 0, 5)
    assert any("the reader of <stream> went away" in record.getMessage() for record in caplog.records)
