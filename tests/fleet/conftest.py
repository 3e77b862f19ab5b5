"""A real redis-server per test (from the export tests' fixtures), a fleet Store on it, and the parts of a whole
fleet: a many-host simulator in the test process, worker processes (``python -m tiktok_live fleet worker``) and
readers of the exactly-once stream. Every wait is bounded."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.export.conftest import ServerProcess, redis_server
from tiktok_live._generated.pb import webcast_pb2
from tiktok_live.fleet._store import RoomRecord, Store
from tiktok_live.protocol import Session
from tiktok_live.testing import Simulator

__all__ = [
    "LEASE",
    "STREAM",
    "Entry",
    "FleetHarness",
    "PausableProxy",
    "WorkerProcess",
    "check_fencing",
    "expected_keys",
    "fleet",
    "redis_server",
    "store",
    "wait_for",
]

LEASE = 2.0
"""The lease of the test workers (seconds): short, so failover is quick."""
STREAM = "{test}:events"
PREFIX = "test"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def store(redis_server: ServerProcess) -> AsyncIterator[Store]:
    """A Store on a fresh redis-server (prefix ``test``)."""
    import redis.asyncio

    client = redis.asyncio.Redis(host="127.0.0.1", port=redis_server.port)
    try:
        yield Store(client, PREFIX)
    finally:
        await client.aclose()


async def wait_for(condition: Callable[[], Awaitable[bool]], within: float, what: str, *, every: float = 0.05) -> None:
    """Poll ``condition`` until it holds; fail with ``what`` after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await condition():
        if loop.time() > deadline:
            pytest.fail(f"timed out after {within:g} s waiting for {what}")
        await asyncio.sleep(every)


@dataclass
class WorkerProcess:
    """One ``tiktok-live fleet worker`` process; its output goes to ``log``."""

    name: str
    argv: list[str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the process."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)

    @property
    def running(self) -> bool:
        """Whether the process is still alive."""
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int) -> None:
        """Send ``signum`` (SIGKILL, SIGTERM) to the process."""
        assert self.process is not None
        self.process.send_signal(signum)

    async def exit_code(self, within: float = 15.0) -> int:
        """Wait (bounded) for the process to exit; its exit code."""
        assert self.process is not None
        process = self.process
        await wait_for(_returns(lambda: process.poll() is not None), within, f"worker {self.name} to exit")
        return process.returncode

    def output(self) -> str:
        """Everything the process wrote."""
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def stop_now(self) -> None:
        """SIGKILL and reap (cleanup)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


def _returns(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def condition() -> bool:
        return check()

    return condition


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of the exactly-once stream."""

    id: str
    room_id: str
    msg_id: str
    type: str
    holder: str
    token: int

    @property
    def key(self) -> tuple[str, str, str]:
        """The dedupe key: room id, msg id and event type."""
        return (self.room_id, self.msg_id, self.type)


def expected_keys(host: Simulator) -> set[tuple[str, str, str]]:
    """Every (room id, msg id, type) a reader of ``host``'s whole script must export: its messages rendered as
    the simulator sends them, decoded by a fresh session (derived events included)."""
    result = webcast_pb2.ProtoMessageFetchResult()
    for position, step in enumerate(host.steps):
        for index, spec in enumerate(step.messages):
            msg_id = host._msg_id(position, index)
            payload = spec.render(msg_id=msg_id, room_id=host.room_id, create_time=1)
            result.messages.add(method=spec.method, payload=payload, msg_id=msg_id)
    received = Session().receive_fetch_result(result.SerializeToString())
    return {(str(host.room_id), str(event.msg_id), event.type) for event in received.events}


