"""The bench's output: machine facts, the results table (stdout and ``docs/benchmarks.md``) and targets."""

from __future__ import annotations

import os
import platform
import re
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["Row", "fleet_rows_from", "machine", "markdown", "merge_rows", "rows_from", "table"]


def machine() -> dict[str, Any]:
    """CPU, cores, Python, protobuf (and its backend), aiohttp and pyee versions."""
    from google.protobuf.internal import api_implementation

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "os": platform.platform(),
        "protobuf": metadata.version("protobuf"),
        "protobuf_backend": api_implementation.Type(),
        "aiohttp": metadata.version("aiohttp"),
        "pyee": metadata.version("pyee"),
        "tiktok_live": metadata.version("tiktok-live"),
    }


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table. ``ok`` is None when the row has no target (or was skipped)."""

    number: str
    what: str
    rate: float | None = None
    us: float | None = None
    ratio: float | None = None
    other: str = ""
    target: str = ""
    ok: bool | None = None


def _fmt_rate(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _fmt_us(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"


def _fmt_ratio(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}" if value >= 0.01 else f"{value:.4f}"


def _status(ok: bool | None) -> str:
    return "" if ok is None else ("pass" if ok else "MISS")


def rows_from(results: dict[str, Any]) -> list[Row]:
    """The table's rows from the raw results (missing or skipped parts become notes)."""
    decode = results["decode"]
    limit = decode["upb"]["msg_per_s"]
    rows = [
        Row(
            "1",
            "raw upb limit: parse fetch result + each payload, ListFields()",
            limit,
            decode["upb"]["us_per_msg"],
            1.0,
        ),
        Row(
            "1+",
            "same, plus push-frame parse and gunzip (info: what every client pays first)",
            decode["upb_frames"]["msg_per_s"],
            decode["upb_frames"]["us_per_msg"],
            decode["upb_frames"]["msg_per_s"] / limit,
        ),
    ]
    floor = decode["upb_frames"]["msg_per_s"]
    session_rate = decode["session"]["msg_per_s"]
    rows.append(
        Row(
            "2s",
            "tiktok_live.protocol.Session.receive(bytes), all event types wanted (the I/O-free core: frame, gunzip, "
            "ack, dedupe, decode, derived events)",
            session_rate,
            decode["session"]["us_per_msg"],
            session_rate / limit,
            other=f"{session_rate / floor:.2f} of row 1+",
            target="≥ 0.85 of row 1+",
            ok=session_rate >= 0.85 * floor,
        )
    )
    all_rate = decode["all"]["msg_per_s"]
    rows.append(
        Row(
            "2",
            f"tiktok_live, every event type subscribed ({decode['all']['subscribed_types']} classes, sync no-op): "
            "the client's session and its fan-out to handlers (no socket)",
            all_rate,
            decode["all"]["us_per_msg"],
            all_rate / limit,
            other=f"{all_rate / floor:.2f} of row 1+",
            target="≥ 1/3 of row 1",
            ok=all_rate >= limit / 3,
        )
    )
    lazy_rate = decode["lazy"]["msg_per_s"]
    rows.append(
        Row(
            "3",
            f"tiktok_live lazy: only CommentEvent subscribed ({decode['lazy']['decoded_messages']:,} of "
            f"{decode['lazy']['messages']:,} payloads decoded)",
            lazy_rate,
            decode["lazy"]["us_per_msg"],
            lazy_rate / limit,
            target="≥ 1/2 of row 1",
            ok=lazy_rate >= limit / 2,
        )
    )
    peer = results.get("peer", {})
    if "msg_per_s" in peer:
        factor = all_rate / peer["msg_per_s"]
        rows.append(
            Row(
                "4",
                f"TikTokLive {peer['version']} (USES ITS INTERNALS: push frame → gunzip → parse → its event "
                "parsing → pyee emit), comment + gift handlers",
                peer["msg_per_s"],
                peer["us_per_msg"],
                peer["msg_per_s"] / limit,
                other=f"row 2 is {factor:,.0f}x faster",
                target="row 2 ≥ 100x row 4",
                ok=factor >= 100,
            )
        )
    else:
        rows.append(Row("4", "TikTokLive 7.0.1", other=f"skipped: {peer.get('skipped', 'not run')}"))
    e2e = results.get("e2e", {})
    if "msg_per_cpu_s" in e2e:
        busy = e2e["cpu_s"] / e2e["wall_s"]
        bound = "client" if busy >= 0.9 else "simulator"
        rows.append(
            Row(
                "5",
                f"end to end over loopback: simulator process → connected client (every event subscribed; acks, "
                f"heartbeats every {e2e['ping_interval']:g} s); msg/s = per client CPU second",
                e2e["msg_per_cpu_s"],
                e2e["cpu_us_per_msg"],
                e2e["msg_per_cpu_s"] / limit,
                other=f"client CPU per message = {e2e['cpu_us_per_msg'] / decode['upb_frames']['us_per_msg']:.2f}x row "
                f"1+; {e2e['msg_per_s_wall']:,.0f} msg/s wall, the client busy {busy:.0%} of it ({bound}-bound); "
                f"{e2e['messages']:,} messages; "
                f"simulator: {e2e['server']['violations']} violations, {e2e['server']['acks']:,} acks, "
                f"{e2e['server']['heartbeats']} heartbeats",
                target="≥ 50,000 msg/s of client CPU; CPU/msg ≤ 2x row 1+",
                ok=e2e["msg_per_cpu_s"] >= 50_000 and e2e["cpu_us_per_msg"] <= 2 * decode["upb_frames"]["us_per_msg"],
            )
        )
    else:
        rows.append(Row("5", "end to end over loopback", other=f"skipped: {e2e.get('skipped', 'not run')}"))
    startup = results.get("startup", {})
    if "import_s" in startup:
        rows.append(
            Row(
                "6a",
                '`python -c "import tiktok_live"` wall time (median)',
                other=f"{startup['import_s'] * 1e3:.0f} ms ({startup['bare_s'] * 1e3:.0f} ms of it is `python -c "
                f"pass`); in-process import {startup['first']['import_s'] * 1e3:.0f} ms",
                target="≤ 300 ms",
                ok=startup["import_s"] <= 0.3,
            )
        )
        first = startup["first"]
        rows.append(
            Row(
                "6b",
                "time to first event from the simulator (fresh process)",
                other=f"connect() → ConnectEvent {first['connect_to_connect_event_s'] * 1e3:.0f} ms, → first "
                f"CommentEvent/GiftEvent {first['connect_to_first_event_s'] * 1e3:.0f} ms; process start → first "
                f"event {first['process_to_first_event_s'] * 1e3:.0f} ms",
            )
        )
    memory = results.get("memory", {})
    if "idle" in memory:
        idle = memory["idle"]["rss_kib"]
        rows.append(
            Row(
                "7a",
                "RSS of one idle connected client, interpreter included",
                other=f"{idle['connected_idle'] / 1024:.1f} MB (interpreter {idle['interpreter'] / 1024:.1f}, + import "
                f"{idle['import_tiktok_live'] / 1024:.1f}, + events/schema {idle['events_loaded'] / 1024:.1f})",
                target="≤ 64 MB",
                ok=idle["connected_idle"] <= 64 * 1024,
            )
        )
    rooms = memory.get("rooms", [])
    if rooms:
        parts = []
        for room in rooms:
            cpu = room["cpu_us_per_msg"]
            parts.append(
                f"N={room['rooms']}: {room['rss_end_kib'] / 1024:.0f} MB, "
                f"{'—' if cpu is None else f'{cpu:.1f}'} µs CPU/msg, {room['msg_per_s_wall']:,.0f} msg/s"
            )
        per_room = memory.get("per_room_kib")
        rows.append(
            Row(
                "7b",
                "N rooms in one process under load (one looping simulator process)",
                other="; ".join(parts)
                + (f"; {per_room / 1024:.2f} MB per additional room" if per_room is not None else ""),
                target="≤ 2 MB per additional room",
                ok=None if per_room is None else per_room <= 2 * 1024,
            )
        )
    pooled = memory.get("pool", [])
    if pooled:
        per_room = memory.get("pool_per_room_kib")
        parts = [
            f"N={room['rooms']}: {room['rss_end_kib'] / 1024:.0f} MB, "
            f"{'—' if room['cpu_us_per_msg'] is None else format(room['cpu_us_per_msg'], '.1f')} µs CPU/msg, "
            f"{room['connected_at_end']} connected"
            for room in pooled
        ]
        rows.append(
            Row(
                "7d",
                "the same rooms in one RoomPool (shared session, limits, dedupe window 2,000)",
                other="; ".join(parts)
                + (f"; {per_room / 1024:.2f} MB per additional room" if per_room is not None else ""),
                target="≤ 2 MB per additional room",
                ok=None if per_room is None else per_room <= 2 * 1024,
            )
        )
    long_run = memory.get("long")
    if long_run:
        rows.append(
            Row(
                "7c",
                f"memory over a longer run ({long_run['rooms']} rooms, {long_run['seconds']:.0f} s)",
                other=f"RSS {long_run['rss_first_kib'] / 1024:.1f} → {long_run['rss_last_kib'] / 1024:.1f} MB after "
                f"warm-up ({long_run['growth'] * 100:+.1f} %), {long_run['messages_total']:,} messages",
                target="flat (< 5 % growth after warm-up)",
                ok=abs(long_run["growth"]) < 0.05,
            )
        )
    if "fleet" in results:
        rows += fleet_rows_from(results["fleet"])
    return rows


