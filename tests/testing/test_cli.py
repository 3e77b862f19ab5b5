"""``python -m tiktok_live.testing``: start line, violation lines, clean exit on SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sys
from collections.abc import AsyncIterator

import aiohttp

from tests.testing.conftest import UA, within
from tiktok_live._generated.pb import transport_pb2
from tiktok_live._protocol import decode_fetch_result
from tiktok_live.protocol import Session

START = re.compile(r"^tiktok-live simulator: (http://127\.0\.0\.1:(\d+)) serving @(\S+)$")


@contextlib.asynccontextmanager
async def launched(*args: str) -> AsyncIterator[asyncio.subprocess.Process]:
    """The CLI on a free port with extra ``args``; killed on exit if still running."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tiktok_live.testing", "--port", "0", *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def start_line(process: asyncio.subprocess.Process) -> re.Match[str]:
    assert process.stdout is not None
    line = (await within(process.stdout.readline(), 20)).decode().rstrip("\n")
    match = START.match(line)
    assert match is not None, f"unexpected start line {line!r}"
    return match


async def test_start_line_and_sigint() -> None:
    async with launched() as cli:
        await _start_line_and_sigint(cli)


async def _start_line_and_sigint(cli: asyncio.subprocess.Process) -> None:
    match = await start_line(cli)
    assert int(match.group(2)) > 0
    assert match.group(3) == "simulator"
    async with aiohttp.ClientSession() as session, session.get(f"{match.group(1)}/@simulator/live") as response:
        assert response.status == 200
        assert "SIGI_STATE" in await response.text()
    cli.send_signal(signal.SIGINT)
    assert await within(cli.wait(), 10) == 0


async def test_violations_are_printed() -> None:
    async with launched("--user", "someone", "--scenario", "empty", "--ping-interval", "0.5") as cli:
        await _violations_are_printed(cli)


async def _violations_are_printed(cli: asyncio.subprocess.Process) -> None:
    match = await start_line(cli)
    url = match.group(1)
    assert match.group(3) == "someone"
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/api-live/user/room/", params={"uniqueId": "someone"}) as response:
            room_id = (await response.json())["data"]["user"]["roomId"]
        params = {"room_id": room_id, "user_agent": UA}
        async with session.get(f"{url}/webcast/fetch", params=params) as response:
            result = decode_fetch_result(await response.read())
        query = {"room_id": room_id, **result.route_params}
        async with session.ws_connect(result.push_server, params=query, headers={"User-Agent": UA}) as ws:
            assert ws._response.headers["Handshake-Options"] == "ping-interval=0.5"
            await ws.send_bytes(transport_pb2.PushFrame(payload_type="bogus").SerializeToString())
            assert cli.stdout is not None
            line = (await within(cli.stdout.readline())).decode()
    assert line.startswith("violation: [connection 1] ") and "bogus" in line
    cli.send_signal(signal.SIGINT)
    assert await within(cli.wait(), 10) == 0


async def test_unknown_scenario_is_a_usage_error() -> None:
    async with launched("--scenario", "nope") as cli:
        assert await within(cli.wait(), 20) == 2
        assert cli.stderr is not None
        assert b"invalid choice: 'nope'" in await cli.stderr.read()


async def test_prerender_serves_the_whole_show() -> None:
    async with launched("--prerender", "--speed", "1000") as cli:
        match = await start_line(cli)
        url = match.group(1)
        reader = Session()
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{url}/api-live/user/room/", params={"uniqueId": "simulator"}) as response:
                room_id = int((await response.json())["data"]["user"]["roomId"])
            params = {"room_id": str(room_id), "user_agent": UA}
            async with session.get(f"{url}/webcast/fetch", params=params) as response:
                result = decode_fetch_result(await response.read())
            query = {"room_id": str(room_id), **result.route_params}
            async with session.ws_connect(result.push_server, params=query, headers={"User-Agent": UA}) as ws:
                await ws.send_bytes(reader.enter_room(room_id))
                await ws.send_bytes(reader.heartbeat(room_id))
                async for message in ws:
                    received = reader.receive(message.data)
                    if received.ack is not None:
                        await ws.send_bytes(received.ack)
                close_code = ws.close_code
        cli.send_signal(signal.SIGINT)
        assert await within(cli.wait(), 10) == 0
        assert cli.stdout is not None
        printed = (await cli.stdout.read()).decode()
    assert close_code == 1000 and reader.ended  # the default show, to its end
    assert "violation" not in printed
