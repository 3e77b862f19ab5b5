"""The command's rough edges: usage errors, suggestions, parse-time validation, recordings, signals, hostile text
and failing outputs. Parse-time cases run :func:`tiktok_live.cli.main` in-process (usage errors exit 2 through
SystemExit); everything that runs a command is a subprocess with its exit code."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import signal
import sys
from pathlib import Path

import pytest

from tests.sdk.test_cli import ENV, TIMEOUT, _origins, _run
from tiktok_live._config import ClientConfig
from tiktok_live.cli import EXIT_OUTPUT, EXIT_TERMINATED, Printer, main, safe
from tiktok_live.events import CommentEvent
from tiktok_live.recording import read_recording
from tiktok_live.testing import Simulator, comment, end, make_user

SIM = ["--web-url", "http://127.0.0.1:9", "--webcast-url", "http://127.0.0.1:9", "--sign-url", "http://127.0.0.1:9"]
"""Origins nothing listens on: a connect fails at once."""


def _names(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def _usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``main(argv)``, expect a usage error (exit 2) and return stderr."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv, out=io.StringIO(), err=io.StringIO())
    assert exit_info.value.code == 2
    return capsys.readouterr().err


# ── parse time ──────────────────────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["wach", "@x"], "did you mean watch?"),
        (["demo", "--jsn"], "did you mean --json?"),
        (["watch", "@x", "--evnts", "comment"], "did you mean --events?"),
        (["events", "gfit"], "did you mean GiftEvent"),
        (["watch", "@x", "--events", "coment"], "did you mean CommentEvent"),
        (["watch", "@x", "--events", "room_user_sq"], "RoomUserSeqEvent"),
    ],
)
def test_typos_get_close_matches(argv: list[str], hint: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert hint in _usage_error(argv, capsys)


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["watch", "@a", "--events", "nope"], "watch"),
        (["events", "nope"], "events"),
        (["demo", "--jsn"], "demo"),
        (["record", "@a", "x.gz", "--speed", "2"], "record"),
        (["demo", "--speed", "0"], "demo"),
    ],
)
def test_usage_errors_show_the_subcommands_usage(
    argv: list[str], command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _usage_error(argv, capsys)
    assert err.startswith(f"usage: tiktok-live {command} "), err
    assert f"tiktok-live {command}: error:" in err


@pytest.mark.parametrize("value", ["0", "-1", "nan", "NaN", "inf", "-inf", "infinity", "fast"])
@pytest.mark.parametrize(
    "option", [["demo", "--speed"], ["replay", "x.gz", "--speed"], ["watch", "@x", "--simulator-speed"]]
)
def test_bad_speeds_are_refused_at_parse_time(
    option: list[str], value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _usage_error([*option[:-1], f"{option[-1]}={value}"], capsys)
    assert "or max for as fast as possible" in err
    assert "None" not in err


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--sign-url", "notaurl"),
        ("--sign-url", "ftp://sign.example"),
        ("--web-url", "https://"),
        ("--webcast-url", "http://host:99999"),
        ("--webcast-url", "http://host:0"),
        ("--proxy", "ftp://user:s3cret@127.0.0.1:1080"),
        ("--proxy", "socks5://user:s3cret@127.0.0.1:99999"),
        ("--proxy", "127.0.0.1:3128"),
    ],
)
def test_bad_urls_are_refused_at_parse_time(option: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    err = _usage_error(["watch", "@x", option, value], capsys)
    assert f"argument {option}:" in err
    assert "s3cret" not in err


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("notaurl", "expected a http:// or https:// URL with a host"),
        ("ftp://user:s3cret@sign.example/?apikey=s3cret", "expected a http:// or https:// URL with a host"),
        ("http://host:99999", "not a valid URL (check its host and port)"),
        ("http://host:port", "not a valid URL (check its host and port)"),
        ("http://host:0", "port 0 cannot be connected to"),
    ],
)
def test_the_client_and_the_command_line_refuse_the_same_urls_for_the_same_reason(
    value: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ValueError, match=re.escape(f"sign_url: {reason}")) as refused:
        ClientConfig(sign_url=value)
    err = _usage_error(["watch", "@x", "--sign-url", value], capsys)
    assert reason in err
    assert "s3cret" not in str(refused.value) + err


def test_urls_are_kept_without_surrounding_blanks_or_a_trailing_slash() -> None:
    config = ClientConfig(sign_url=" http://127.0.0.1:8080/ ", proxy=" http://127.0.0.1:3128 ")
    assert (config.sign_url, config.proxy) == ("http://127.0.0.1:8080", "http://127.0.0.1:3128")


def test_a_bad_url_in_the_environment_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SIGN_API_URL", "notaurl?apikey=s3cret")
    err = _usage_error(["watch", "@x"], capsys)
    assert "argument --sign-url:" in err and "s3cret" not in err


@pytest.mark.parametrize("target", ["{missing}/x.jsonl", "{folder}"])
def test_an_export_file_that_cannot_be_written_fails_before_connecting(
    target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = target.format(missing=tmp_path / "missing", folder=tmp_path)
    err = _usage_error(["watch", "@x", "--to", path], capsys)
    assert "argument --to:" in err
    assert "exported" not in err and "summary" not in err


def test_record_to_a_missing_folder_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _usage_error(["record", "@x", str(tmp_path / "missing" / "show.gz")], capsys)
    assert "does not exist" in err and "Traceback" not in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from tiktok_live import __version__

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"tiktok-live {__version__}\n"


def test_simulator_scenario_typo(capsys: pytest.CaptureFixture[str]) -> None:
    from tiktok_live.testing.__main__ import main as simulator_main

    with pytest.raises(SystemExit) as exit_info:
        simulator_main(["--scenario", "defualt"])
    assert exit_info.value.code == 2
    assert "did you mean default?" in capsys.readouterr().err


# ── runs ────────────────────────────────────────────────────────────────────────────────────────────────────────


async def test_a_failed_start_prints_no_summary() -> None:
    code, _, err = await _run("watch", "@x", *SIM)
    assert code == 5, err
    assert "summary:" not in err
    assert err.count("\n") == 1 and err.startswith("tiktok-live: ")


async def test_replay_speed_max_is_as_fast_as_possible(tmp_path: Path) -> None:
    recording = tmp_path / "show.gz"
    code, live, err = await _run("record", "@x", str(recording), "--simulator", "--simulator-speed", "max", "--json")
    assert code == 0, err
    code, replayed, err = await _run("replay", str(recording), "--speed", "max", "--json")
    assert code == 0, err
    assert [json.loads(line)["type"] for line in replayed.splitlines()] == [
        json.loads(line)["type"] for line in live.splitlines()
    ]


async def test_record_refuses_to_replace_a_file_without_force(tmp_path: Path) -> None:
    recording = tmp_path / "show.gz"
    recording.write_bytes(b"precious")
    code, _, err = await _run("record", "@x", str(recording), "--simulator", "--simulator-speed", "max")
    assert code == 2, err
    assert "usage: tiktok-live record" in err and "--force" in err
    assert recording.read_bytes() == b"precious"
    code, _, err = await _run("record", "@x", str(recording), "--simulator", "--simulator-speed", "max", "--force")
    assert code == 0, err
    assert read_recording(recording).records
    assert _names(tmp_path) == ["show.gz"]


async def test_a_failed_connect_leaves_no_recording_and_keeps_the_replaced_one(tmp_path: Path) -> None:
    fresh, existing = tmp_path / "fresh.gz", tmp_path / "existing.gz"
    existing.write_bytes(b"precious")
    async with Simulator("streamer", offline=True) as sim:
        code, _, err = await _run("record", "@streamer", str(fresh), *_origins(sim))
        assert code == 3, err
        code, _, err = await _run("record", "@streamer", str(existing), "--force", *_origins(sim))
        assert code == 3, err
    assert "Traceback" not in err and "recorded" not in err
    assert _names(tmp_path) == ["existing.gz"]  # no partial file either
    assert existing.read_bytes() == b"precious"


async def _launch(*args: str, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tiktok_live", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env or ENV,
    )  # fmt: skip


@pytest.mark.parametrize(
    "args",
    [
        ("watch", "@someone", "--simulator"),
        ("demo", "--speed", "0.5"),
        ("record", "@someone", "{tmp}/show.gz", "--simulator"),
        ("watch", "@a", "@b", "--simulator", "--to", "-"),
        ("serve", "@someone", "--simulator", "--port", "0"),
    ],
    ids=["watch", "demo", "record", "watch-export", "serve"],
)
async def test_sigterm_is_handled_like_ctrl_c(args: tuple[str, ...], tmp_path: Path) -> None:
    process = await _launch(*(arg.format(tmp=tmp_path) for arg in args))
    assert process.stdout is not None
    await asyncio.wait_for(process.stdout.readline(), TIMEOUT)  # connected and printing (or exporting)
    process.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.wait_for(process.communicate(), TIMEOUT)
    err = stderr.decode()
    assert process.returncode == EXIT_TERMINATED == 143, err
    assert "summary:" in err and "Traceback" not in err
    if "--to" in args:
        match = re.search(r"exported (\d+) of (\d+) events to -", err)
        assert match is not None and match[1] == match[2], err
    if args[0] == "record":
        assert "recorded" in err
        assert read_recording(tmp_path / "show.gz").records  # closed cleanly: readable


# ── hostile text and failing outputs (issue 13) ─────────────────────────────────────────────────────────────────

HOSTILE_NICKNAME = "\x1b[2J\x1b[H\x1b]0;owned\x07"
HOSTILE_COMMENTS = ["\x1b[8mhidden", "\x1b]52;c;c2VjcmV0\x07clipboard", "fake\rline", "\u202eevil", "a\x9b31mb"]


def test_safe_neutralises_controls_and_keeps_text() -> None:
    assert safe("\x1b[2J") == "\\x1b[2J"
    assert safe("a\rb\nc\td\x00\x7f\x9b") == "a\\rb\\nc\\td\\x00\\x7f\\x9b"
    assert safe("\u202eabc\u2066\u2028") == "\\u202eabc\\u2066\\u2028"
    kept = "héllo 🇧🇷 ❤️ 👨‍👩‍👧 日本"  # emoji sequences keep their joiners and selectors
    assert safe(kept) == kept


async def test_viewer_text_cannot_inject_terminal_escapes() -> None:
    evil = make_user("evil", HOSTILE_NICKNAME)
    async with Simulator("streamer", ping_interval=0.2) as sim:
        sim.script(*(comment(evil, text) for text in HOSTILE_COMMENTS), end())
        code, out, err = await _run("watch", "@streamer", "--events", "comment", *_origins(sim))
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == len(HOSTILE_COMMENTS)
    for raw in ("\x1b", "\x07", "\r", "\u202e", "\x9b"):
        assert raw not in out and raw not in err
    assert "\\x1b[2J\\x1b[H\\x1b]0;owned\\x07" in lines[0]
    assert lines[2].endswith("fake\\rline")


def test_styled_lines_carry_only_our_own_escapes() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    printer = Printer(json_mode=False, out=out, err=io.StringIO(), room_id=lambda: None)
    assert printer.style.enabled or "NO_COLOR" in os.environ
    printer.style.enabled = True
    proto = CommentEvent.PROTO(content=HOSTILE_COMMENTS[1], user={"nickname": HOSTILE_NICKNAME, "unique_id": "a\x1bb"})
    printer.handle(CommentEvent(proto))
    text = out.getvalue()
    assert set(re.findall(r"\x1b[^m]*m", text)) <= {"\x1b[0m", "\x1b[1m", "\x1b[2m", "\x1b[36m"}
    assert "\x07" not in text and "\x1b]" not in text and "\\x1b]52;" in text


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("json_mode", [True, False])
async def test_a_full_stdout_is_one_clear_error(json_mode: bool) -> None:
    full = os.open("/dev/full", os.O_WRONLY)
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tiktok_live", "demo", "--speed", "max", *(["--json"] if json_mode else []),
            stdout=full, stderr=asyncio.subprocess.PIPE, env=ENV,
        )  # fmt: skip
        _, stderr = await asyncio.wait_for(process.communicate(), TIMEOUT)
    finally:
        os.close(full)
    err = stderr.decode()
    assert process.returncode == EXIT_OUTPUT == 6, err
    assert err.count("cannot write to stdout: No space left on device") == 1, err
    assert "Traceback" not in err and "violation" not in err


@pytest.mark.parametrize("json_mode", [True, False])
async def test_an_ascii_terminal_loses_no_event(json_mode: bool) -> None:
    flags = ["--json"] if json_mode else []
    code, utf8, err = await _run("demo", "--speed", "max", *flags)
    assert code == 0, err
    ascii_env = {**ENV, "PYTHONIOENCODING": "ascii"}
    process = await _launch("demo", "--speed", "max", *flags, env=ascii_env)
    stdout, stderr = await asyncio.wait_for(process.communicate(), TIMEOUT)
    assert process.returncode == 0, stderr.decode()
    assert b"Traceback" not in stderr
    text = stdout.decode("ascii")  # every byte is ASCII
    assert len(text.splitlines()) == len(utf8.splitlines())
    if json_mode:

        def key(line: str) -> tuple[str, object]:
            event = json.loads(line)
            return event["type"], event["data"].get("content")

        assert [key(line) for line in text.splitlines()] == [key(line) for line in utf8.splitlines()]
        assert "\\u2764" in text  # the default show's emoji, as JSON escapes
    else:
        assert "\\U0001f1e7" in text or "\\u2764" in text  # the default show's emoji, escaped


def _limit_file_size(limit: int) -> None:
    """preexec_fn: a file-size limit, the way a full disk looks to a writer (writes past it fail with EFBIG)."""
    import resource

    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
async def test_record_to_a_full_disk_is_a_typed_error(tmp_path: Path) -> None:
    recording = tmp_path / "show.gz"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tiktok_live", "record", "@x", str(recording), "--simulator", "--simulator-speed", "5",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=ENV,
        preexec_fn=lambda: _limit_file_size(2048),
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(process.communicate(), TIMEOUT)
    err = stderr.decode()
    assert process.returncode == EXIT_OUTPUT, err
    assert "cannot write the recording" in err and "Traceback" not in err
    assert read_recording(recording).unique_id == "x"  # what was written before is readable
