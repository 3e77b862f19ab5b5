"""Threads and notebooks: ``run()`` inside a running loop raises a typed error (and leaves no un-awaited
coroutine), and ``stop()`` ends a client that runs in another thread, from any thread, at once."""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings
from collections.abc import Callable

import pytest

from tests.sdk.conftest import until
from tiktok_live import EventLoopRunningError, ReconnectPolicy, TikTokLiveClient, TikTokLiveError
from tiktok_live.events import CommentEvent, ConnectEvent, DisconnectEvent
from tiktok_live.testing import Simulator, comment, end

TIMEOUT = 10.0
FAST = ReconnectPolicy(base_delay=0.01, max_delay=0.05, max_attempts=3)


def _sim(**options: object) -> Simulator:
    return Simulator("host", ping_interval=0.05, ack_grace=0.5, enter_room_timeout=1.0, **options)  # type: ignore[arg-type]


class Worker:
    """``client.run()`` in a thread of its own (its own event loop); records what it raised."""

    def __init__(self, target: Callable[[], None]) -> None:
        self.error: BaseException | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._main, args=(target,), name="client worker", daemon=True)

    def _main(self, target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as error:  # noqa: BLE001 - reported to the test, whatever it is
            self.error = error
        finally:
            self.done.set()

    def start(self) -> Worker:
        self.thread.start()
        return self

    async def join(self) -> None:
        assert await asyncio.to_thread(self.done.wait, TIMEOUT), "run() did not return"
        self.thread.join(TIMEOUT)
        assert self.error is None, repr(self.error)


async def _wait(event: threading.Event) -> None:
    assert await asyncio.to_thread(event.wait, TIMEOUT)


async def test_run_inside_a_running_loop_says_to_await_connect() -> None:
    client = TikTokLiveClient("@host")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(EventLoopRunningError, match=r"await client\.connect\(\)") as raised:
            client.run()
        gc.collect()
    assert isinstance(raised.value, TikTokLiveError)
    assert isinstance(raised.value, RuntimeError)  # what asyncio.run() raised there before
    assert not [warning for warning in caught if "never awaited" in str(warning.message)]
    assert client._loop is None  # nothing started


async def test_stop_from_another_thread_ends_run() -> None:
    async with _sim(loop=True) as sim:  # the show repeats: only stop() ends it
        sim.script(comment("alice", "hi"), delay=0.01)
        client = sim.client(reconnect=FAST)
        commented, disconnected = threading.Event(), threading.Event()
        client.add_listener(CommentEvent, lambda _: commented.set())
        client.add_listener(DisconnectEvent, lambda _: disconnected.set())
        worker = Worker(client.run).start()
        await _wait(commented)
        client.stop()  # this thread runs the simulator's loop, not the client's
        client.stop()  # idempotent
        await worker.join()
        assert disconnected.is_set() and not client.connected
        assert not sim.violations


async def test_stop_from_a_third_thread() -> None:
    async with _sim(loop=True) as sim:
        sim.script(comment("alice", "hi"), delay=0.01)
        client = sim.client(reconnect=FAST)
        connected = threading.Event()
        client.add_listener(ConnectEvent, lambda _: connected.set())
        worker = Worker(client.run).start()
        await _wait(connected)
        stopper = threading.Thread(target=client.stop)
        stopper.start()
        await asyncio.to_thread(stopper.join, TIMEOUT)
        assert not stopper.is_alive()  # stop() returned at once, without waiting for the client
        await worker.join()


async def test_stop_ends_a_wait_for_the_live_in_a_worker_thread() -> None:
    async with _sim(offline=True) as sim:
        client = sim.client(live_poll_interval=0.01)
        worker = Worker(lambda: client.run(wait_live=True)).start()
        await until(lambda: sim.requests.count("/@host/live") >= 2 or worker.done.is_set())  # waiting
        assert not worker.done.is_set(), repr(worker.error)
        client.stop()
        await worker.join()
        assert sim.connections == 0


async def test_stop_before_the_thread_runs_ends_that_run_at_once() -> None:
    async with _sim(loop=True) as sim:
        sim.script(comment("alice", "hi"), delay=0.01)
        client = sim.client(reconnect=FAST)
        client.stop()  # the worker has not reached run() yet
        await Worker(client.run).start().join()
        assert sim.connections == 0
        # spent: the next run connects as usual
        client.add_listener(CommentEvent, lambda _: client.stop())
        await Worker(client.run).start().join()
        assert sim.connections == 1


async def test_stop_from_a_handler_in_the_clients_own_loop() -> None:
    async with _sim() as sim:
        sim.script(comment("alice", "one"), comment("bob", "two"), comment("carol", "three"), end(), delay=0.05)
        client = sim.client(reconnect=FAST)
        seen: list[str] = []

        def on_comment(event: CommentEvent) -> None:
            seen.append(event.comment)
            client.stop()

        client.add_listener(CommentEvent, on_comment)
        await asyncio.wait_for(client.connect(), TIMEOUT)
        assert seen == ["one"]


async def test_disconnect_while_start_waits_gives_a_finished_task() -> None:
    async with _sim(offline=True) as sim:
        client = sim.client(live_poll_interval=0.01)
        starting = asyncio.create_task(client.start(wait_live=True))
        await until(lambda: sim.requests.count("/@host/live") >= 1)
        await client.disconnect()
        reader = await asyncio.wait_for(starting, TIMEOUT)
        assert reader.done() and not reader.cancelled() and reader.exception() is None
        with pytest.raises(RuntimeError, match="already connected"):
            await asyncio.gather(client.start(), client.start())
        await client.disconnect()


async def test_a_worker_thread_stops_a_client_running_in_this_loop() -> None:
    async with _sim(loop=True) as sim:
        sim.script(comment("alice", "hi"), delay=0.01)
        client = sim.client(reconnect=FAST)
        commented = threading.Event()
        client.add_listener(CommentEvent, lambda _: commented.set())

        def stop_after_a_comment() -> None:
            assert commented.wait(TIMEOUT)
            client.stop()

        stopper = Worker(stop_after_a_comment).start()
        await asyncio.wait_for(client.connect(), TIMEOUT)  # returns normally once the worker stops it
        await stopper.join()
        assert commented.is_set() and not client.connected
