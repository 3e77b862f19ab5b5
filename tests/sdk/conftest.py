"""Shared helpers for the SDK tests: where the captured fixtures live, and how to load them.

The fixtures (``manifest.json``, ``payloads/*.bin``, ``frames/*.bin``) sit in ``../shared/fixtures`` beside the
project root. They are not part of the repository: tests that need them skip, with a message, when the folder is
absent.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

SHARED_FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"
MANIFEST_PATH = SHARED_FIXTURES / "manifest.json"
MISSING_FIXTURES = f"captured fixtures not found at {SHARED_FIXTURES} (the ../shared folder is absent)"


def load_manifest() -> dict[str, Any] | None:
    """The fixture manifest, or None when the shared fixtures folder is absent (callers skip)."""
    if not MANIFEST_PATH.is_file():
        return None
    manifest: dict[str, Any] = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
    return manifest


def manifest_items() -> list[dict[str, Any]]:
    """The manifest's payload items (empty when the fixtures are absent), for parametrizing at collection time."""
    manifest = load_manifest()
    return list(manifest["items"]) if manifest is not None else []


def item_id(item: dict[str, Any]) -> str:
    """A readable test id for a manifest entry: its file name without folder and suffix."""
    return Path(item["file"]).stem


@pytest.fixture
def fixtures_dir() -> Path:
    """The shared fixtures folder; skips the test when it is absent."""
    if not MANIFEST_PATH.is_file():
        pytest.skip(MISSING_FIXTURES)
    return SHARED_FIXTURES


@pytest.fixture
def manifest() -> dict[str, Any]:
    """The parsed fixture manifest; skips the test when the fixtures are absent."""
    loaded = load_manifest()
    if loaded is None:
        pytest.skip(MISSING_FIXTURES)
    return loaded


async def until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Wait until ``condition()`` holds (polled: it reads records that have no event to wait on), at most
    ``seconds``."""
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - polling records on purpose
            await asyncio.sleep(0.005)


@pytest.fixture
def quiet_decode_warnings() -> Iterator[None]:
    """Corrupt payloads log a warning each (by method and size); keep the output of property tests readable."""
    logger = logging.getLogger("tiktok_live")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)
