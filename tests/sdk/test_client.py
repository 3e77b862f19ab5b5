"""The client against the embedded simulator: typed events, duties, lazy dispatch, streams, errors, reconnects."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.support import wait_for_condition
from tiktok_live import (
    AgeRestrictedError,
    ReconnectPolicy,
    SignAPIKeyError,
    SignatureRateLimitError,
    TikTokLiveClient,
    UnknownEvent,
    UserNotFoundError,
    UserOfflineError,
    WebcastBlockedError,
)
from tiktok_live.events import (
    CommentEvent,
    ConnectEvent,
    ControlEvent,
    DisconnectEvent,
    ErrorEvent,
    FollowEvent,
    GiftEvent,
    JoinEvent,
    LikeEvent,
    LiveEndEvent,
    LivePauseEvent,
    LiveUnpauseEvent,
    ReconnectEvent,
    RoomUserSeqEvent,
    ShareEvent,
    SocialEvent,
)
from tiktok_live.testing import (
    Faults,
    Simulator,
    comment,
    end,
    follow,
    frame,
    gift,
    gift_streak,
    join,
    like,
    pause,
    room_user_seq,
    share,
    unpause,
)

TIMEOUT = 10.0
FAST = ReconnectPolicy(base_delay=0.01, max_delay=0.05, max_attempts=3)


def _sim(**options: object) -> Simulator:
    return Simulator(ping_interval=0.05, ack_grace=0.5, enter_room_timeout=1.0, **options)  # type: ignore[arg-type]


async def test_every_event_kind_arrives_typed_with_the_sent_values() -> None:
    async with _sim() as sim:
        sim.script(
            join("alice", member_count=7),
            comment("alice", "hello there"),
            like("bob", count=5, total=105),
            *gift_streak("carol", repeats=2),
            gift("dave", gift_id=7934, name="Lion", diamond_count=29999, gift_type=2, repeat_end=False),
            follow("erin"),
            share("frank", viewers=10),
            room_user_seq(total=42, total_user=99),
            pause(),
            unpause(),
            end(),
        )
        client = sim.client(reconnect=FAST)
        seen: list[object] = []
        for event_type in (
            ConnectEvent,
            JoinEvent,
            CommentEvent,
            LikeEvent,
            GiftEvent,
            SocialEvent,
            FollowEvent,
            ShareEvent,
            RoomUserSeqEvent,
            LivePauseEvent,
            LiveUnpauseEvent,
            LiveEndEvent,
            DisconnectEvent,
        ):
            client.add_listener(event_type, seen.append)
        await asyncio.wait_for(client.connect(), TIMEOUT)
        await asyncio.wait_for(sim.wait_idle(), TIMEOUT)

    types = [type(event).__name__ for event in seen]
    assert types[0] == "ConnectEvent" and types[-1] == "DisconnectEvent"
    assert types[1:-1] == [
        "JoinEvent",
        "CommentEvent",
        "LikeEvent",
        "GiftEvent",
        "GiftEvent",
        "GiftEvent",
        "GiftEvent",
        "SocialEvent",
        "FollowEvent",
        "SocialEvent",
        "ShareEvent",
        "RoomUserSeqEvent",
        "LivePauseEvent",
        "LiveUnpauseEvent",
        "LiveEndEvent",
    ]
    join_event, comment_event, like_event = seen[1], seen[2], seen[3]
    assert isinstance(join_event, JoinEvent) and join_event.user.unique_id == "alice"
    assert join_event.member_count == 7
    assert isinstance(comment_event, CommentEvent) and comment_event.comment == "hello there"
    assert comment_event.user.nickname and comment_event.common.room_id == client.room_id
    assert isinstance(like_event, LikeEvent) and (like_event.count, like_event.total) == (5, 105)
    gifts = [event for event in seen if isinstance(event, GiftEvent)]
    assert [g.streaking for g in gifts] == [True, True, False, False]
    assert gifts[2].repeat_count == 2 and gifts[2].diamonds == 2
    assert gifts[3].gift.name == "Lion" and gifts[3].diamonds == 29999 and gifts[3].value == pytest.approx(149.995)
    shares = [event for event in seen if isinstance(event, ShareEvent)]
    assert shares[0].users_joined == 10
    viewers = next(event for event in seen if isinstance(event, RoomUserSeqEvent))
    assert (viewers.viewer_count, viewers.total_user) == (42, 99)
    assert client.room_info is not None and client.room_info.is_live
    assert not client.connected
    assert sim.violations == []


async def test_acks_heartbeats_and_enter_room_follow_the_protocol() -> None:
    async with _sim() as sim:
        sim.script(comment("alice", "one"), comment("bob", "two"), frame(end(), delay=30.0))
        client = sim.client()
        await client.start()
        await wait_for_condition(lambda: len(sim.acks) == 2 and len(sim.heartbeats) >= 3, TIMEOUT)
        await client.disconnect()
        await asyncio.wait_for(sim.wait_idle(), TIMEOUT)
    assert sim.violations == []
    assert len(sim.enter_room) == 1 and sim.enter_room[0].room_id == client.room_id
    assert [seq for _, seq in sim.heartbeats][:3] == [1, 2, 3]


async def test_heartbeats_start_over_on_every_socket() -> None:
    """Regression: after a reconnect the heartbeat sequence went on from the old socket's (TikTok expects 1)."""
    async with _sim(faults=Faults(silent_after=1, first_connections=1)) as sim:
        sim.script(comment("a", "0"), comment("a", "1"), frame(comment("a", "2"), delay=0.5), end())
        client = sim.client(reconnect=FAST, watchdog_timeout=1.0)  # silence and the delay: 20 and 10 heartbeats
        await asyncio.wait_for(client.connect(), TIMEOUT)
        await asyncio.wait_for(sim.wait_idle(), TIMEOUT)
    assert sim.connections == 2
    seqs = [seq for _, seq in sim.heartbeats]
    restart = seqs.index(1, 1)  # the second socket's first heartbeat
    assert seqs[:restart] == list(range(1, restart + 1)) and restart >= 1
    assert sim.violations == []


