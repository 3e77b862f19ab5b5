"""Shared paths for the schema-tooling tests."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
GOLDEN = Path(__file__).resolve().parent / "golden"
SHARED_SCHEMA = ROOT.parent / "shared" / "schema"


@pytest.fixture
def shared_schema() -> Path:
    """The reference schema beside the project (../shared/schema); skips when it is absent."""
    if not (SHARED_SCHEMA / "webcast-snake_case.proto").is_file():
        pytest.skip(f"reference schema not found at {SHARED_SCHEMA} (the ../shared folder is absent)")
    return SHARED_SCHEMA
