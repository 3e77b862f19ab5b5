"""``watch @a @b @c [--to URL]`` through :func:`tiktok_live.export.cli.watch_many`, with one simulator per user."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from tests.export.conftest import ServerProcess, simulators
from tests.pool.conftest import bounded, until
from tiktok_live.cli import EXIT_USER, Printer, UsageError, build_parser
from tiktok_live.export.cli import EXPORT_EXCLUDED, add_watch_options, watch_many
from tiktok_live.testing import comment, end

USERS = ["@ann", "@ben", "@cat"]


def watch_args(*extra: str) -> argparse.Namespace:
    """``watch`` options as the command line parses them, on embedded simulators playing 50x fast."""
    args = build_parser().parse_args(["watch", "@ann", "--simulator", "--simulator-speed", "50", *extra])
    args.max_connecting = 8
    return args


def printer(args: argparse.Namespace) -> tuple[Printer, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Printer(json_mode=args.json, out=out, err=err, room_id=lambda: None), out, err


def test_the_watch_options() -> None:
    parser = argparse.ArgumentParser()
    add_watch_options(parser)
    args = parser.parse_args(["--to", "redis://localhost:6379/0", "--max-connecting", "3"])
    assert (args.to, args.max_connecting) == ("redis://localhost:6379/0", 3)
    assert parser.parse_args([]).to is None


@bounded(20)
async def test_every_room_is_exported_to_a_file(tmp_path: Path) -> None:
    args = watch_args()
    out_printer, out, err = printer(args)
    target = tmp_path / "events.jsonl"
    assert await watch_many(args, out_printer, USERS, str(target)) == 0
    records = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    rooms = {record["room_id"] for record in records}
    assert len(rooms) == 3 and None not in rooms
    types = {record["type"] for record in records}
    assert {"ConnectEvent", "CommentEvent", "GiftEvent", "LiveEndEvent", "DisconnectEvent"} <= types
    assert not types & set(EXPORT_EXCLUDED)
    assert out.getvalue() == ""
    assert f"exported {len(records)} of {len(records)} events to {target}" in err.getvalue()
    assert out_printer.stats.messages > 0


@bounded(20)
async def test_rooms_go_to_one_redis_stream(redis_server: ServerProcess) -> None:
    args = watch_args("--events", "comment,gift")
    out_printer, _, err = printer(args)
    url = f"redis://127.0.0.1:{redis_server.port}/0?stream=rooms"
    assert await watch_many(args, out_printer, USERS[:2], url) == 0
    client = aioredis.Redis(host="127.0.0.1", port=redis_server.port, decode_responses=True)
    try:
        entries = await client.xrange("rooms")
    finally:
        await client.aclose()
    records = [json.loads(fields["event"]) for _, fields in entries]
    assert {record["type"] for record in records} == {"CommentEvent", "GiftEvent"}
    assert len({record["room_id"] for record in records}) == 2
    assert f"exported {len(records)} of {len(records)} events" in err.getvalue()


@bounded(20)
async def test_several_rooms_print_tagged_lines() -> None:
    args = watch_args("--events", "comment")
    out_printer, out, _ = printer(args)
    assert await watch_many(args, out_printer, USERS[:2], None) == 0
    lines = out.getvalue().splitlines()
    assert lines and all(" @ann comment " in line or " @ben comment " in line for line in lines)
    assert any(" @ann " in line for line in lines) and any(" @ben " in line for line in lines)


@bounded(20)
async def test_json_lines_carry_each_room(capsys: pytest.CaptureFixture[str]) -> None:
    args = watch_args("--json", "--events", "comment,connect")
    out_printer, out, _ = printer(args)
    assert await watch_many(args, out_printer, USERS[:2], None) == 0
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len({record["room_id"] for record in records}) == 2
    args = watch_args("--events", "connect")
    out_printer, out, _ = printer(args)
    assert await watch_many(args, out_printer, USERS[:2], "-") == 0  # --to -: the sink owns stdout
    assert out.getvalue() == ""
    assert [json.loads(line)["type"] for line in capsys.readouterr().out.splitlines()] == ["ConnectEvent"] * 2


@pytest.mark.parametrize(
    ("users", "to", "extra", "message"),
    [
        (["@ann"], "kafka://localhost:9092", (), "--to: unsupported sink kafka://"),
        (["not a handle!"], None, (), "not a TikTok @handle"),
        ([], None, (), "at least one @user"),
        (["@ann"], None, ("--events", "nope"), "unknown event 'nope'"),
        (["@ann"], "/nonexistent-folder/events.jsonl", (), "--to: cannot open /nonexistent-folder/events.jsonl"),
    ],
)
@bounded(5)
async def test_usage_errors(users: list[str], to: str | None, extra: tuple[str, ...], message: str) -> None:
    args = watch_args(*extra)
    with pytest.raises(UsageError, match=message):
        await watch_many(args, printer(args)[0], users, to)


@bounded(20)
async def test_a_failed_room_is_reported_and_sets_the_exit_code() -> None:
    async with simulators(1) as (sim,):
        sim.script(comment("viewer", "hi"), end())
        args = build_parser().parse_args(
            [
                "watch",
                "@x",
                "--web-url",
                sim.url,
                "--webcast-url",
                sim.url,
                "--sign-url",
                sim.url,
                "--events",
                "comment",
            ]
        )
        out_printer, out, err = printer(args)
        assert await watch_many(args, out_printer, [sim.user, "@nobody_here"], None) == EXIT_USER
    assert "comment" in out.getvalue()
    assert "tiktok-live: @nobody_here: " in err.getvalue()


@bounded(5)
async def test_max_connecting_must_be_positive() -> None:
    args = watch_args()
    args.max_connecting = 0
    with pytest.raises(UsageError, match="--max-connecting"):
        await watch_many(args, printer(args)[0], ["@ann"], None)


@bounded(15)
async def test_ctrl_c_closes_the_pool_and_flushes_the_sink(tmp_path: Path) -> None:
    args = build_parser().parse_args(["watch", "@ann", "--simulator"])  # the ~20 s show at normal speed
    args.max_connecting = 8
    out_printer, _, err = printer(args)
    target = tmp_path / "events.jsonl"
    task = asyncio.create_task(watch_many(args, out_printer, USERS[:2], str(target)))
    await until(lambda: target.exists() and target.stat().st_size > 0)
    task.cancel()  # what asyncio.run does on Ctrl-C
    with pytest.raises(asyncio.CancelledError):
        await task
    lines = target.read_text(encoding="utf-8").splitlines()
    assert lines and all(json.loads(line)["v"] == 1 for line in lines)
    assert f"exported {len(lines)} of {len(lines)} events" in err.getvalue()
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


class ClosedPipe(io.StringIO):
    """A terminal whose reader went away (``tiktok-live watch @a @b | head``)."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


@bounded(15)
async def test_a_closed_output_stops_the_rooms() -> None:
    args = build_parser().parse_args(["watch", "@ann", "--simulator"])  # the ~20 s show at normal speed
    args.max_connecting = 8
    broken = Printer(json_mode=False, out=ClosedPipe(), err=io.StringIO(), room_id=lambda: None)
    assert await watch_many(args, broken, USERS[:2], None) == 0  # stops quietly, as for a single room
    assert broken.closed_output and broken.output_error is None
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