async def test_lazy_dispatch_decodes_only_what_someone_listens_to() -> None:
    async with _sim() as sim:
        sim.script(*(like("bob", count=1) for _ in range(20)), comment("alice", "only me"), end())
        client = sim.client()
        comments: list[CommentEvent] = []
        client.add_listener(CommentEvent, comments.append)
        await asyncio.wait_for(client.connect(), TIMEOUT)
    assert [event.comment for event in comments] == ["only me"]
    # The comment and the control message (the client needs it to see the end); none of the 20 likes.
    assert client.decoded_messages == 2


async def test_a_raising_handler_leaves_the_stream_running(caplog: pytest.LogCaptureFixture) -> None:
    async with _sim() as sim:
        sim.script(comment("a", "1"), comment("b", "2"), comment("c", "3"), end())
        client = sim.client(strict=False)  # production behaviour: handler errors are logged and emitted, not raised
        good: list[str] = []
        errors: list[ErrorEvent] = []

        def bad(event: CommentEvent) -> None:
            raise ValueError(f"boom on {event.comment}")

        async def bad_async(event: CommentEvent) -> None:
            raise RuntimeError("async boom")

        client.add_listener(CommentEvent, bad)
        client.add_listener(CommentEvent, bad_async)
        client.add_listener(CommentEvent, lambda event: good.append(event.comment))
        client.add_listener(ErrorEvent, errors.append)
        with caplog.at_level(logging.ERROR, logger="tiktok_live"):
            await asyncio.wait_for(client.connect(), TIMEOUT)
    assert good == ["1", "2", "3"]
    assert sorted(type(e.exception).__name__ for e in errors) == ["RuntimeError"] * 3 + ["ValueError"] * 3
    assert sim.violations == []


async def test_stream_overflow_drops_oldest_and_counts() -> None:
    async with _sim() as sim:
        sim.script(*(comment("a", str(i)) for i in range(10)), end())
        client = sim.client()
        stream = client.stream(CommentEvent, maxsize=3)
        await asyncio.wait_for(client.connect(), TIMEOUT)
        received = [event.comment async for event in stream]
    assert received == ["7", "8", "9"]
    assert stream.dropped == 7


async def test_stream_yields_the_union_in_order() -> None:
    async with _sim() as sim:
        sim.script(comment("a", "hi"), gift("b"), like("c"), end())
        client = sim.client()
        await client.start()
        names = [event.type async for event in client.stream(CommentEvent, GiftEvent)]
        await client.disconnect()
    assert names == ["CommentEvent", "GiftEvent"]