def _skipped(part: dict[str, Any]) -> str:
    return f"skipped: {part.get('skipped', 'not run')}"


def fleet_rows_from(fleet: dict[str, Any]) -> list[Row]:
    """Rows 8a-8d from ``bench.fleet.run``'s results."""
    rows = []
    capacity = fleet.get("capacity", {})
    if "events_per_s" in capacity:
        rate = capacity["rate_per_room"]
        rows.append(
            Row(
                "8a",
                f"one fleet worker process, {capacity['rooms']} rooms at {rate:g} msg/s each, every event committed "
                "exactly once into a Redis stream (frame commit included); µs/msg = worker CPU per event",
                capacity["events_per_s"],
                capacity["worker_us_per_event"],
                other=f"≈ {capacity['rooms_per_core']:,} rooms at {rate:g} msg/s per core of worker CPU; worker "
                f"{capacity['worker_cores']:.2f} cores, Redis {capacity['redis_us_per_event']:.0f} µs CPU/event "
                f"({capacity['redis_cores']:.2f} cores), simulator {capacity['simulator_cores']:.2f} cores; "
                f"{capacity['events_per_frame']:.1f} events per frame",
            )
        )
    else:
        rows.append(Row("8a", "one fleet worker process", other=_skipped(capacity)))
    failover = fleet.get("failover", {})
    kill, term = failover.get("kill", {}), failover.get("term", {})
    if kill.get("p50_s") is not None and term.get("p50_s") is not None:
        rows.append(
            Row(
                "8b",
                f"failover of a worker's rooms ({failover['rooms']} rooms on 3 workers, lease "
                f"{failover['lease']:g} s): signal → live on another worker",
                other=f"SIGKILL: p50 {kill['p50_s']:.2f} s, max {kill['max_s']:.2f} s ({kill['moved']}/{kill['rooms']} "
                f"rooms; lease expiry included); SIGTERM: p50 {term['p50_s']:.2f} s, max {term['max_s']:.2f} s "
                f"({term['moved']}/{term['rooms']} rooms, released at once)",
            )
        )
    else:
        rows.append(Row("8b", "failover", other=_skipped(failover)))
    throughput = fleet.get("throughput", {})
    if "one" in throughput and "two" in throughput:
        one, two = throughput["one"], throughput["two"]
        rows.append(
            Row(
                "8c",
                f"aggregate throughput, {throughput['rooms']} rooms at full speed: 1 worker process, then 2",
                one["events_per_s"],
                one["worker_us_per_event"],
                other=f"2 workers: {two['events_per_s']:,.0f} events/s "
                f"({two['events_per_s'] / one['events_per_s']:.2f}x), "
                f"{two['worker_us_per_event']:.0f} µs CPU/event; CPU with 1 worker: worker {one['worker_cores']:.2f}, "
                f"simulator {one['simulator_cores']:.2f}, Redis {one['redis_cores']:.2f} cores; with 2: workers "
                f"{two['worker_cores']:.2f}, simulator {two['simulator_cores']:.2f}, Redis {two['redis_cores']:.2f} "
                "(every process shares this machine's cores)",
            )
        )
    else:
        rows.append(Row("8c", "aggregate throughput", other=_skipped(throughput)))
    if capacity.get("sent_per_frame") is not None:
        sent = capacity["monitor"]["sent"]
        commits = capacity["monitor"]["commits"]
        rows.append(
            Row(
                "8d",
                "Redis round trips per committed frame (commands sent, during row 8a)",
                other=f"{capacity['sent_per_frame']:.2f} commands sent per frame: the commit is one EVALSHA; the rest "
                f"(lease renewals, heartbeats, rounds) spread over the frames; "
                f"{capacity['monitor']['in_scripts'] / commits:.1f} commands run inside scripts per frame; "
                f"sent: " + ", ".join(f"{name} {count}" for name, count in sorted(sent.items(), key=lambda kv: -kv[1])),
            )
        )
    return rows


