"""The simulator process of the bench rows, driven from the bench's own process: ``with Server(...) as (url, user)``.
Stdlib only."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["Server", "last_json"]


def last_json(stdout: str) -> dict[str, Any]:
    """The last line of ``stdout`` that is a JSON object, parsed."""
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"no JSON in output: {stdout[-500:]!r}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


class Server:
    """``python -m bench.serve`` in a subprocess: ``with Server(...) as (url, user): ...``; ``summary`` after.
    ``user`` is comma-separated hosts with ``--rooms N``; ``process`` is the running simulator."""

    def __init__(self, frames_path: Path, mode: str, *extra: str) -> None:
        self.command = [sys.executable, "-m", "bench.serve", str(frames_path), "--mode", mode, *extra]
        self.summary: dict[str, Any] = {}

    def __enter__(self) -> tuple[str, str]:
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().split()
        if len(line) != 3 or line[0] != "READY":
            self.process.kill()
            raise RuntimeError(f"the simulator did not start: {line}")
        return line[1], line[2]

    def __exit__(self, *exc_info: object) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        try:
            out = self.process.stdout.read()
            self.process.wait(timeout=30)
            self.summary = last_json(out)
        except (subprocess.TimeoutExpired, RuntimeError) as error:
            self.process.kill()
            self.summary = {"error": str(error)}
