"""mypy --strict accepts the typed examples and rejects each negative example with the expected error code."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
NEGATIVE = sorted((HERE / "negative").glob("*.py"))


def _mypy(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--show-error-codes", *map(str, paths)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


@pytest.fixture(scope="module")
def negative_output() -> str:
    result = _mypy(*NEGATIVE)
    assert result.returncode == 1, f"mypy should fail on the negative examples:\n{result.stdout}{result.stderr}"
    return result.stdout


def test_positive_examples_pass() -> None:
    result = _mypy(HERE / "positive")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", NEGATIVE, ids=lambda p: p.name)
def test_negative_example_fails_with_expected_code(path: Path, negative_output: str) -> None:
    expected = re.search(r"^# expect: ([\w-]+)", path.read_text(encoding="utf-8"), re.MULTILINE)
    assert expected is not None, f"{path.name} lacks an '# expect: <error-code>' line"
    errors = [line for line in negative_output.splitlines() if line.startswith(f"tests/typing/negative/{path.name}:")]
    assert errors, f"mypy reported nothing for {path.name}"
    assert any(f"[{expected.group(1)}]" in line for line in errors), "\n".join(errors)