_HEADER = ("#", "measurement", "msg/s", "µs/msg", "x row 1", "notes", "target", "result")


def _cells(row: Row) -> tuple[str, ...]:
    return (
        row.number,
        row.what,
        _fmt_rate(row.rate),
        _fmt_us(row.us),
        _fmt_ratio(row.ratio),
        row.other,
        row.target,
        _status(row.ok),
    )


def table(rows: list[Row]) -> str:
    """A plain-text table for the terminal (long cells wrap under their row)."""
    short = [(*_cells(row)[:5], _cells(row)[6], _cells(row)[7]) for row in rows]
    header = (*_HEADER[:5], _HEADER[6], _HEADER[7])
    widths = [max(len(line[i]) if i != 1 else min(len(line[i]), 60) for line in [header, *short]) for i in range(7)]
    lines = []

    def fit(cells: tuple[str, ...]) -> str:
        out = []
        for index, cell in enumerate(cells):
            text = cell if len(cell) <= widths[index] else cell[: widths[index] - 1] + "…"
            out.append(text.ljust(widths[index]) if index < 2 or index >= 5 else text.rjust(widths[index]))
        return "  ".join(out).rstrip()

    lines.append(fit(header))
    lines.append("  ".join("-" * width for width in widths))
    for row, cells in zip(rows, short, strict=True):
        lines.append(fit(cells))
        if row.other:
            lines.append(f"{'':>{widths[0]}}  ↳ {row.other}")
    return "\n".join(lines)


