"""EventHub: numbering, the bounded backlog, resuming, per-browser bounds and cleanup (no network)."""

from __future__ import annotations

import asyncio
import json

import pytest

from tiktok_live.web.hub import DEFAULT_BACKLOG_BYTES, EventHub, Subscription


def chunks_text(subscription: Subscription) -> str:
    return b"".join(subscription.take()).decode()


def hello_of(text: str) -> str:
    head, _, _ = text.partition("\n\n")
    return head


def test_events_are_numbered_and_the_backlog_is_bounded() -> None:
    hub = EventHub(backlog=5)
    for index in range(20):
        assert hub.publish("CommentEvent", f'{{"n": {index}}}') == index + 1
    assert [seq for seq, _ in hub.backlog] == [16, 17, 18, 19, 20]
    subscription = hub.subscribe()
    assert subscription is not None
    text = chunks_text(subscription)
    assert text.startswith("retry: 2000\nevent: hello\ndata: {")
    assert '"reset":true' in hello_of(text)
    assert [line for line in text.splitlines() if line.startswith("id: ")] == [
        f"id: {hub.server_id}.{seq}" for seq in range(16, 21)
    ]


def test_backlog_zero_keeps_nothing() -> None:
    hub = EventHub(backlog=0)
    hub.publish("CommentEvent", "{}")
    assert hub.backlog == ()
    subscription = hub.subscribe()
    assert subscription is not None
    assert "id: " not in chunks_text(subscription)


def test_a_fresh_page_can_ask_for_fewer_backlog_events_of_some_types() -> None:
    hub = EventHub(backlog=50)
    for index in range(10):
        hub.publish("CommentEvent" if index % 2 else "LikeEvent", f'{{"n": {index}}}')
    subscription = hub.subscribe(types=["CommentEvent"], backlog=2)
    assert subscription is not None
    text = chunks_text(subscription)
    assert '{"n": 7}' in text and '{"n": 9}' in text
    assert '{"n": 5}' not in text and '{"n": 8}' not in text
    none = hub.subscribe(types=[], backlog=None)
    assert none is not None
    assert "id: " not in chunks_text(none)


def test_resume_sends_only_the_missed_events() -> None:
    hub = EventHub(backlog=10)
    for index in range(6):
        hub.publish("CommentEvent", f'{{"n": {index}}}')
    subscription = hub.subscribe(last_event_id=f"{hub.server_id}.4")
    assert subscription is not None
    text = chunks_text(subscription)
    assert '"reset":false' in hello_of(text)
    assert [line for line in text.splitlines() if line.startswith("id: ")] == [
        f"id: {hub.server_id}.5",
        f"id: {hub.server_id}.6",
    ]


@pytest.mark.parametrize("last_id", ["other.3", "garbage", "", "{server}.99", "{server}.1"])
def test_resume_from_elsewhere_starts_afresh(last_id: str) -> None:
    hub = EventHub(backlog=3)
    for index in range(6):
        hub.publish("CommentEvent", f'{{"n": {index}}}')
    # {server}.1: event 2 was already dropped from the backlog, so resuming would skip it
    subscription = hub.subscribe(last_event_id=last_id.format(server=hub.server_id))
    assert subscription is not None
    text = chunks_text(subscription)
    assert '"reset":true' in hello_of(text)
    assert text.count("id: ") == 3


def test_new_events_reach_every_subscriber_that_wants_them() -> None:
    hub = EventHub()
    everyone = [hub.subscribe() for _ in range(25)]
    gifts_only = hub.subscribe(types=["GiftEvent"])
    assert gifts_only is not None
    assert hub.subscriber_count == 26
    for subscription in [*everyone, gifts_only]:
        assert subscription is not None
        subscription.take()
    hub.publish("CommentEvent", '{"type": "CommentEvent"}')
    for subscription in everyone:
        assert subscription is not None
        assert '"CommentEvent"' in chunks_text(subscription)
    assert gifts_only.take() == []


def test_a_slow_browser_is_dropped_not_waited_for() -> None:
    hub = EventHub(queue_limit=5)
    slow = hub.subscribe()
    fast = hub.subscribe()
    assert slow is not None and fast is not None
    slow.take()
    for index in range(20):
        fast.take()
        hub.publish("CommentEvent", f'{{"n": {index}}}')
    assert slow.closed and slow.close_reason == "overflow"
    assert not fast.closed
    assert hub.subscriber_count == 1
    assert hub.overflows == 1
    assert slow.pending == 5  # what it had is still written before its stream ends


