"""``tiktok-live serve``: the parser, the bind warning and the runner end to end against the simulator."""

from __future__ import annotations

import argparse
import asyncio
import io
import re
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.support import wait_for_condition
from tiktok_live.cli import Printer, UsageError
from tiktok_live.client import TikTokLiveClient
from tiktok_live.errors import UserNotFoundError
from tiktok_live.testing import Simulator, comment, end
from tiktok_live.web import cli as web_cli
from tiktok_live.web.app import WebServer

from .conftest import within


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="tiktok-live")
    commands = root.add_subparsers(dest="command", required=True)
    web_cli.register(commands)
    return root


def printer() -> Printer:
    return Printer(json_mode=False, out=io.StringIO(), err=io.StringIO(), room_id=lambda: None)


def test_serve_defaults_to_loopback_and_takes_the_connection_options() -> None:
    args = parser().parse_args(["serve", "@someone"])
    assert (args.host, args.port, args.backlog, args.display_time) == ("127.0.0.1", 8080, 500, 8.0)
    assert args.json is False and args.quiet is False and args.assets is None
    args = parser().parse_args(
        ["serve", "@someone", "--port", "0", "--backlog", "50", "--display-time", "0", "--simulator"]
    )
    assert (args.port, args.backlog, args.display_time, args.simulator) == (0, 50, 0.0, True)
    assert args.simulator_speed == 1.0 and args.sign_api_key is None and args.proxy is None


@pytest.mark.parametrize(
    "argv",
    [
        ["--port", "70000"],
        ["--port", "-1"],
        ["--backlog", "-5"],
        ["--display-time", "-1"],
        ["--json", "--quiet"],
    ],
)
def test_bad_options_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parser().parse_args(["serve", "@someone", *argv])
    assert exit_info.value.code == 2
    capsys.readouterr()


def test_bind_warning() -> None:
    for host in ["127.0.0.1", "localhost", "::1"]:
        assert web_cli.bind_warning(host) is None
    everywhere = web_cli.bind_warning("0.0.0.0")
    assert everywhere is not None and "every network interface" in everywhere
    lan = web_cli.bind_warning("192.168.1.20")
    assert lan is not None and "192.168.1.20" in lan


async def test_serving_on_all_interfaces_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    async def refuse(self: WebServer, host: str, port: int) -> None:
        raise OSError(98, "Address already in use")

    monkeypatch.setattr(WebServer, "start", refuse)  # never actually listen on every interface in a test
    out = printer()
    args = parser().parse_args(["serve", "@someone", "--host", "0.0.0.0", "--port", "9"])
    with pytest.raises(UsageError, match=r"cannot listen on 0\.0\.0\.0:9"):
        await within(web_cli.run(args, out))
    assert "warning: listening on every network interface" in out.err.getvalue()  # type: ignore[attr-defined]


async def test_a_taken_port_is_a_usage_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = parser().parse_args(["serve", "@someone", "--port", str(port), "--quiet"])
        with pytest.raises(UsageError, match="cannot listen"):
            await within(web_cli.run(args, printer()))


async def test_a_missing_assets_folder_is_a_usage_error(tmp_path: Path) -> None:
    args = parser().parse_args(["serve", "@someone", "--assets", str(tmp_path / "nope")])
    with pytest.raises(UsageError, match="no such folder"):
        await within(web_cli.run(args, printer()))


async def test_serve_runs_the_show_keeps_serving_after_the_end_and_stops_on_cancel(tmp_path: Path) -> None:
    (tmp_path / "mine.css").write_text("body { color: red; }")
    args = parser().parse_args(
        [
            "serve",
            "@host",
            "--simulator",
            "--simulator-speed",
            "40",
            "--port",
            "0",
            "--quiet",
            "--assets",
            str(tmp_path),
        ]
    )
    out = printer()
    stdout: io.StringIO = out.out  # type: ignore[assignment]
    err: io.StringIO = out.err  # type: ignore[assignment]
    task = asyncio.create_task(web_cli.run(args, out))
    try:
        await wait_for_condition(lambda: "dashboard" in err.getvalue() or task.done())
        assert not task.done(), err.getvalue()
        match = re.search(r"dashboard\s+(http://127\.0\.0\.1:\d+/)", err.getvalue())
        assert match, err.getvalue()
        base = match.group(1)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
            for _ in range(400):
                async with http.get(f"{base}api/state") as response:
                    state = await response.json()
                if state["status"] == "ended":
                    break
                await asyncio.sleep(0.05)
            assert state["status"] == "ended"
            assert state["comments"] > 5 and state["gifts"] > 3 and state["likes"] > 0
            await wait_for_condition(lambda: "still serving" in err.getvalue() or task.done())
            assert not task.done()  # still serving after the LIVE ended
            async with http.get(base) as response:
                assert response.status == 200
            async with http.get(f"{base}assets/mine.css") as response:
                assert await response.text() == "body { color: red; }"
        assert "still serving" in err.getvalue()
        assert stdout.getvalue() == ""  # --quiet
        assert out.stats.messages > 0  # still counted for the summary
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await within(task)
    port = int(base.rsplit(":", 1)[1].rstrip("/"))
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


async def test_follow_waits_while_the_host_is_offline() -> None:
    async with Simulator("host", speed=50, offline=True) as simulator:
        simulator.script(comment("alice", "hi"), end())
        server = WebServer(unique_id="host")
        task = asyncio.create_task(web_cli.follow(server, simulator.client, offline_retry=0.05))
        try:
            await wait_for_condition(lambda: server.state.status == "offline")
            assert server.state.error
            simulator.offline = False
            await within(task)
        finally:
            task.cancel()
        final = server.state.snapshot()
        assert final["status"] == "ended" and final["comments"] == 1


async def test_follow_raises_when_the_user_does_not_exist() -> None:
    async with Simulator("host") as simulator:
        server = WebServer(unique_id="nobody")

        def make_client() -> TikTokLiveClient:
            url = simulator.url
            return TikTokLiveClient("@nobody", web_url=url, webcast_url=url, sign_url=url)

        with pytest.raises(UserNotFoundError):
            await within(web_cli.follow(server, make_client))


def test_the_command_line_imports_the_web_app_only_when_serving() -> None:
    code = (
        "import sys, tiktok_live.web.cli, tiktok_live.web; "
        "heavy = [m for m in ('tiktok_live.web.app', 'aiohttp.web', 'tiktok_live.jsonl') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True)
    assert result.stdout.strip() == ""