def merge_rows(text: str, rows: list[Row], notes: list[str]) -> str:
    """``docs/benchmarks.md`` with ``rows`` in place of its rows of the same group (the first character of their
    numbers), or after its last row when it has none; any of ``notes`` about that group it lacks is added."""
    groups = {row.number[0] for row in rows}
    new = ["| " + " | ".join(cell.replace("|", "\\|") for cell in _cells(row)) + " |" for row in rows]

    def in_group(line: str) -> bool:
        return line.startswith("| ") and line[2:3] in groups and not line.startswith("| ---")

    lines = text.splitlines()
    body = [i for i, line in enumerate(lines) if line.startswith("| ") and not line.startswith(("| #", "| ---"))]
    if not body:
        raise ValueError("no results table in the document")
    ours = [i for i in body if in_group(lines[i])]
    at = ours[0] if ours else body[-1] + 1
    out = [line for i, line in enumerate(lines[:at]) if i not in ours]
    out += new + [line for i, line in enumerate(lines[at:], at) if i not in ours]
    about = tuple(f"Row {group}" for group in groups) + tuple(f"Rows {group}" for group in groups)
    for note in notes:
        if note.startswith(about) and f"- {note}" not in out:
            last = max(i for i, line in enumerate(out) if line.startswith("- "))
            out.insert(last + 1, f"- {note}")
    return "\n".join(out) + "\n"


def markdown(rows: list[Row], results: dict[str, Any], notes: list[str]) -> str:
    """``docs/benchmarks.md``: how it was measured, the machine, the table, the targets and the notes."""
    info = results["machine"]
    corpus = results["corpus"]
    lines = [
        "<!-- Written by `make bench` (bench/__main__.py); rerun it to refresh. -->",
        "# Benchmarks",
        "",
        "`make bench` (or `python -m bench`) measures, in one run on one machine and one corpus, how fast "
        "tiktok_live turns TikTok push frames into events, next to the protobuf (upb) limit and TikTokLive 7.0.1. "
        "Raw numbers: `bench/results/latest.json` (not committed). Benchmarks are never part of `make test`.",
        "",
        f"Run {results['started']} in {results['duration_s']:.0f} s.",
        "",
        "## Machine",
        "",
        f"- CPU: {info['cpu']}, {info['cores']} cores",
        f"- Python {info['python']} ({info['implementation']}), {info['os']}",
        f"- protobuf {info['protobuf']} (backend `{info['protobuf_backend']}`), aiohttp {info['aiohttp']}, "
        f"pyee {info['pyee']}, tiktok-live {info['tiktok_live']}",
        "",
        "## Corpus",
        "",
        corpus["description"],
        "",
        "## Results",
        "",
        "| " + " | ".join(_HEADER) + " |",
        "| " + " | ".join(("---", "---", "---:", "---:", "---:", "---", "---", "---")) + " |",
    ]
    for row in rows:
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in _cells(row)) + " |")
    lines += ["", "## How it is measured", ""]
    lines += [f"- {note}" for note in notes]
    profile = results.get("profile_row2")
    if profile:
        short = re.sub(r"/\S*?/(?:site-packages|__editable__[^/]*|lib/python3\.\d+)/", "", profile.strip())
        lines += ["", "## Profile of row 2 (one pass under cProfile, by own time)", "", "```text", short, "```"]
    lines.append("")
    return "\n".join(lines)
