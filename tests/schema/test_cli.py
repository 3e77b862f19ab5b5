"""``tiktok-live schema unknowns`` and ``watch --report-unknown``, run as subprocesses (no network)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from tests.schema.conftest import NEW_METHOD, chat_payload, new_method_payload
from tests.sdk.test_cli import _run
from tiktok_live.testing import Simulator, comment, end, raw

PAYLOADS = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "payloads"


@pytest.fixture
def payload_dir(tmp_path: Path) -> Path:
    """A folder with the test payloads, named by method."""
    (tmp_path / "01_WebcastChatMessage_0a1b2c3d.bin").write_bytes(chat_payload())
    (tmp_path / f"02_{NEW_METHOD}.bin").write_bytes(new_method_payload())
    return tmp_path


async def test_the_shared_fixtures_are_fully_covered() -> None:
    if not PAYLOADS.is_dir():
        pytest.skip(f"fixtures not found at {PAYLOADS} (the ../shared folder is absent)")
    code, out, err = await _run("schema", "unknowns", str(PAYLOADS))
    assert code == 0, out + err
    assert "schema covers everything seen (81 messages)" in out


async def test_undeclared_fields_and_unknown_methods_exit_1(payload_dir: Path) -> None:
    code, out, err = await _run("schema", "unknowns", str(payload_dir))
    assert code == 1, err
    assert "1 of 2 messages carried undeclared fields; 1 message of 1 unknown method" in out
    assert "user.follow_info -> FollowInfo" in out and f"{NEW_METHOD}: 1 payload" in out


async def test_json_report(payload_dir: Path) -> None:
    code, out, err = await _run("schema", "unknowns", str(payload_dir), "--json")
    assert code == 1, err
    report = json.loads(out)
    assert report["covered"] is False and report["sources"] == [str(payload_dir)]
    assert {(f["path"], f["number"]) for f in report["types"][0]["fields"]} >= {("user.follow_info", 9), ("", 300)}


async def test_propose_prints_toml_on_stdout(payload_dir: Path) -> None:
    code, out, err = await _run("schema", "unknowns", str(payload_dir), "--propose")
    assert code == 1, err
    proposal = tomllib.loads(out)
    assert {entry["name"] for entry in proposal["add_message"]} >= {NEW_METHOD}
    assert "carried undeclared fields" in err


async def test_a_bad_source_exits_2(tmp_path: Path) -> None:
    code, out, err = await _run("schema", "unknowns", str(tmp_path / "absent.jsonl.gz"))
    assert code == 2 and out == ""
    assert "absent.jsonl.gz: no such file or folder" in err
    code, _, err = await _run("schema", "unknowns", str(tmp_path), "--json", "--propose")
    assert code == 2 and "not allowed with argument" in err


async def test_watch_report_unknown_counts_messages_with_undeclared_fields() -> None:
    async with Simulator("streamer", ping_interval=0.2) as sim:
        sim.script(
            comment("alice", "hi"),
            raw("WebcastChatMessage", chat_payload()),
            raw(NEW_METHOD, new_method_payload()),
            end(),
        )
        origins = ["--web-url", sim.url, "--webcast-url", sim.url, "--sign-url", sim.url]
        code, out, err = await _run("watch", "@streamer", "--report-unknown", *origins)
    assert code == 0, err
    assert "alice: hi" in out
    summary = err[err.index("unknowns:") :]
    assert summary.startswith("unknowns: 1 of ")
    assert "messages carried undeclared fields; 1 message of 1 unknown method" in summary
    assert "user.follow_info -> FollowInfo" in summary and NEW_METHOD in summary
    assert "tiktok-live schema unknowns FILE --propose" in summary


async def test_watch_report_unknown_says_covered_when_nothing_is_missing() -> None:
    async with Simulator("streamer", ping_interval=0.2) as sim:
        sim.script(comment("alice", "hi"), end())
        origins = ["--web-url", sim.url, "--webcast-url", sim.url, "--sign-url", sim.url]
        code, _, err = await _run("watch", "@streamer", "--report-unknown", *origins)
    assert code == 0, err
    assert "unknowns: schema covers everything seen (" in err


async def test_report_unknown_needs_one_room() -> None:
    code, _, err = await _run("watch", "@a", "@b", "--report-unknown")
    assert code == 2 and "--report-unknown watches one room" in err


async def test_record_then_survey_the_recording(tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl.gz"
    async with Simulator("streamer", ping_interval=0.2) as sim:
        sim.script(raw("WebcastChatMessage", chat_payload()), raw(NEW_METHOD, new_method_payload()), end())
        origins = ["--web-url", sim.url, "--webcast-url", sim.url, "--sign-url", sim.url]
        code, _, err = await _run("record", "@streamer", str(path), "--report-unknown", *origins)
    assert code == 0, err
    assert "unknowns: 1 of " in err
    code, out, err = await _run("schema", "unknowns", str(path), "--json")
    assert code == 1, err
    report = json.loads(out)
    chat = next(t for t in report["types"] if t["type"] == "WebcastChatMessage")
    assert chat["with_undeclared"] == 1
    assert [m["method"] for m in report["unknown_methods"]] == [NEW_METHOD]
