"""Rows 8a-8d: a fleet — ``tiktok-live fleet worker`` processes, a redis-server and a many-host simulator process
(``python -m bench.serve --rooms N``), all on this machine.

- 8a: one worker holding N rooms, each room at R messages a second: the worker's CPU per exported event, frame
  commits included, and Redis's; how many such rooms one worker process holds per core.
- 8b: failover: a worker SIGKILLed (its rooms wait for their leases to expire) and one SIGTERMed (it releases
  them): seconds from the signal until each room is live again on another worker, p50 and max.
- 8c: aggregate throughput with 1 and then 2 worker processes, rooms at full speed.
- 8d: Redis commands (round trips or fewer: pipelines count each command) per committed frame, during 8a.

redis-server runs without persistence (``--save "" --appendonly no``): the numbers are the fleet's, not the
disk's. Nothing here is part of ``make test``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench._server import Server

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "bench"
STREAM = "{bench}:events"
TICKS = os.sysconf("SC_CLK_TCK")

__all__ = ["run"]


def _log(text: str) -> None:
    sys.stderr.write(f"bench: {text}\n")
    sys.stderr.flush()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _wait(condition: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {within:g} s waiting for {what}")
        time.sleep(0.05)


@contextlib.contextmanager
def redis_server(folder: Path) -> Iterator[int]:
    """A redis-server on a free loopback port, without persistence; its port."""
    if shutil.which("redis-server") is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    port = _free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(argv, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import redis

        client = redis.Redis(port=port)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        _wait(answers, 10, "redis-server")
        client.close()
        yield port
    finally:
        process.terminate()
        process.wait(10)


class Simulator(Server):
    """``python -m bench.serve FRAMES --mode loop --rooms N --delay S``: its ``url``, ``users`` and ``process``."""

    def __init__(self, frames: Path, rooms: int, delay: float) -> None:
        super().__init__(frames, "loop", "--rooms", str(rooms), "--delay", str(delay), "--ping-interval", "5")

    def __enter__(self) -> Simulator:  # type: ignore[override]  # the hosts as a list
        self.url, users = super().__enter__()
        self.users = users.split(",")
        return self


class Worker:
    """One ``tiktok-live fleet worker`` process with a metrics port."""

    def __init__(self, name: str, redis_port: int, sim: Simulator, folder: Path, lease: float, capacity: int) -> None:
        self.name = name
        self.metrics = _free_port()
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        self.argv = [
            sys.executable,
            "-m",
            "tiktok_live",
            "fleet",
            "worker",
            "--redis",
            redis_url,
            "--prefix",
            PREFIX,
            "--name",
            name,
            "--lease",
            f"{lease:g}",
            "--capacity",
            str(capacity),
            "--to",
            f"{redis_url}?stream={STREAM}&maxlen=200000",
            "--metrics",
            str(self.metrics),
            "--web-url",
            sim.url,
            "--webcast-url",
            sim.url,
            "--sign-url",
            sim.url,
            "--sign-limit",
            "second=1000",
        ]
        self.log = folder / f"{name}.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(self.argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)

    def cpu(self) -> float:
        """CPU seconds used so far."""
        return cpu_seconds(self.process.pid)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def scrape(port: int) -> dict[str, float]:
    """A worker's metrics (Prometheus text), summed over labels: ``{name: value}``."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            key = name.split("{", 1)[0]
            values[key] = values.get(key, 0.0) + float(value)
    return values


class Fleet:
    """The driver's view: Redis (sync client), the rooms' status, the workers' counters."""

    def __init__(self, redis_port: int) -> None:
        import redis

        self.redis = redis.Redis(port=redis_port)
        self.redis_pid = int(self.redis.info("server")["process_id"])

    def add(self, handles: list[str]) -> None:
        """``tiktok-live fleet add`` the rooms."""
        port = self.redis.connection_pool.connection_kwargs["port"]
        command = [sys.executable, "-m", "tiktok_live", "fleet", "add", "--redis", f"redis://127.0.0.1:{port}/0"]
        subprocess.run([*command, "--prefix", PREFIX, *handles], cwd=ROOT, check=True, capture_output=True)

    def rooms(self) -> dict[str, tuple[str, str]]:
        """Each wanted room's (holder from its lease, state)."""
        handles = sorted(key.decode() for key in self.redis.hkeys(f"{{{PREFIX}}}:rooms"))
        pipe = self.redis.pipeline(transaction=False)
        for handle in handles:
            pipe.get(f"{{{PREFIX}}}:lease:{handle}")
            pipe.hget(f"{{{PREFIX}}}:room:{handle}", "state")
        replies = pipe.execute()
        out = {}
        for index, handle in enumerate(handles):
            lease, state = replies[2 * index], replies[2 * index + 1]
            holder = lease.decode().rpartition("|")[0] if lease else ""
            out[handle] = (holder, state.decode() if state else "")
        return out

    def all_live(self, workers: int | None = None) -> bool:
        rooms = self.rooms().values()
        holders = {holder for holder, _ in rooms}
        live = all(holder and state == "live" for holder, state in rooms)
        return live and (workers is None or len(holders) == workers)

    def commands(self) -> dict[str, int]:
        """Redis's command counts so far, by command."""
        stats = self.redis.info("commandstats")
        return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}

    def cpu(self) -> float:
        return cpu_seconds(self.redis_pid)


