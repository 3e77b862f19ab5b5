"""Waiting for a LIVE and following a host across LIVEs: ``wait_until_live`` (backoff, cancellation, no sign
server), ``connect(wait_live=True)``, follow mode against a simulator that goes offline → live → ended → live
again, and a client reused for a second LIVE whose msg ids repeat."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable

import pytest

from tests.sdk.conftest import until
from tiktok_live import (
    ClientConfig,
    ReconnectPolicy,
    RequestError,
    RoomIdNotFoundError,
    TikTokLiveClient,
    UserNotFoundError,
    UserOfflineError,
)
from tiktok_live._live import MAX_BACKOFF, poll_until_live
from tiktok_live.events import CommentEvent, ConnectEvent, DisconnectEvent, LiveEndEvent
from tiktok_live.pool import ClientOptions, RoomPool, RoomState
from tiktok_live.testing import Simulator, comment, end

TIMEOUT = 10.0
FAST = ReconnectPolicy(base_delay=0.01, max_delay=0.05, max_attempts=3)
POLL = 0.01


def _sim(**options: object) -> Simulator:
    return Simulator("host", ping_interval=0.05, ack_grace=0.5, enter_room_timeout=1.0, **options)  # type: ignore[arg-type]


class FakeSleep:
    """An injected sleep: records each pause and only yields, so tests never wait for time."""

    def __init__(self) -> None:
        self.pauses: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.pauses.append(seconds)
        await asyncio.sleep(0)


def _checks(*outcomes: int | Exception | None) -> Callable[[], Awaitable[int | None]]:
    pending = list(outcomes)

    async def check() -> int | None:
        outcome = pending.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return check


def _limited(retry_after: float | None = None) -> RequestError:
    return RequestError("429", host="webcast", status=429, retryable=True, retry_after=retry_after)


# ── the polling loop ────────────────────────────────────────────────────────────────────────────────────────────


async def test_polls_at_the_interval_until_live() -> None:
    sleep = FakeSleep()
    room = await poll_until_live(_checks(None, None, None, 42), 30.0, label="@host", sleep=sleep)
    assert room == 42 and sleep.pauses == [30.0, 30.0, 30.0]


async def test_backs_off_on_429_honours_retry_after_and_resets() -> None:
    sleep = FakeSleep()
    outcomes = (_limited(), _limited(), _limited(retry_after=500.0), _limited(), None, _limited(), 7)
    room = await poll_until_live(_checks(*outcomes), 30.0, label="@host", sleep=sleep)
    assert room == 7
    assert sleep.pauses == [60.0, 120.0, 500.0, 480.0, 30.0, 60.0]


async def test_backoff_is_capped() -> None:
    sleep = FakeSleep()
    failures = [RoomIdNotFoundError("host", "captcha")] * 12  # a captcha page is retryable too
    await poll_until_live(_checks(*failures, 1), 30.0, label="@host", sleep=sleep)
    assert max(sleep.pauses) == MAX_BACKOFF and sleep.pauses[-1] == MAX_BACKOFF
    sleep = FakeSleep()
    await poll_until_live(_checks(_limited(), 1), 900.0, label="@host", sleep=sleep)
    assert sleep.pauses == [900.0]  # never below the poll interval itself


async def test_errors_waiting_cannot_fix_are_raised() -> None:
    with pytest.raises(UserNotFoundError):
        await poll_until_live(_checks(None, UserNotFoundError("host")), 1.0, label="@host", sleep=FakeSleep())


async def test_cancelling_the_wait_stops_it() -> None:
    started = asyncio.Event()

    async def forever(seconds: float) -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(poll_until_live(_checks(None), 30.0, label="@host", sleep=forever))
    await asyncio.wait_for(started.wait(), TIMEOUT)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, TIMEOUT)


@pytest.mark.parametrize("interval", [0, -1.0, math.nan, math.inf, "30", True])
async def test_bad_poll_intervals_are_refused(interval: object) -> None:
    client = TikTokLiveClient("@host")
    with pytest.raises(ValueError, match="poll_interval"):
        await client.wait_until_live(interval)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="live_poll_interval"):
        ClientConfig(live_poll_interval=interval)  # type: ignore[arg-type]


# ── against the simulator ───────────────────────────────────────────────────────────────────────────────────────


async def test_wait_until_live_uses_the_live_check_not_the_sign_server() -> None:
    async with _sim(offline=True, relive_after=3) as sim:
        client = sim.client()
        sleep = FakeSleep()
        client._runner.sleep = sleep
        await asyncio.wait_for(client.wait_until_live(poll_interval=45.0), TIMEOUT)
        assert sleep.pauses == [45.0] * 3 and sim.lives == [sim.room_id]
        assert await client.is_live() is True
        assert not sim.sign_requests and sim.connections == 0 and client._http.session is None


async def test_wait_until_live_raises_for_an_unknown_user() -> None:
    async with _sim() as sim:
        client = TikTokLiveClient("@nobody", config=sim.config())
        with pytest.raises(UserNotFoundError):
            await asyncio.wait_for(client.wait_until_live(POLL), TIMEOUT)


async def test_connect_waits_for_the_live_with_wait_live() -> None:
    async with _sim(offline=True, relive_after=2) as sim:
        sim.script(comment("alice", "hi"), end())
        client = sim.client(reconnect=FAST, live_poll_interval=POLL)
        with pytest.raises(UserOfflineError, match="try again"):
            await asyncio.wait_for(client.connect(), TIMEOUT)
        comments: list[str] = []
        client.add_listener(CommentEvent, lambda event: comments.append(event.comment))
        await asyncio.wait_for(client.connect(wait_live=True), TIMEOUT)
        assert comments == ["hi"] and not sim.violations


async def test_wait_live_as_a_config_option() -> None:
    async with _sim(offline=True, relive_after=1) as sim:
        sim.script(comment("alice", "hi"), end())
        client = sim.client(wait_live=True, live_poll_interval=POLL)
        seen: list[ConnectEvent] = []
        client.add_listener(ConnectEvent, seen.append)
        await asyncio.wait_for(client.connect(), TIMEOUT)
        assert [event.room_id for event in seen] == [sim.room_id]


async def test_disconnect_while_waiting_ends_connect_normally() -> None:
    async with _sim(offline=True) as sim:
        client = sim.client(live_poll_interval=POLL)
        task = asyncio.create_task(client.connect(wait_live=True))
        await until(lambda: sim.requests.count("/@host/live") >= 2)  # the client is polling
        await client.disconnect()
        await asyncio.wait_for(task, TIMEOUT)  # returns, raises nothing
        assert sim.connections == 0 and client._http.session is None


async def test_follow_mode_across_lives() -> None:
    """offline → live → ended → live again: a LiveEndEvent, then a ConnectEvent for the new room; every comment
    of both LIVEs arrives once; the stream stays open from one LIVE to the next."""
    async with _sim(offline=True, relive_after=1, max_lives=2) as sim:
        sim.script(comment("alice", "first"), comment("bob", "second"), end())
        client = sim.client(follow=True, live_poll_interval=POLL, reconnect=FAST)
        events: list[object] = []
        ends = 0

        def on_end(event: LiveEndEvent) -> None:
            nonlocal ends
            ends += 1
            if ends == 2:
                client.stop()

        for kind in (ConnectEvent, CommentEvent, LiveEndEvent, DisconnectEvent):
            client.add_listener(kind, events.append)
        client.add_listener(LiveEndEvent, on_end)
        stream = client.stream(CommentEvent)
        collected: list[CommentEvent] = []

        async def consume() -> None:
            async for event in stream:
                collected.append(event)

        consumer = asyncio.create_task(consume())
        await asyncio.wait_for(client.connect(), TIMEOUT)
        await asyncio.wait_for(consumer, TIMEOUT)  # the stream ended with the client, not with the first LIVE

        first, second = sim.lives
        assert first != second and client.room_id == second
        kinds = [type(event).__name__ for event in events]
        assert kinds == ["ConnectEvent", "CommentEvent", "CommentEvent", "LiveEndEvent", "DisconnectEvent"] * 2
        connects = [event for event in events if isinstance(event, ConnectEvent)]
        assert [event.room_id for event in connects] == [first, second]
        comments = [event for event in events if isinstance(event, CommentEvent)]
        assert [event.comment for event in comments] == ["first", "second"] * 2
        assert len({event.msg_id for event in comments}) == 4  # fresh ids in the second LIVE
        assert [event.comment for event in collected] == ["first", "second"] * 2
        assert not sim.violations and sim.connections == 2


async def test_follow_never_reconnects_to_the_room_that_ended() -> None:
    """TikTok may still show a LIVE that ended as live for a while: follow mode waits for a new room."""
    async with _sim() as sim:  # the host stays "live" in the same room after the stream's end
        sim.script(comment("alice", "hi"), end())
        client = sim.client(follow=True, live_poll_interval=POLL, reconnect=FAST)
        connects: list[int] = []
        disconnected = asyncio.Event()
        client.add_listener(ConnectEvent, lambda event: connects.append(event.room_id))
        client.add_listener(DisconnectEvent, lambda _: disconnected.set())
        task = asyncio.create_task(client.connect())
        await asyncio.wait_for(disconnected.wait(), TIMEOUT)
        polled = sim.requests.count("/@host/live")
        await until(lambda: sim.requests.count("/@host/live") >= polled + 3)  # checking, not connecting
        assert sim.connections == 1
        new_room = sim.start_live()
        await until(lambda: len(connects) >= 2)
        client.stop()
        await asyncio.wait_for(task, TIMEOUT)
        assert connects == [sim.lives[0], new_room]


async def test_follow_gives_up_on_errors_waiting_cannot_fix() -> None:
    async with _sim(required_api_key="right") as sim:
        sim.script(comment("alice", "hi"), end())
        client = sim.client(follow=True, sign_api_key="wrong", live_poll_interval=POLL, reconnect=FAST)
        with pytest.raises(Exception, match="API key") as caught:
            await asyncio.wait_for(client.connect(), TIMEOUT)
        assert not getattr(caught.value, "retryable", True)


async def test_a_reused_client_keeps_a_second_lives_messages_when_msg_ids_repeat() -> None:
    async with _sim() as sim:  # the same script and seed: the second LIVE's msg ids are the first's
        sim.script(comment("alice", "one"), comment("bob", "two"), end())
        for client in (sim.client(reconnect=FAST), sim.client(room_id=sim.room_id, reconnect=FAST)):
            seen: list[CommentEvent] = []
            client.add_listener(CommentEvent, seen.append)
            await asyncio.wait_for(client.connect(), TIMEOUT)
            first_ids = [event.msg_id for event in seen]
            await asyncio.wait_for(client.connect(), TIMEOUT)
            assert [event.comment for event in seen] == ["one", "two", "one", "two"]
            assert [event.msg_id for event in seen[2:]] == first_ids
        assert not sim.violations


async def test_a_pool_room_waits_outside_the_connect_slots() -> None:
    async with _sim(offline=True, relive_after=2) as sim:
        sim.script(comment("alice", "hi"), end())
        pool = RoomPool(max_connecting=1, **_pool_options(sim))
        room = pool.add("@host", wait_live=True, live_poll_interval=POLL)
        other = pool.add("@nobody")  # fails at once: the waiting room holds no slot it needs
        await pool.start()
        await asyncio.wait_for(pool.wait(), TIMEOUT)
        assert room.state is RoomState.ENDED and room.connects == 1
        assert other.state is RoomState.FAILED and isinstance(other.error, UserNotFoundError)
        await pool.close()


def _pool_options(sim: Simulator) -> ClientOptions:
    return {"web_url": sim.url, "webcast_url": sim.url, "sign_url": sim.url, "reconnect": FAST}
