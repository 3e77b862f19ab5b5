"""Real Redis and NATS servers for the sink tests, started by the tests themselves on 127.0.0.1.

``redis-server`` runs with AOF on (``--appendonly yes``, nothing else saved) and ``nats-server`` with JetStream
(``-js``), each in a fresh temporary folder, on a free port. :meth:`ServerProcess.restart` kills the process
(SIGKILL: no clean shutdown) and starts it again on the same port with the same data folder, as a crash would.

A test that needs a server is skipped, with the reason, only when the binary is missing or the server does not
start (Debian packages ``redis-server`` and ``nats-server``); with ``$TIKTOK_LIVE_REQUIRE_SERVERS`` set it fails
instead. Every wait here is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.pool.conftest import room_options, simulators
from tiktok_live.export import Sink, export
from tiktok_live.pool import RoomPool
from tiktok_live.testing import Simulator

START_TIMEOUT = 10.0
REQUIRE_SERVERS = "TIKTOK_LIVE_REQUIRE_SERVERS"


class ServerStartError(Exception):
    """The server process exited or did not answer in time."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    """A server binary run as a subprocess on one port and data folder; its output goes to ``log``."""

    name: str
    argv: Callable[[int, Path], Sequence[str]]
    ready: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[bool]]
    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def log(self) -> Path:
        """Where the server's stdout and stderr go (appended across restarts)."""
        return self.folder / f"{self.name}.log"

    async def start(self) -> None:
        """Start the server and wait until it answers; ServerStartError if it exits or stays silent."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: ASYNC220 - a fast spawn; the waits below are async
                list(self.argv(self.port, self.folder)), stdout=log, stderr=subprocess.STDOUT, cwd=self.folder
            )
        self.starts += 1
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT
        while asyncio.get_running_loop().time() < deadline:
            if self.process.poll() is not None:
                raise ServerStartError(f"{self.name} exited with {self.process.returncode}: {self.tail()}")
            if await self._answers():
                return
            await asyncio.sleep(0.02)
        self.kill_now()
        raise ServerStartError(f"{self.name} did not answer on port {self.port} within {START_TIMEOUT:.0f} s")

    async def _answers(self) -> bool:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), 1.0)
        except (OSError, TimeoutError):
            return False
        try:
            return await asyncio.wait_for(self.ready(reader, writer), 1.0)
        except (OSError, TimeoutError):
            return False
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def kill_now(self) -> None:
        """SIGKILL the server and reap it."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)

    async def restart(self, down_for: float = 0.0) -> None:
        """Kill the server (no clean shutdown), stay down ``down_for`` seconds, start it again (same port, data)."""
        self.kill_now()
        await asyncio.sleep(down_for)
        await self.start()

    def stop(self) -> None:
        """Terminate the server (kill it if it does not stop within 5 s)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.kill_now()

    def tail(self, lines: int = 5) -> str:
        """The last lines of the server's output."""
        try:
            return " | ".join(self.log.read_text(errors="replace").strip().splitlines()[-lines:])
        except OSError:
            return "(no output)"


async def _redis_ready(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    writer.write(b"PING\r\n")
    await writer.drain()
    return (await reader.readline()).startswith(b"+PONG")  # not "-LOADING" while the AOF is replayed


async def _nats_ready(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    return (await reader.readline()).startswith(b"INFO ")


def _redis_argv(port: int, folder: Path) -> list[str]:
    return [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "yes",
        "--dir",
        str(folder),
    ]


def _nats_argv(port: int, folder: Path) -> list[str]:
    return ["nats-server", "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(folder / "jetstream")]


def _unavailable(reason: str) -> None:
    """Skip, or fail where ``$TIKTOK_LIVE_REQUIRE_SERVERS`` says the servers must be there (CI with them installed)."""
    if os.environ.get(REQUIRE_SERVERS):
        pytest.fail(f"{reason} (and {REQUIRE_SERVERS} is set)")
    pytest.skip(reason)


@contextlib.asynccontextmanager
async def _server(binary: str, make: Callable[[], ServerProcess], package: str) -> AsyncIterator[ServerProcess]:
    if shutil.which(binary) is None:
        _unavailable(f"{binary} is not installed (apt-get install {package}): the {binary} sink tests cannot run here")
    server = make()
    try:
        await server.start()
    except (ServerStartError, OSError) as error:
        server.stop()
        _unavailable(f"{binary} could not start on 127.0.0.1: {error}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def redis_server(tmp_path: Path) -> AsyncIterator[ServerProcess]:
    """A fresh redis-server with AOF on, on a free loopback port."""
    async with _server(
        "redis-server", lambda: ServerProcess("redis", _redis_argv, _redis_ready, tmp_path), "redis-server"
    ) as server:
        yield server


@pytest.fixture
async def nats_server(tmp_path: Path) -> AsyncIterator[ServerProcess]:
    """A fresh nats-server with JetStream (file store in the test's folder), on a free loopback port."""
    async with _server(
        "nats-server", lambda: ServerProcess("nats", _nats_argv, _nats_ready, tmp_path), "nats-server"
    ) as server:
        yield server


@contextlib.contextmanager
def no_warnings_beyond(caplog: pytest.LogCaptureFixture, *allowed: str) -> Iterator[None]:
    """Fail if the export logs a warning or error that contains none of ``allowed``."""
    with caplog.at_level("WARNING", logger="tiktok_live.export"):
        yield
    unexpected = [
        record.getMessage()
        for record in caplog.records
        if record.name == "tiktok_live.export" and not any(text in record.getMessage() for text in allowed)
    ]
    assert not unexpected, unexpected


async def export_rooms(sims: Sequence[Simulator], sink: Sink, *event_types: type) -> int:
    """Run a pool over ``sims`` until every room is done, exporting ``event_types`` to ``sink``; returns how many
    records were sent (the sink is flushed, not closed)."""
    async with RoomPool() as pool:
        stream = pool.stream(*event_types)
        for sim in sims:
            pool.add(sim.user, **room_options(sim))
        pump = asyncio.create_task(export(stream, sink))
        await pool.wait()
    sent = await pump
    await sink.flush()
    return sent


__all__ = ["ServerProcess", "export_rooms", "free_port", "no_warnings_beyond", "simulators"]