def monitor(port: int, seconds: float) -> dict[str, int]:
    """Redis's ``MONITOR`` for ``seconds``: commands sent by clients, by name (``lua:<name>`` for those a script
    ran, which cost no round trip)."""
    counts: dict[str, int] = {}
    with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
        connection.sendall(b"MONITOR\r\n")
        deadline = time.monotonic() + seconds
        buffer = b""
        while time.monotonic() < deadline:
            try:
                chunk = connection.recv(1 << 16)
            except TimeoutError:
                continue
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\r\n")
            for line in lines:
                if not line.startswith(b"+") or b"] " not in line:
                    continue  # +OK
                source, _, command = line.partition(b"] ")
                name = command.split(b" ", 1)[0].strip(b'"').decode(errors="replace").lower()
                key = f"lua:{name}" if source.endswith(b"lua") else name
                counts[key] = counts.get(key, 0) + 1
    return counts


def _sample(fleet: Fleet, workers: list[Worker], sim: Simulator) -> dict[str, Any]:
    metrics = [scrape(worker.metrics) for worker in workers]
    return {
        "t": time.monotonic(),
        "simulator_cpu": cpu_seconds(sim.process.pid),
        "worker_cpu": [worker.cpu() for worker in workers],
        "redis_cpu": fleet.cpu(),
        "events": sum(m.get("tiktok_live_fleet_events_total", 0.0) for m in metrics),
        "commits": sum(m.get("tiktok_live_fleet_commits_total", 0.0) for m in metrics),
        "commands": fleet.commands(),
    }


def _window(fleet: Fleet, workers: list[Worker], sim: Simulator, seconds: float) -> dict[str, Any]:
    """Counters over ``seconds``: events, commits and CPU (each worker's, Redis's, the simulator's) per second and
    per event."""
    start = _sample(fleet, workers, sim)
    time.sleep(seconds)
    end = _sample(fleet, workers, sim)
    elapsed = end["t"] - start["t"]
    events = end["events"] - start["events"]
    commits = end["commits"] - start["commits"]
    worker_cpu = sum(end["worker_cpu"]) - sum(start["worker_cpu"])
    redis_cpu = end["redis_cpu"] - start["redis_cpu"]
    commands = {
        name: end["commands"].get(name, 0) - start["commands"].get(name, 0)
        for name in end["commands"]
        if end["commands"].get(name, 0) - start["commands"].get(name, 0) > 0
    }
    commands.pop("info", None)  # the driver's own sampling
    return {
        "seconds": elapsed,
        "events": events,
        "commits": commits,
        "events_per_s": events / elapsed,
        "commits_per_s": commits / elapsed,
        "worker_cpu_s": worker_cpu,
        "worker_cores": worker_cpu / elapsed,
        "per_worker_cores": [(e - s) / elapsed for s, e in zip(start["worker_cpu"], end["worker_cpu"], strict=True)],
        "redis_cpu_s": redis_cpu,
        "redis_cores": redis_cpu / elapsed,
        "simulator_cores": (end["simulator_cpu"] - start["simulator_cpu"]) / elapsed,
        "worker_us_per_event": worker_cpu / events * 1e6 if events else None,
        "redis_us_per_event": redis_cpu / events * 1e6 if events else None,
        "redis_commands": commands,
        "redis_commands_per_frame": sum(commands.values()) / commits if commits else None,
        "events_per_frame": events / commits if commits else None,
    }


def row_8a(frames: Path, folder: Path, rooms: int, rate: float, seconds: float) -> dict[str, Any]:
    """One worker, ``rooms`` rooms at ``rate`` messages a second each."""
    delay = 4.4 / rate  # the corpus carries 4.4 messages per frame
    with redis_server(folder) as port, Simulator(frames, rooms, delay) as sim:
        fleet = Fleet(port)
        worker = Worker("w1", port, sim, folder, lease=15, capacity=rooms)
        try:
            fleet.add(sim.users)
            _wait(fleet.all_live, 120, f"{rooms} rooms live on one worker")
            time.sleep(3)  # warm-up
            result = _window(fleet, [worker], sim, seconds)
            before = scrape(worker.metrics).get("tiktok_live_fleet_commits_total", 0.0)
            sent = monitor(port, 5.0)
            commits = scrape(worker.metrics).get("tiktok_live_fleet_commits_total", 0.0) - before
            top = {name: count for name, count in sent.items() if not name.startswith("lua:")}
            result["monitor"] = {"commits": commits, "sent": top, "in_scripts": sum(sent.values()) - sum(top.values())}
            result["sent_per_frame"] = sum(top.values()) / commits if commits else None
        finally:
            worker.stop()
    result.update(rooms=rooms, rate_per_room=rate)
    per_event = result["worker_us_per_event"]
    result["rooms_per_core"] = int(1e6 / (rate * per_event)) if per_event else None
    return result


