"""pytest plugin: the ``tiktok_live_simulator`` fixture. Registered through the ``pytest11`` entry point, so it
loads whenever tiktok-live is installed; only this module imports pytest.

The fixture yields a started :class:`~tiktok_live.testing.Simulator` with an empty script: fill it before the
client connects, with ``sim.script(...)`` or ``sim.use_scenario("default", speed=50)``. Simulator options come
from the ``tiktok_live_simulator`` marker::

    @pytest.mark.tiktok_live_simulator(ping_interval=0.05, faults=Faults(drop_after=2))
    async def test_reconnects(tiktok_live_simulator: Simulator) -> None: ...

The fixture is async: it needs pytest-asyncio (without it, tests using it fail with a clear message).
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator

import pytest

from tiktok_live.testing._server import Simulator

__all__ = ["tiktok_live_simulator"]

MARKER = "tiktok_live_simulator"


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``tiktok_live_simulator`` marker (Simulator keyword options for the fixture)."""
    config.addinivalue_line("markers", f"{MARKER}(**options): Simulator options for the tiktok_live_simulator fixture")


def _options(request: pytest.FixtureRequest) -> dict[str, object]:
    options: dict[str, object] = {}
    for marker in reversed(list(request.node.iter_markers(MARKER))):  # the closest marker wins
        options.update(marker.kwargs)
    return options


async def _simulator(request: pytest.FixtureRequest) -> AsyncIterator[Simulator]:
    """A started simulator with an empty script, stopped after the test; options from the marker."""
    async with Simulator(**_options(request)) as simulator:  # type: ignore[arg-type]  # marker kwargs
        yield simulator


def _needs_pytest_asyncio(request: pytest.FixtureRequest) -> Simulator:
    """Unavailable: the simulator fixture is async and needs pytest-asyncio."""
    pytest.fail("the tiktok_live_simulator fixture needs pytest-asyncio: pip install pytest-asyncio")


tiktok_live_simulator: object
"""The fixture: a started :class:`~tiktok_live.testing.Simulator` with an empty script (see the module doc)."""
if importlib.util.find_spec("pytest_asyncio") is None:  # no hard dependency: the plugin loads with any pytest
    tiktok_live_simulator = pytest.fixture(name="tiktok_live_simulator")(_needs_pytest_asyncio)
else:
    import pytest_asyncio

    tiktok_live_simulator = pytest_asyncio.fixture(_simulator, name="tiktok_live_simulator")
