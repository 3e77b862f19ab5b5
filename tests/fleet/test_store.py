"""The fleet's Redis operations against a real redis-server: leases, fencing, atomic commits, sign budgets."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.export.conftest import ServerProcess
from tiktok_live.fleet._store import FORGET_WORKERS_AFTER, Lease, Store
from tiktok_live.fleet._worker import Worker


async def test_add_and_remove(store: Store) -> None:
    assert await store.add(["a", "b"]) == ["a", "b"]
    assert await store.add(["b", "c"]) == ["c"]
    assert await store.wanted() == ["a", "b", "c"]
    assert await store.remove(["b", "x"]) == ["b"]
    assert await store.wanted() == ["a", "c"]
    assert [room.state for room in await store.rooms()] == ["waiting", "waiting"]


async def test_one_holder_per_room_and_tokens_only_grow(store: Store) -> None:
    first = await store.acquire("a", "w1", 5)
    assert first is not None and first.token == 1
    assert await store.acquire("a", "w2", 5) is None  # held
    assert await store.holder("a") == "w1|1"
    assert await store.renew(first, 5)
    assert await store.release(first)
    assert await store.holder("a") is None
    second = await store.acquire("a", "w2", 5)
    assert second is not None and second.token == 2
    assert not await store.renew(first, 5)  # the old holder's lease is gone for good
    assert not await store.release(first)
    assert await store.holder("a") == "w2|2"


async def test_an_expired_lease_cannot_commit_after_another_worker_took_the_room(store: Store) -> None:
    old = await store.acquire("a", "w1", 0.05)
    assert old is not None
    assert await store.commit(old, {"cursor": "1"}, ['{"n":1}'], stream="out")
    deadline = asyncio.get_running_loop().time() + 5
    new: Lease | None = None
    while new is None:  # wait (bounded) for the lease to expire in Redis
        assert asyncio.get_running_loop().time() < deadline
        new = await store.acquire("a", "w2", 5)
        await asyncio.sleep(0.01)
    assert not await store.commit(old, {"cursor": "2"}, ['{"n":2}'], stream="out")  # fenced off: nothing written
    assert await store.snapshot("a") == {"cursor": "1", "seen": []}
    assert await store.commit(new, {"cursor": "3"}, ['{"n":3}'], stream="out")
    entries = await store.redis.xrange("out")
    assert [json.loads(fields[b"event"]) for _, fields in entries] == [{"n": 1}, {"n": 3}]
    assert [(fields[b"holder"], fields[b"token"]) for _, fields in entries] == [(b"w1", b"1"), (b"w2", b"2")]
    room = await store.redis.hgetall(store.room_key("a"))
    assert room[b"events"] == b"2" and room[b"holder"] == b"w2" and room[b"token"] == b"2"


async def test_commit_without_events_stores_the_snapshot(store: Store) -> None:
    lease = await store.acquire("a", "w1", 5)
    assert lease is not None
    assert await store.commit(lease, {"cursor": "c1", "dedupe_size": 3, "seen": [1, 2]})
    assert await store.snapshot("a") == {"cursor": "c1", "dedupe_size": 3, "seen": [1, 2]}


async def test_the_duplicate_window_grows_by_appending_and_keeps_its_size(store: Store) -> None:
    lease = await store.acquire("a", "w1", 5)
    assert lease is not None
    assert await store.commit(lease, {"cursor": "c1", "dedupe_size": 3, "seen": [1, 2]})
    # A frame's commit carries only its new ids (the snapshot's own window is not sent again).
    assert await store.commit(lease, {"cursor": "c2", "dedupe_size": 3, "seen": ["ignored"]}, seen_added=[3, 4])
    assert await store.snapshot("a") == {"cursor": "c2", "dedupe_size": 3, "seen": [2, 3, 4]}
    stored = json.loads(await store.redis.get(store.snapshot_key("a")))
    assert "seen" not in stored
    # Without seen_added the stored window is replaced (a fresh session).
    assert await store.commit(lease, {"cursor": "c3", "dedupe_size": 3, "seen": [9]})
    assert (await store.snapshot("a") or {})["seen"] == [9]
    # The window survives a hand-over: a new holder restores exactly it.
    assert await store.release(lease)
    assert (await store.snapshot("a") or {})["seen"] == [9]


async def test_status_fields_only_while_holding(store: Store) -> None:
    await store.add(["a"])
    lease = await store.acquire("a", "w1", 5)
    assert lease is not None
    assert await store.set_status(lease, state="live", room_id="77", reconnects=1)
    assert await store.set_status(lease, reconnects=2)
    (room,) = await store.rooms()
    assert (room.state, room.holder, room.room_id, room.reconnects) == ("live", "w1", "77", 3)
    await store.release(lease)
    assert not await store.set_status(lease, state="live")
    (room,) = await store.rooms()
    assert (room.state, room.holder) == ("waiting", "")


async def _clear_of_a_window_end(store: Store, seconds: int) -> None:
    """Wait (bounded: a second at most) until Redis's clock is more than a second from the end of a window."""
    for _ in range(30):
        if (await store.now_ms()) % (seconds * 1000) < (seconds - 1) * 1000:
            return
        await asyncio.sleep(0.05)
    pytest.fail("Redis's clock did not move past the end of the window")


