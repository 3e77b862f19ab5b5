"""A real redis-server per test (from the export tests' fixtures) and a fleet Store on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.export.conftest import ServerProcess, redis_server
from tiktok_live.fleet._store import Store

__all__ = ["redis_server", "store"]


@pytest.fixture
async def store(redis_server: ServerProcess) -> AsyncIterator[Store]:
    """A Store on a fresh redis-server (prefix ``test``)."""
    import redis.asyncio

    client = redis.asyncio.Redis(host="127.0.0.1", port=redis_server.port)
    try:
        yield Store(client, "test")
    finally:
        await client.aclose()
