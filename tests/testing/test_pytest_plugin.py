"""The ``tiktok_live_simulator`` fixture of ``tiktok_live.testing.pytest_plugin`` (loaded via the pytest11 entry
point, or explicitly with ``-p tiktok_live.testing.pytest_plugin``)."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import aiohttp
import pytest

from tests.testing.conftest import RawClient, within
from tiktok_live.testing import Simulator, comment, end


async def test_fixture_yields_a_started_empty_simulator(tiktok_live_simulator: Simulator) -> None:
    assert tiktok_live_simulator.port > 0
    assert tiktok_live_simulator.steps == ()
    assert tiktok_live_simulator.user == "simulator"


@pytest.mark.tiktok_live_simulator(user="marked", ping_interval=0.05, ack_grace=0.3)
async def test_marker_options_and_script(tiktok_live_simulator: Simulator) -> None:
    sim = tiktok_live_simulator
    assert sim.user == "marked"
    sim.script(comment("alice", "hi"), end())
    async with aiohttp.ClientSession() as session:
        received = await within(RawClient(session, sim).run())
    assert [event.type for event in received.events] == ["CommentEvent", "ControlEvent", "LiveEndEvent"]
    assert received.close_code == 1000


async def test_fixture_with_the_default_scenario(tiktok_live_simulator: Simulator) -> None:
    tiktok_live_simulator.use_scenario("default", speed=500)
    assert tiktok_live_simulator.speed == 500
    assert len(tiktok_live_simulator.steps) > 20


# ── in a user's project ─────────────────────────────────────────────────────────────────────────────────────────

README = Path(__file__).resolve().parents[2] / "README.md"
FOREIGN_TIMEOUT = 120.0

UNMARKED = """
from tiktok_live.events import CommentEvent
from tiktok_live.testing import Simulator, comment, end


async def test_unmarked(tiktok_live_simulator: Simulator) -> None:
    tiktok_live_simulator.script(comment("carol", "no marker needed"), end())
    client = tiktok_live_simulator.client()
    seen: list[str] = []
    client.add_listener(CommentEvent, lambda event: seen.append(event.comment))
    await client.connect()
    assert seen == ["no marker needed"]
"""

WRONG_ASSERT = """
import pytest

from tiktok_live.events import CommentEvent
from tiktok_live.testing import Simulator, comment, end


@pytest.mark.asyncio
async def test_wrong_comment(tiktok_live_simulator: Simulator) -> None:
    tiktok_live_simulator.script(comment("alice", "hi"), end())
    client = tiktok_live_simulator.client()

    def check(event: CommentEvent) -> None:
        assert event.comment == "bye", "the bot expected a goodbye"

    client.add_listener(CommentEvent, check)
    await client.connect()
"""


def _readme_test_block() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    matches = [block for block in blocks if "tiktok_live_simulator" in block and "def test_" in block]
    assert len(matches) == 1, "expected one README block with a test using the tiktok_live_simulator fixture"
    return matches[0]


def _run_pytest(project: Path) -> tuple[int, str, dict[str, str]]:
    """pytest in ``project`` with default settings, as a user would run it; returns the exit code, the output and
    each test's outcome (``passed``, ``failed`` or ``error``) from the JUnit report."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHONPATH"))}
    report = project / "report.xml"
    process = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--junitxml={report}"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=FOREIGN_TIMEOUT,
        check=False,
    )
    outcomes: dict[str, str] = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        kinds = {child.tag for child in case}
        name = case.attrib["name"]
        outcomes[name] = "error" if "error" in kinds else "failed" if "failure" in kinds else "passed"
    return process.returncode, process.stdout + process.stderr, outcomes


def _project(root: Path, files: dict[str, str]) -> Path:
    """A project outside this repository, configured as pytest's defaults (an ini file with no options pins
    the rootdir there, so no configuration above it applies)."""
    project = root / "user-project"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    for name, text in files.items():
        (project / name).write_text(text, encoding="utf-8")
    assert not project.resolve().is_relative_to(README.parent)
    return project


def _guide_blocks() -> list[str]:
    guide = (README.parent / "docs" / "testing.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", guide, re.DOTALL)


@pytest.mark.parametrize("index", range(len(_guide_blocks())))
def test_the_testing_guide_blocks_compile(index: int) -> None:
    compile(_guide_blocks()[index], f"docs/testing.md block {index}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def test_the_readme_and_guide_examples_pass_in_a_project_with_default_settings(tmp_path: Path) -> None:
    (guide_example,) = [block for block in _guide_blocks() if "def test_thanks_for_gifts" in block]
    files = {"test_bot.py": _readme_test_block(), "test_guide.py": guide_example, "test_unmarked.py": UNMARKED}
    code, output, outcomes = _run_pytest(_project(tmp_path, files))
    assert outcomes == {"test_my_bot": "passed", "test_thanks_for_gifts": "passed", "test_unmarked": "passed"}, output
    assert code == 0, output


def test_a_failing_assert_in_a_handler_fails_the_test_in_a_user_project(tmp_path: Path) -> None:
    project = _project(tmp_path, {"test_wrong.py": WRONG_ASSERT})
    code, output, outcomes = _run_pytest(project)
    assert code == 1, output
    assert outcomes == {"test_wrong_comment": "failed"}, output  # the test fails, not only its teardown
    assert "the bot expected a goodbye" in output
    assert "an event handler raised this" in output


def test_loading_the_plugin_imports_no_simulator() -> None:
    heavy = ["aiohttp", "google.protobuf", "tiktok_live._base", "tiktok_live.testing._server", "tiktok_live.client"]
    code = f"import sys, tiktok_live.testing.pytest_plugin; print([m for m in {heavy!r} if m in sys.modules])"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert output.stdout.strip() == "[]"


def test_the_test_extra_brings_what_the_fixture_needs() -> None:
    from importlib.metadata import requires

    test_extra = {
        re.split(r"[<>=!~; ]", requirement)[0]
        for requirement in requires("tiktok-live") or []
        if re.search(r"""extra\s*==\s*["']test["']""", requirement)
    }
    assert test_extra == {"pytest", "pytest-asyncio"}
