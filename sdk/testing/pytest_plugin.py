"""pytest plugin: the ``tiktok_live_simulator`` fixture. Registered through the ``pytest11`` entry point, so it
loads whenever tiktok-live is installed; it imports nothing heavy (no simulator, no aiohttp, no schema) until a
test uses the fixture. Only this module imports pytest. Install what it needs with ``pip install
"tiktok-live[test]"`` (pytest and pytest-asyncio).

The fixture yields a started :class:`~tiktok_live.testing.Simulator` with an empty script: fill it before the
client connects, with ``sim.script(...)`` or ``sim.use_scenario("default", speed=50)``. Clients from
``sim.client()`` are strict: an exception raised in one of their handlers (a failed ``assert``) fails the test.
Simulator options come from the ``tiktok_live_simulator`` marker::

    @pytest.mark.asyncio
    @pytest.mark.tiktok_live_simulator(ping_interval=0.05, faults=Faults(drop_after=2))
    async def test_reconnects(tiktok_live_simulator: Simulator) -> None: ...

The fixture is async and runs on pytest-asyncio. An ``async def`` test that uses it is marked
``pytest.mark.asyncio`` by this plugin when pytest-asyncio is installed, so it runs with pytest-asyncio's default
(strict) mode too; writing the marker yourself does no harm and keeps the test explicit. Without pytest-asyncio,
tests using the fixture fail with a message saying what to install. docs/testing.md has the whole story.
"""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import AsyncIterator, Generator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pluggy import Result

    from tiktok_live.testing._server import Simulator

__all__ = ["FIXTURE", "MARKER", "tiktok_live_simulator"]

FIXTURE = "tiktok_live_simulator"
"""The fixture's name."""
MARKER = "tiktok_live_simulator"
"""The marker carrying Simulator keyword options for the fixture."""
_INSTALL_HINT = 'the tiktok_live_simulator fixture needs pytest-asyncio: pip install "tiktok-live[test]"'


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``tiktok_live_simulator`` marker (Simulator keyword options for the fixture)."""
    config.addinivalue_line("markers", f"{MARKER}(**options): Simulator options for the tiktok_live_simulator fixture")


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_pycollect_makeitem(
    collector: pytest.Module | pytest.Class, name: str, obj: object
) -> Generator[None, Result[object], None]:
    """Mark ``async def`` tests that use the fixture with ``pytest.mark.asyncio`` as they are collected.

    A ``trylast`` wrapper runs innermost, so the marker is on the items before pytest-asyncio's own wrapper
    decides which items it runs (in its default strict mode, only marked ones)."""
    outcome = yield
    if not inspect.iscoroutinefunction(obj) or not collector.config.pluginmanager.has_plugin("asyncio"):
        return
    result = outcome.get_result()
    items = result if isinstance(result, list) else [result]
    for item in items:
        if isinstance(item, pytest.Function) and FIXTURE in item.fixturenames:
            if item.get_closest_marker("asyncio") is None:
                item.add_marker(pytest.mark.asyncio)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Result[None], None]:
    """After a test that passed, raise what a handler of one of the fixture's strict clients raised, so that the
    test fails (not only its teardown). A client's ``connect()`` may have raised it already (then nothing is left)."""
    outcome = yield
    simulator = getattr(item, "funcargs", {}).get(FIXTURE)
    if outcome.excinfo is None and simulator is not None:
        try:
            simulator.raise_handler_errors()
        except Exception as error:  # noqa: BLE001  # a handler's error, whatever it is, becomes the test's
            outcome.force_exception(error)


def _options(request: pytest.FixtureRequest) -> dict[str, object]:
    options: dict[str, object] = {}
    for marker in reversed(list(request.node.iter_markers(MARKER))):  # the closest marker wins
        options.update(marker.kwargs)
    return options


async def _simulator(request: pytest.FixtureRequest) -> AsyncIterator[Simulator]:
    """A started simulator with an empty script, stopped after the test; options from the marker. Leaving it
    raises the first exception a handler of one of its strict clients raised (``sim.client()``)."""
    from tiktok_live.testing._server import Simulator  # here, not at import: every pytest run loads this module

    async with Simulator(**_options(request)) as simulator:  # type: ignore[arg-type]  # marker kwargs
        yield simulator


def _needs_pytest_asyncio(request: pytest.FixtureRequest) -> None:
    """Unavailable: the simulator fixture is async and needs pytest-asyncio."""
    pytest.fail(_INSTALL_HINT, pytrace=False)


tiktok_live_simulator: object
"""The fixture: a started :class:`~tiktok_live.testing.Simulator` with an empty script (see the module doc)."""
if importlib.util.find_spec("pytest_asyncio") is None:  # no hard dependency: the plugin loads with any pytest
    tiktok_live_simulator = pytest.fixture(name=FIXTURE)(_needs_pytest_asyncio)
else:
    import pytest_asyncio

    tiktok_live_simulator = pytest_asyncio.fixture(_simulator, name=FIXTURE)