def test_close_forgets_and_close_all_ends_every_stream() -> None:
    hub = EventHub()
    first, second = hub.subscribe(), hub.subscribe()
    assert first is not None and second is not None
    first.close()
    first.close()
    assert hub.subscriber_count == 1
    hub.close_all()
    assert second.closed and second.close_reason == "shutdown"
    assert hub.subscriber_count == 0
    hub.publish("CommentEvent", "{}")  # nobody left: nothing queued anywhere
    assert second.pending == 1  # only its hello


def test_subscribers_are_bounded() -> None:
    hub = EventHub(max_subscribers=2)
    assert hub.subscribe() is not None
    assert hub.subscribe() is not None
    assert hub.subscribe() is None


def test_state_changes_are_coalesced_per_subscriber() -> None:
    hub = EventHub()
    with_state = hub.subscribe()
    without = hub.subscribe(wants_state=False)
    assert with_state is not None and without is not None
    for _ in range(100):
        hub.state_changed()
    assert with_state.state_dirty and not without.state_dirty
    assert with_state.pending == 1  # the hello; state is a flag, not queued copies


def test_payload_line_breaks_cannot_break_the_framing() -> None:
    hub = EventHub()
    subscription = hub.subscribe()
    assert subscription is not None
    subscription.take()
    hub.publish("CommentEvent", "line one\nline two\r\nevent: evil\n\ndata: x")
    text = chunks_text(subscription)
    messages = [block for block in text.split("\n\n") if block]
    assert len(messages) == 1
    assert all(line.startswith(("id: ", "data: ")) for line in messages[0].splitlines())


def test_only_cr_and_lf_split_data_lines() -> None:
    hub = EventHub()
    subscription = hub.subscribe()
    assert subscription is not None
    subscription.take()
    payload = '{"content": "a\u2028b\u2029c\u0085d\x0be\x0cf\x1cg"}'
    hub.publish("CommentEvent", payload)
    text = chunks_text(subscription)
    assert f"data: {payload}\n\n" in text


def test_lone_surrogates_are_replaced_not_fatal() -> None:
    hub = EventHub()
    subscription = hub.subscribe()
    assert subscription is not None
    subscription.take()
    hub.publish("CommentEvent", '{"content": "\ud800"}')
    assert b'"content": "?"' in b"".join(subscription.take())


async def test_wait_returns_on_news_or_timeout() -> None:
    hub = EventHub()
    subscription = hub.subscribe()
    assert subscription is not None
    subscription.take()
    await asyncio.wait_for(subscription.wait(0.05), 1)  # timeout, nothing to send
    assert subscription.take() == []
    waiter = asyncio.create_task(subscription.wait(5))
    await asyncio.sleep(0)
    hub.publish("CommentEvent", "{}")
    await asyncio.wait_for(waiter, 1)
    assert len(subscription.take()) == 1


def test_bad_options_are_rejected() -> None:
    with pytest.raises(ValueError, match="backlog"):
        EventHub(backlog=-1)
    with pytest.raises(ValueError, match="backlog"):
        EventHub(backlog=10**9)
    with pytest.raises(ValueError):
        EventHub(queue_limit=0)


@pytest.mark.parametrize(("held", "asked"), [(7, 8), (5, 8), (10, 15), (3, 3)])
def test_a_backlog_request_larger_than_the_matching_events_gets_them_all(held: int, asked: int) -> None:
    hub = EventHub(backlog=100)
    for index in range(held):
        hub.publish("CommentEvent", f'{{"n": {index}}}')
        hub.publish("LikeEvent", f'{{"like": {index}}}')
    subscription = hub.subscribe(types=["CommentEvent"], backlog=asked)
    assert subscription is not None
    text = chunks_text(subscription)
    assert [f'{{"n": {index}}}' in text for index in range(held)] == [True] * held


@pytest.mark.parametrize("number", ["²", "9" * 5000, "١٢"])
def test_odd_digits_in_a_resume_id_start_afresh(number: str) -> None:
    hub = EventHub(backlog=3)
    hub.publish("CommentEvent", '{"n": 1}')
    subscription = hub.subscribe(last_event_id=f"{hub.server_id}.{number}")
    assert subscription is not None
    assert '"reset":true' in hello_of(chunks_text(subscription))


# ── Bounded by bytes, not only by count (events vary from 100 bytes to megabytes). ──────────────────────────────

KB = 1024
MB = 1024 * KB


def _payload(index: int, size: int) -> str:
    return f'{{"n": {index}, "pad": "{"x" * size}"}}'