async def test_reconnect_after_a_drop_delivers_every_message_once_in_order() -> None:
    async with _sim(faults=Faults(drop_after=3, first_connections=1)) as sim:
        sim.script(*(comment("a", str(i)) for i in range(8)), end())
        client = sim.client(reconnect=FAST)
        texts: list[str] = []
        reconnects: list[ReconnectEvent] = []
        client.add_listener(CommentEvent, lambda event: texts.append(event.comment))
        client.add_listener(ReconnectEvent, reconnects.append)
        await asyncio.wait_for(client.connect(), TIMEOUT)
    assert texts == [str(i) for i in range(8)]
    assert len(reconnects) == 1 and reconnects[0].attempt == 1 and reconnects[0].gap >= 0
    assert sim.connections == 2


async def test_silent_socket_is_detected_by_the_watchdog() -> None:
    async with _sim(faults=Faults(silent_after=2, first_connections=1)) as sim:
        sim.script(*(comment("a", str(i)) for i in range(4)), end())
        client = sim.client(reconnect=FAST, watchdog_timeout=0.5)
        texts: list[str] = []
        client.add_listener(CommentEvent, lambda event: texts.append(event.comment))
        await asyncio.wait_for(client.connect(), TIMEOUT)
    assert texts == ["0", "1", "2", "3"]


async def test_bad_frames_are_skipped_and_the_rest_delivered() -> None:
    faults = Faults(garbage_frame_at=1, truncated_gzip_at=2, corrupt_message_at=3, unknown_method_at=4)
    async with _sim(faults=faults) as sim:
        sim.script(*(comment("a", str(i)) for i in range(6)), end())
        client = sim.client()
        texts: list[str] = []
        unknown: list[UnknownEvent] = []
        client.add_listener(CommentEvent, lambda event: texts.append(event.comment))
        client.add_listener(UnknownEvent, unknown.append)
        await asyncio.wait_for(client.connect(), TIMEOUT)
    assert texts == ["0", "1", "2", "4", "5"]  # 3 had a corrupt payload
    assert {event.method for event in unknown} >= {"WebcastChatMessage"}
    assert any(event.decode_error is not None for event in unknown)
    assert any(event.decode_error is None for event in unknown)  # the unknown method


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"offline": True}, UserOfflineError),
        ({"age_restricted": True}, AgeRestrictedError),
        ({"sign_status": 401}, SignAPIKeyError),
        ({"sign_status": 429, "sign_retry_after": 999.0}, SignatureRateLimitError),
    ],
)
async def test_error_scenarios_raise_typed_errors(options: dict[str, object], error: type[Exception]) -> None:
    async with _sim(**options) as sim:
        client = sim.client(reconnect=FAST)
        with pytest.raises(error) as raised:
            await asyncio.wait_for(client.connect(), TIMEOUT)
        assert "sim" not in str(raised.value).lower() or client.unique_id in str(raised.value)
        assert not client.connected


async def test_unknown_user_raises_user_not_found() -> None:
    async with _sim() as sim:
        client = TikTokLiveClient("@nobody_here", web_url=sim.url, webcast_url=sim.url, sign_url=sim.url)
        with pytest.raises(UserNotFoundError, match="nobody_here"):
            await asyncio.wait_for(client.connect(), TIMEOUT)


async def test_sign_5xx_is_retried_then_connects() -> None:
    async with _sim(sign_status=503, sign_fail_times=1) as sim:
        sim.script(comment("a", "made it"), end())
        client = sim.client(reconnect=FAST)
        texts: list[str] = []
        client.add_listener(CommentEvent, lambda event: texts.append(event.comment))
        await asyncio.wait_for(client.connect(), TIMEOUT)
    assert texts == ["made it"]


async def test_cancelling_connect_closes_cleanly() -> None:
    async with _sim() as sim:
        sim.script(comment("a", "x"), frame(comment("a", "y"), delay=30.0))
        client = sim.client()
        seen: list[CommentEvent] = []
        client.add_listener(CommentEvent, seen.append)
        task = asyncio.create_task(client.connect())
        await wait_for_condition(lambda: len(seen) == 1 and client.connected, TIMEOUT)  # mid-show
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not client.connected
        await client.disconnect()  # idempotent


async def test_control_end_stops_the_client_without_listeners() -> None:
    async with _sim() as sim:
        sim.script(comment("a", "x"), end(), comment("a", "after the end"))
        client = sim.client()
        ends: list[ControlEvent] = []
        client.add_listener(ControlEvent, ends.append)
        await asyncio.wait_for(client.connect(), TIMEOUT)
    assert len(ends) == 1 and ends[0].ends_stream