def row_8c(frames: Path, folder: Path, rooms: int, seconds: float) -> dict[str, Any]:
    """Aggregate throughput with 1, then 2 workers, ``rooms`` rooms at full speed."""
    out: dict[str, Any] = {"rooms": rooms}
    with redis_server(folder) as port, Simulator(frames, rooms, 0.0) as sim:
        fleet = Fleet(port)
        workers = [Worker("w1", port, sim, folder, lease=15, capacity=rooms)]
        try:
            fleet.add(sim.users)
            _wait(fleet.all_live, 120, f"{rooms} rooms live on one worker")
            time.sleep(3)
            out["one"] = _window(fleet, workers, sim, seconds)
            workers.append(Worker("w2", port, sim, folder, lease=15, capacity=rooms))
            _wait(lambda: fleet.all_live(2) and _balanced(fleet), 120, "the rooms spread over two workers")
            time.sleep(3)
            out["two"] = _window(fleet, workers, sim, seconds)
        finally:
            for worker in workers:
                worker.stop()
    return out


def _balanced(fleet: Fleet) -> bool:
    holders = [holder for holder, _ in fleet.rooms().values()]
    counts = [holders.count(name) for name in set(holders)]
    return len(counts) == 2 and max(counts) - min(counts) <= 1


def row_8b(frames: Path, folder: Path, rooms: int, lease: float) -> dict[str, Any]:
    """Three workers share ``rooms`` rooms; one is SIGKILLed, then another SIGTERMed: time until each of their
    rooms is live again elsewhere."""
    out: dict[str, Any] = {"rooms": rooms, "lease": lease}
    with redis_server(folder) as port, Simulator(frames, rooms, 0.44) as sim:
        fleet = Fleet(port)
        workers = [Worker(f"w{n}", port, sim, folder, lease=lease, capacity=rooms) for n in range(1, 4)]
        try:
            fleet.add(sim.users)
            _wait(lambda: fleet.all_live(3), 120, f"{rooms} rooms live on three workers")
            out["kill"] = _moved(fleet, workers[0], lambda: workers[0].process.kill(), lease + 30)
            _wait(lambda: fleet.all_live(2), 60, "every room live again")
            out["term"] = _moved(fleet, workers[1], lambda: workers[1].process.terminate(), 30)
        finally:
            for worker in workers:
                worker.stop()
    return out


def _moved(fleet: Fleet, worker: Worker, signal: Callable[[], None], within: float) -> dict[str, Any]:
    held = {handle for handle, (holder, _) in fleet.rooms().items() if holder == worker.name}
    started = time.monotonic()
    signal()
    moved: dict[str, float] = {}
    deadline = started + within
    while len(moved) < len(held) and time.monotonic() < deadline:
        now = time.monotonic()
        for handle, (holder, state) in fleet.rooms().items():
            if handle in held and handle not in moved and holder not in ("", worker.name) and state == "live":
                moved[handle] = now - started
        time.sleep(0.02)
    times = sorted(moved.values())
    return {
        "rooms": len(held),
        "moved": len(times),
        "p50_s": statistics.median(times) if times else None,
        "max_s": times[-1] if times else None,
    }


def run(frames: Path, *, rooms: int = 100, rate: float = 10.0, seconds: float = 15.0) -> dict[str, Any]:
    """Every fleet row; raw numbers."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="tiktok-live-bench-fleet-") as tmp:
        folder = Path(tmp)
        for key, label, step in (
            (
                "capacity",
                f"row 8a/8d ({rooms} rooms at {rate:g} msg/s on one worker)",
                lambda: row_8a(frames, folder, rooms, rate, seconds),
            ),
            ("failover", "row 8b (failover: SIGKILL, SIGTERM)", lambda: row_8b(frames, folder, 30, 5.0)),
            ("throughput", "row 8c (1 and 2 workers, full speed)", lambda: row_8c(frames, folder, 20, seconds)),
        ):
            _log(label)
            try:
                results[key] = step()
            except (RuntimeError, OSError, subprocess.SubprocessError) as error:
                results[key] = {"skipped": f"failed: {error}"}
                _log(f"{label} failed: {error}")
                for log in sorted(folder.glob("*.log")):
                    _log(f"{log.name}: {log.read_text(errors='replace')[-600:]}")
    return results