@dataclass
class FleetHarness:
    """A fleet under test: Redis, a many-host simulator, worker processes and the exactly-once stream."""

    redis: ServerProcess
    sim: Simulator
    store: Store
    folder: Path
    workers: list[WorkerProcess] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    """The hosts whose scripts the stream must hold (empty: every host of the simulator)."""
    _expected: set[tuple[str, str, str]] | None = None

    @property
    def redis_url(self) -> str:
        """The fleet's Redis."""
        return f"redis://127.0.0.1:{self.redis.port}/0"

    def cli(self, *args: str) -> list[str]:
        """The argv of ``tiktok-live`` with ``args``."""
        return [sys.executable, "-m", "tiktok_live", *args]

    def worker(self, name: str, *extra: str, lease: float = LEASE, start: bool = True) -> WorkerProcess:
        """A worker process on this fleet, exporting to the stream, pointed at the simulator."""
        url = self.sim.url
        argv = self.cli(
            "fleet",
            "worker",
            "--redis",
            self.redis_url,
            "--prefix",
            PREFIX,
            "--name",
            name,
            "--lease",
            f"{lease:g}",
            "--to",
            f"{self.redis_url}?stream={STREAM}",
            "--web-url",
            url,
            "--webcast-url",
            url,
            "--sign-url",
            url,
            "--poll",
            "1",
            *extra,
        )
        worker = WorkerProcess(name, argv, self.folder / f"{name}.log")
        self.workers.append(worker)
        if start:
            worker.start()
        return worker

    async def add(self, handles: Sequence[str] | None = None) -> None:
        """Make the fleet watch ``handles`` (default: every host of the simulator)."""
        await self.store.add(list(handles if handles is not None else self.sim.hosts))

    async def rooms(self) -> dict[str, RoomRecord]:
        """Every room's status, by handle."""
        return {room.handle: room for room in await self.store.rooms()}

    async def entries(self) -> list[Entry]:
        """The whole exactly-once stream, in order."""
        entries = []
        for entry_id, fields in await self.store.redis.xrange(STREAM):
            event = json.loads(fields[b"event"])
            entries.append(
                Entry(
                    entry_id.decode(),
                    str(event["room_id"]),
                    str(event["msg_id"]),
                    str(event["type"]),
                    fields[b"holder"].decode(),
                    int(fields[b"token"]),
                )
            )
        return entries

    def expected(self) -> set[tuple[str, str, str]]:
        """Every key the stream must hold once every host's script has been read (hosts in ``self.hosts``)."""
        if self._expected is None:
            self._expected = set()
            for handle in self.hosts or list(self.sim.hosts):
                self._expected |= expected_keys(self.sim.hosts[handle])
        return self._expected

    async def complete(self) -> bool:
        """Whether the stream holds every expected key."""
        return {entry.key for entry in await self.entries()} >= self.expected()

    async def check_exactly_once(self) -> list[Entry]:
        """Assert the stream holds every expected key exactly once (and nothing else); returns the entries."""
        entries = await self.entries()
        counts = Counter(entry.key for entry in entries)
        duplicates = {key: count for key, count in counts.items() if count > 1}
        if duplicates:
            key = next(iter(duplicates))
            where = [(entry.id, entry.holder, entry.token) for entry in entries if entry.key == key]
            rooms = Counter(key[0] for key in duplicates)
            pytest.fail(f"{len(duplicates)} keys exported more than once in {len(rooms)} rooms, e.g. {key} at {where}")
        expected = self.expected()
        missing = expected - set(counts)
        assert not missing, f"{len(missing)} messages never exported, e.g. {sorted(missing)[:3]}"
        unexpected = set(counts) - expected
        assert not unexpected, f"{len(unexpected)} unexpected entries, e.g. {sorted(unexpected)[:3]}"
        return entries

    async def stop_workers(self) -> None:
        """SIGTERM every running worker and wait (bounded) for it; SIGKILL those that do not stop."""
        running = [worker for worker in self.workers if worker.running]
        for worker in running:
            worker.signal(signal.SIGTERM)
        for worker in running:
            try:
                await worker.exit_code(10)
            except pytest.fail.Exception:
                pass
            worker.stop_now()

    def logs(self) -> str:
        """Every worker's output, for failure messages."""
        return "\n".join(f"--- {worker.name}\n{worker.output()[-3000:]}" for worker in self.workers)


def check_fencing(entries: Sequence[Entry]) -> dict[str, list[tuple[str, int]]]:
    """Assert that each room's entries, in stream order, carry non-decreasing fencing tokens, each token with one
    holder: no two workers ever committed a room in turns. Returns each room's (holder, token) runs."""
    runs: dict[str, list[tuple[str, int]]] = {}
    for entry in entries:
        room = runs.setdefault(entry.room_id, [])
        if room and room[-1] == (entry.holder, entry.token):
            continue
        if room:
            assert entry.token > room[-1][1], (
                f"room {entry.room_id}: token {entry.token} ({entry.holder}) after {room[-1][1]} ({room[-1][0]})"
            )
        room.append((entry.holder, entry.token))
    return runs


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``fleet`` marker: options of the ``fleet`` fixture's simulator."""
    config.addinivalue_line(
        "markers", "fleet(hosts=30, speed=3.0, scenario='default', **simulator_options): the fleet fixture's hosts"
    )


@pytest.fixture
async def fleet(
    redis_server: ServerProcess, store: Store, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[FleetHarness]:
    """A fleet harness over simulated hosts (``host00`` …, 30 by default) playing the default scenario, faster
    (``speed`` 3: about 7 s); options from the ``fleet`` marker. Workers are started by the test
    (``fleet.worker(name)``) and stopped at the end (SIGTERM, then SIGKILL)."""
    marker = request.node.get_closest_marker("fleet")
    options: dict[str, object] = {"hosts": 30, "speed": 3.0, "scenario": "default"}
    options.update(marker.kwargs if marker is not None else {})
    hosts = int(options.pop("hosts"))  # type: ignore[call-overload]  # marker kwargs
    users = [f"host{number:02d}" for number in range(hosts)]
    async with Simulator(users=users, **options) as sim:  # type: ignore[arg-type]
        harness = FleetHarness(redis_server, sim, store, tmp_path)
        try:
            yield harness
        finally:
            await harness.stop_workers()
            sys.stderr.write(harness.logs())  # shown by pytest only when the test failed


class PausableProxy:
    """A TCP proxy on loopback in front of ``port`` that a test can pause: while paused it forwards nothing, in
    either direction, and opens no upstream connection, but keeps what it read; on :meth:`resume` it delivers
    everything in order, closes included. A network partition at its worst: a command sent into it arrives late,
    after the sender gave up on it (as TCP retransmission would deliver it)."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.port = 0
        self._open = asyncio.Event()
        self._open.set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen on a free loopback port (:attr:`port`)."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def pause(self) -> None:
        """Stop forwarding (the partition begins)."""
        self._open.clear()

    def resume(self) -> None:
        """Deliver what was held and forward again (the partition heals)."""
        self._open.set()

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        self._open.set()
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        try:
            await self._open.wait()
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target)
            except OSError:
                writer.close()
                return
            await asyncio.gather(
                self._pump(reader, upstream_writer), self._pump(upstream_reader, writer), return_exceptions=True
            )
        finally:
            writer.close()
            self._tasks.discard(task)  # type: ignore[arg-type]

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self._open.wait()
                writer.write(data)
                await writer.drain()
            await self._open.wait()
        finally:
            writer.close()