async def test_sign_budget_is_one_fixed_window_for_every_worker(store: Store) -> None:
    windows = [(60, 3)]
    await _clear_of_a_window_end(store, 60)  # no request starts in a window's last quarter second
    waits = [await store.sign_wait("key", windows) for _ in range(5)]
    assert waits[:3] == [0, 0, 0]
    assert all(0 < wait <= 60 for wait in waits[3:])
    assert await store.sign_wait("other-key", windows) == 0  # budgets are per key
    assert await store.sign_wait(None, windows) == 0


async def test_a_pause_holds_every_request_and_never_shortens(store: Store) -> None:
    await store.sign_pause("key", 30)
    await store.sign_pause("key", 1)
    wait = await store.sign_wait("key", [(60, 100)])
    assert 20 < wait <= 30


async def test_the_api_key_never_reaches_redis(store: Store) -> None:
    await store.sign_wait("s3cret-key", [(60, 10)])
    await store.sign_pause("s3cret-key", 5)
    keys = [key.decode() for key in await store.redis.keys("*")]
    assert keys and not any("s3cret" in key for key in keys)


def test_bad_prefixes_are_refused() -> None:
    with pytest.raises(ValueError):
        Store(object(), "a{b}")  # type: ignore[arg-type]


async def test_releases_and_changes_to_the_rooms_wake_the_workers(store: Store) -> None:
    pubsub = store.redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(store.wake_channel)
    try:

        async def woken() -> bool:
            for _ in range(20):  # bounded: the message is there at once, or never
                if await pubsub.get_message(timeout=0.5) is not None:
                    return True
            return False

        await store.add(["a"])
        assert await woken()
        lease = await store.acquire("a", "w1", 5)
        assert lease is not None
        assert await store.release(lease)
        assert await woken()
        assert not await store.release(lease)  # not ours any more: nothing released, nobody woken
        await store.remove(["a"])
        assert await woken()
        assert await pubsub.get_message(timeout=0.2) is None
    finally:
        await pubsub.aclose()


async def _heartbeat_at(store: Store, worker: str, heartbeat_ms: int) -> str:
    """Write ``worker``'s heartbeat record as of ``heartbeat_ms`` (Redis time) directly; returns the record."""
    record = json.dumps({"heartbeat": heartbeat_ms, "capacity": 10, "rooms": 0, "started": 0, "lease": 15.0})
    await store.redis.hset(store.workers_key, worker, record)
    return record


async def test_workers_gone_for_longer_than_the_limit_are_forgotten(store: Store) -> None:
    now = await store.heartbeat("alive", 10, 0, 0, 15.0)
    await _heartbeat_at(store, "killed-long-ago", now - int((FORGET_WORKERS_AFTER + 60) * 1000))
    await _heartbeat_at(store, "killed-a-minute-ago", now - 60_000)
    assert await store.forget_workers(await store.now_ms()) == ["killed-long-ago"]
    assert [worker.name for worker in await store.workers()] == ["alive", "killed-a-minute-ago"]
    assert await store.forget_workers(await store.now_ms()) == []


async def test_a_worker_that_heartbeats_while_being_forgotten_stays(store: Store) -> None:
    now = await store.now_ms()
    stale = await _heartbeat_at(store, "back", now - int((FORGET_WORKERS_AFTER + 60) * 1000))
    await store.heartbeat("back", 10, 0, 0, 15.0)  # between another worker's read and its removal
    assert await store._forget(keys=[store.workers_key], args=["back", stale]) == 0
    assert [worker.name for worker in await store.workers()] == ["back"]


async def test_a_workers_round_forgets_the_long_gone(store: Store, redis_server: ServerProcess) -> None:
    now = await store.now_ms()
    await _heartbeat_at(store, "killed-long-ago", now - int((FORGET_WORKERS_AFTER + 60) * 1000))
    await _heartbeat_at(store, "killed-a-minute-ago", now - 60_000)
    worker = Worker(f"redis://127.0.0.1:{redis_server.port}/0", name="w1", prefix=store.prefix)
    await worker._round(store)
    assert [record.name for record in await store.workers()] == ["killed-a-minute-ago"]