async def test_page_layout_change_falls_back_to_the_room_api() -> None:
    async with _sim(page_layout_changed=True) as sim:
        sim.script(comment("a", "via api"), end())
        client = sim.client()
        texts: list[str] = []
        client.add_listener(CommentEvent, lambda event: texts.append(event.comment))
        await asyncio.wait_for(client.connect(), TIMEOUT)
    assert texts == ["via api"] and client.room_id == sim.room_id


async def test_sign_api_key_is_sent_from_the_environment_and_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGN_API_KEY", "s3cret-key")
    async with _sim(required_api_key="s3cret-key") as sim:
        sim.script(end())
        client = sim.client()
        await asyncio.wait_for(client.connect(), TIMEOUT)
        assert sim.sign_requests and all(request.has_api_key for request in sim.sign_requests)
        assert "s3cret" not in repr(client)
    monkeypatch.setenv("SIGN_API_KEY", "wrong-key")
    async with _sim(required_api_key="s3cret-key") as sim:
        client = sim.client()
        with pytest.raises(SignAPIKeyError) as raised:
            await asyncio.wait_for(client.connect(), TIMEOUT)
        assert "wrong-key" not in str(raised.value)
        assert len(sim.sign_requests) == 1  # a bad key is never retried


async def test_rejected_handshake_raises_webcast_blocked() -> None:
    async with _sim() as sim:
        client = sim.client()
        bundle_holder: list[object] = []
        signer = client._signer
        original = signer.sign_with_retry

        async def sign_once_reuse(room_id: int, policy: object) -> object:
            if not bundle_holder:
                bundle_holder.append(await original(room_id, policy))  # type: ignore[arg-type]
            return bundle_holder[0]

        signer.sign_with_retry = sign_once_reuse  # type: ignore[method-assign,assignment]
        sim.script(comment("a", "x"))
        await asyncio.wait_for(client.start(), TIMEOUT)
        await client.disconnect()
        with pytest.raises(WebcastBlockedError, match="illegal secret key") as raised:
            await asyncio.wait_for(client.start(), TIMEOUT)  # the signed URL's one-use token is spent
        assert raised.value.handshake_msg == "illegal secret key"
        assert not client.connected


def test_run_blocks_until_the_stream_ends() -> None:
    async def serve_and_run() -> list[str]:
        async with _sim() as sim:
            sim.script(comment("a", "blocking"), end())
            client = sim.client()
            texts: list[str] = []
            client.add_listener(CommentEvent, lambda event: texts.append(event.comment))
            await asyncio.get_running_loop().run_in_executor(None, client.run)
            return texts

    assert asyncio.run(serve_and_run()) == ["blocking"]


async def test_pytest_fixture_serves_a_scripted_room(tiktok_live_simulator: Simulator) -> None:
    tiktok_live_simulator.script(comment("alice", "from the fixture"), end())
    client = tiktok_live_simulator.client()
    stream = client.stream(CommentEvent)
    await asyncio.wait_for(client.connect(), TIMEOUT)
    assert [event.comment async for event in stream] == ["from the fixture"]


async def test_disconnect_after_a_reconnect_reports_the_final_close_not_the_old_one() -> None:
    async with _sim(faults=Faults(drop_after=1, first_connections=1)) as sim:
        sim.script(comment("a", "0"), comment("a", "1"), end())
        client = sim.client(reconnect=FAST)
        disconnects: list[DisconnectEvent] = []
        client.add_listener(DisconnectEvent, disconnects.append)
        await asyncio.wait_for(client.connect(), TIMEOUT)
    assert [(event.code, event.reason) for event in disconnects] == [(None, "stream ended")]


async def test_disconnect_from_a_handler_makes_connect_return_normally() -> None:
    async with _sim() as sim:
        sim.script(comment("a", "stop here"), frame(comment("a", "never"), delay=30.0))
        client = sim.client()
        texts: list[str] = []
        tasks: set[asyncio.Task[None]] = set()

        def on_comment(event: CommentEvent) -> None:
            texts.append(event.comment)
            tasks.add(asyncio.get_running_loop().create_task(client.disconnect()))

        client.add_listener(CommentEvent, on_comment)
        await asyncio.wait_for(client.connect(), TIMEOUT)  # returns: no CancelledError leaks out
        assert texts == ["stop here"] and not client.connected