def test_the_backlog_is_bounded_by_bytes() -> None:
    """600 comments of 1 MB each kept 500 MB of backlog (serve at 1,089 MB RSS): the newest fit a byte budget."""
    hub = EventHub()
    for index in range(600):
        hub.publish("CommentEvent", _payload(index, MB))
    assert hub.held_bytes <= DEFAULT_BACKLOG_BYTES
    held = [seq for seq, _ in hub.backlog]
    assert held == list(range(601 - len(held), 601)) and len(held) >= DEFAULT_BACKLOG_BYTES // (MB + 200)

    small = EventHub(backlog=500, backlog_bytes=100 * KB)
    for index in range(50):
        small.publish("CommentEvent", _payload(index, 10 * KB))
    assert small.held_bytes <= 100 * KB and len(small.backlog) == 9
    subscription = small.subscribe(last_event_id=f"{small.server_id}.30")  # 31.. were dropped: start afresh
    assert subscription is not None
    text = chunks_text(subscription)
    assert '"reset":true' in hello_of(text) and text.count("id: ") == 9


def test_an_event_larger_than_the_whole_backlog_is_sent_but_not_kept() -> None:
    hub = EventHub(backlog_bytes=10 * KB)
    page = hub.subscribe()
    assert page is not None
    page.take()
    hub.publish("CommentEvent", _payload(1, 20 * KB))
    assert hub.backlog == () and hub.held_bytes == 0
    assert '"n": 1' in chunks_text(page)


def test_a_page_queue_is_bounded_by_bytes() -> None:
    """A page that never reads is dropped once its queue holds queue_bytes, long before queue_limit events."""
    hub = EventHub(queue_limit=2000, queue_bytes=MB)
    slow = hub.subscribe()
    assert slow is not None
    for index in range(40):
        hub.publish("CommentEvent", _payload(index, 100 * KB))
    assert slow.closed and slow.close_reason == "overflow" and hub.overflows == 1
    assert slow.queued_bytes <= MB
    assert 8 <= slow.pending <= 11  # the hello and the ~10 events that fit, still written before the stream ends


def test_one_event_larger_than_a_page_queue_still_reaches_a_page_that_keeps_up() -> None:
    hub = EventHub(queue_bytes=10 * KB)
    page = hub.subscribe()
    assert page is not None
    page.take()
    hub.publish("CommentEvent", _payload(1, 20 * KB))
    assert not page.closed and '"n": 1' in chunks_text(page)


def test_new_pages_read_the_backlog_in_place_and_in_bounded_batches() -> None:
    """--backlog 100000 with 20 pages that never read grew to 5.6 GB: each page copied the whole backlog. Now a
    page reads the shared backlog as it writes, in batches of at most ``max_bytes`` (or one event)."""
    hub = EventHub(backlog=100_000)
    for index in range(1000):
        hub.publish("LikeEvent" if index % 10 else "CommentEvent", _payload(index, 10 * KB))
    pages = [hub.subscribe() for _ in range(20)]
    comments = hub.subscribe(types=["CommentEvent"])
    assert comments is not None
    for page in pages:
        assert page is not None and page.replaying
        assert page.pending == 1 and page.queued_bytes < 2 * KB  # only the hello: the backlog is not copied
    page = pages[0]
    assert page is not None
    hub.publish("CommentEvent", _payload(1000, 10))  # a live event while the page replays: it comes after
    received: list[int] = []
    while True:
        batch = page.take(64 * KB)
        if not batch:
            break
        assert sum(map(len, batch)) <= 64 * KB or len(batch) == 1
        received.extend(_numbers(batch))
    assert received == list(range(1001)) and not page.replaying
    assert _numbers(comments.take()) == [*range(0, 1000, 10), 1000]


def _numbers(chunks: list[bytes]) -> list[int]:
    return [
        json.loads(line.removeprefix("data: "))["n"]
        for chunk in chunks
        for line in chunk.decode().splitlines()
        if line.startswith('data: {"n"')
    ]


def test_a_page_whose_replay_is_overtaken_by_the_backlog_starts_afresh() -> None:
    """If the backlog drops events this page has not written yet, it must not skip them silently: its stream ends
    (it reconnects with its last id, finds the gap and starts afresh)."""
    hub = EventHub(backlog=10)
    for index in range(10):
        hub.publish("CommentEvent", f'{{"n": {index}}}')
    page = hub.subscribe()
    assert page is not None
    assert _numbers(page.take(1)) == []  # the hello
    assert _numbers(page.take(1)) == [0]  # then one event per call
    for index in range(10, 30):
        hub.publish("CommentEvent", f'{{"n": {index}}}')
    assert _numbers(page.take()) == [] and page.closed and page.close_reason == "overflow"
    again = hub.subscribe(last_event_id=f"{hub.server_id}.1")
    assert again is not None
    assert '"reset":true' in hello_of(chunks_text(again))


def test_byte_bounds_are_validated() -> None:
    with pytest.raises(ValueError, match="backlog_bytes"):
        EventHub(backlog_bytes=0)
    with pytest.raises(ValueError, match="queue_bytes"):
        EventHub(queue_bytes=0)
