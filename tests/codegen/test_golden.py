"""Golden test: the fixture protos render to exactly the files in golden/. `make update-goldens` rewrites them."""

from __future__ import annotations

import difflib
import os
from pathlib import PurePosixPath

import pytest

from codegen.build import build
from codegen.load import load
from codegen.render import format_python, render
from tests.codegen.conftest import FIXTURES, GOLDEN, ROOT


def _render() -> dict[PurePosixPath, str]:
    loaded = load(FIXTURES / "proto", FIXTURES / "events.toml", ROOT / "sdk" / "_base.py")
    return format_python(render(build(loaded), dict(loaded.python)), ROOT)


RENDERED = _render()


def test_golden_file_set_matches() -> None:
    on_disk = {PurePosixPath(p.relative_to(GOLDEN).as_posix()) for p in GOLDEN.rglob("*") if p.is_file()}
    if os.environ.get("UPDATE_GOLDENS"):
        for stale in on_disk - set(RENDERED):
            (GOLDEN / stale).unlink()
        for path, text in RENDERED.items():
            target = GOLDEN / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8", newline="\n")
        return
    assert on_disk == set(RENDERED), "golden set differs: run `make update-goldens` and review the diff"


@pytest.mark.parametrize("path", sorted(RENDERED), ids=str)
def test_golden_file(path: PurePosixPath) -> None:
    target = GOLDEN / path
    if os.environ.get("UPDATE_GOLDENS"):
        pytest.skip("goldens being rewritten")
    assert target.exists(), f"missing golden {path}: run `make update-goldens`"
    expected = target.read_text(encoding="utf-8")
    actual = RENDERED[path]
    if actual != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True), "golden", "rendered"))
        pytest.fail(f"{path} differs from its golden (run `make update-goldens` if intended):\n{diff}")


def test_rendering_is_deterministic() -> None:
    assert _render() == RENDERED
