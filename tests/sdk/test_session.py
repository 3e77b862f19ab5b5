"""``tiktok_live.protocol.Session``: bytes in, events and acks out.

Property tests (hypothesis, derandomized, no example database): ``receive`` never raises, on arbitrary bytes and
on mutated real frames; any sequence of real and scripted messages, split into frames in any way, with resent and
duplicated frames and a snapshot/restore (through JSON) at any point, yields every message exactly once, in
order. Unit tests cover acks, cursor tracking, the end of the stream, lazy decoding, the duplicate window,
the frames a client sends, snapshots, and the envelope ``msg_id`` on every event and JSON Lines record.
"""

from __future__ import annotations

import gzip
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sdk.conftest import MISSING_FIXTURES, SHARED_FIXTURES, load_manifest
from tests.sdk.frames import (
    COMPRESSIONS,
    Compression,
    Wire,
    ack_of,
    expected,
    fetch_result,
    key,
    msg_frame,
    push_frame,
    wire,
)
from tiktok_live._base import BaseEvent, UnknownEvent
from tiktok_live._derived import DERIVED
from tiktok_live._generated.pb import transport_pb2, webcast_pb2
from tiktok_live._generated.registry import REGISTRY
from tiktok_live.errors import FrameDecodeError, SnapshotError, TikTokLiveError
from tiktok_live.events import (
    BarrageEvent,
    CommentEvent,
    ControlEvent,
    EnvelopeEvent,
    FollowEvent,
    GiftEvent,
    LikeEvent,
    LiveEndEvent,
    LivePauseEvent,
    ShareEvent,
    SocialEvent,
    SuperFanBoxEvent,
    SuperFanJoinEvent,
)
from tiktok_live.jsonl import event_to_dict
from tiktok_live.protocol import DEFAULT_DEDUPE_SIZE, SNAPSHOT_VERSION, Received, Session
from tiktok_live.testing import (
    GARBAGE_FRAME,
    MessageSpec,
    battle,
    comment,
    end,
    follow,
    gift,
    gift_streak,
    goal_update,
    join,
    like,
    pause,
    poll,
    raw,
    room_user_seq,
    share,
    suspend,
    unpause,
)

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FIRST_ID: Final = 7_412_000_000_000_000_000
CORRUPT: Final = b"\x0a\xff\xff\xff\x07"  # field 1 claims ~268 MB: no message class decodes it
UNKNOWN_METHOD: Final = "WebcastNoSuchMessageYet"
DERIVED_CLASSES: Final = frozenset(cls for classes in DERIVED.values() for cls in classes)


def _pb(message: Any) -> MessageSpec:
    """A builder-style spec for a message built directly with the generated classes."""
    return raw(message.DESCRIPTOR.name, message.SerializeToString())


def _super_fan_box() -> webcast_pb2.WebcastEnvelopeMessage:
    message = webcast_pb2.WebcastEnvelopeMessage()
    message.envelope_info.business_type = 19
    return message


SCRIPTED: Final[tuple[MessageSpec, ...]] = (
    comment("alice", "hi"),
    comment("bob", "zweite Nachricht 🎉"),
    gift("carol", gift_id=6369, name="Lion", diamond_count=29999, gift_type=2, repeat_end=False),
    *gift_streak("dave", repeats=2),
    like("erin", 5, 105),
    join("frank", 42),
    follow("grace"),
    share("heidi", viewers=3),
    room_user_seq(10, 20, [("ivan", 5)]),
    battle("rival", action="finish", host_score=3, opponent_score=1),
    goal_update("Goal", 10, 100, contributor="judy"),
    poll("Next?", ("a", "b"), [1, 2], phase="update"),
    pause(),
    unpause(),
    end(),
    suspend(),
    _pb(
        webcast_pb2.WebcastBarrageMessage(
            content=webcast_pb2.Text(key="ttlive_superfan_commentnotif_superfanjoined", default_pattern="joined")
        )
    ),
    _pb(_super_fan_box()),
    raw(UNKNOWN_METHOD, webcast_pb2.WebcastChatMessage(content="from the future").SerializeToString()),
    raw("WebcastChatMessage", CORRUPT),
    raw("WebcastGiftMessage", b""),
)
"""Scripted messages of every kind: generated events, each derived event, an unknown method, a corrupt payload."""


def _captured() -> tuple[MessageSpec, ...]:
    manifest = load_manifest()
    if manifest is None:
        return ()
    return tuple(raw(item["method"], (SHARED_FIXTURES / item["file"]).read_bytes()) for item in manifest["items"])


CAPTURED: Final = _captured()
"""The captured payloads of ../shared/fixtures (empty when the folder is absent)."""
needs_fixtures = pytest.mark.skipif(not CAPTURED, reason=MISSING_FIXTURES)

pytestmark = pytest.mark.usefixtures("quiet_decode_warnings")


def _json_round_trip(session: Session) -> Session:
    """Hand a session over as another process would: snapshot, JSON text, restore."""
    return Session.restore(json.loads(json.dumps(session.snapshot())), session.wanted)


def _frame_of(*specs: MessageSpec, first_id: int = FIRST_ID, **options: Any) -> tuple[list[Wire], bytes]:
    messages = [wire(spec, first_id + index) for index, spec in enumerate(specs)]
    return messages, msg_frame(messages, **options)


# ── exactly once, in order ──────────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Sent:
    """One WebSocket message of a generated stream, and what the session must report for it."""

    data: bytes
    fresh: tuple[Wire, ...]
    """The messages this frame carries for the first time (in order); resent ones are not listed."""
    copies: int
    """Messages in the frame (fresh and resent)."""
    need_ack: bool
    log_id: int
    cursor: str
    internal_ext: str
    readable: bool = True


@dataclass(frozen=True)
class Stream:
    """A generated stream: the frames in order, and before which of them the session is handed over."""

    frames: tuple[Sent, ...]
    messages: tuple[Wire, ...]
    handovers: frozenset[int]


@st.composite
def streams(draw: st.DrawFn, pool: Sequence[MessageSpec]) -> Stream:
    """Messages drawn from ``pool`` split into frames at any points; frames may resend earlier messages (TikTok
    resends history after a reconnect), arrive more than once, and be mixed with non-``msg`` and unreadable
    frames; the session may be handed over (snapshot, JSON, restore) before any frame."""
    count = draw(st.integers(1, 24))
    specs = draw(st.lists(st.sampled_from(pool), min_size=count, max_size=count))
    messages = [wire(spec, FIRST_ID + index * 7) for index, spec in enumerate(specs)]
    cuts = sorted(draw(st.sets(st.integers(1, count - 1), max_size=count - 1))) if count > 1 else []
    bounds = [0, *cuts, count]
    frames: list[Sent] = []
    earlier: list[Wire] = []
    for number, (start, stop) in enumerate(itertools.pairwise(bounds), start=1):
        chunk = messages[start:stop]
        resent = draw(st.lists(st.sampled_from(earlier), max_size=4)) if earlier else []
        at = draw(st.integers(0, len(chunk)))
        body = [*chunk[:at], *resent, *chunk[at:]]
        need_ack = draw(st.booleans())
        cursor = draw(st.sampled_from(["", f"t-{number}_r-{number}"]))
        internal_ext = draw(st.sampled_from(["", f"internal_src:pushserver|seq:{number}"]))
        compression: Compression = draw(st.sampled_from(COMPRESSIONS))
        data = msg_frame(
            body, cursor=cursor, internal_ext=internal_ext, need_ack=need_ack, compression=compression, log_id=number
        )
        frames.append(Sent(data, tuple(chunk), len(body), need_ack, number, cursor, internal_ext))
        for _ in range(draw(st.integers(0, 2))):  # the same frame again (new messages now all duplicates)
            frames.append(Sent(data, (), len(body), need_ack, number, cursor, internal_ext))
        noise = draw(st.sampled_from(["none", "hb", "enter", "garbage", "truncated"]))
        if noise in ("hb", "enter"):
            payload_type = "hb" if noise == "hb" else "im_enter_room_resp"
            frames.append(Sent(push_frame(b"\x08\x01", payload_type=payload_type), (), 0, False, 0, "", ""))
        elif noise == "garbage":
            frames.append(Sent(GARBAGE_FRAME, (), 0, False, 0, "", "", readable=False))
        elif noise == "truncated":
            cut = push_frame(gzip.compress(fetch_result(body, need_ack=True))[:20], compression="plain")
            frames.append(Sent(cut, (), 0, False, 0, "", "", readable=False))
        earlier.extend(chunk)
    handovers = draw(st.frozensets(st.integers(0, len(frames))))
    return Stream(tuple(frames), tuple(messages), handovers)


def _check_stream(stream: Stream) -> None:
    session = Session()
    twin = Session()  # never handed over: the restored session must behave exactly like it
    emitted: list[tuple[object, ...]] = []
    cursor = internal_ext = ""
    ended = False
    for index, sent in enumerate(stream.frames):
        if index in stream.handovers:
            session = _json_round_trip(session)
        received = session.receive(sent.data)
        reference = twin.receive(sent.data)
        assert [key(event) for event in received.events] == [key(event) for event in reference.events]
        assert (received.ack, received.duplicates, received.ended) == (reference.ack, reference.duplicates, twin.ended)
        if not sent.readable:
            assert isinstance(received.error, FrameDecodeError) and not received.events and received.ack is None
            continue
        assert received.error is None
        want = [item for message in sent.fresh for item in expected(message)]
        assert [key(event) for event in received.events] == want
        assert received.messages == sent.copies
        assert received.duplicates == sent.copies - len(sent.fresh)
        emitted.extend(want)
        ended = ended or any(item[0] is LiveEndEvent for item in want)
        cursor = sent.cursor or cursor
        internal_ext = sent.internal_ext or internal_ext
        assert (received.cursor, received.internal_ext, received.ended) == (cursor, internal_ext, ended)
        if sent.need_ack:
            assert received.ack is not None
            ack = ack_of(received.ack)
            assert (ack.payload_type, ack.payload, ack.log_id) == (
                "ack",
                (sent.internal_ext or "-").encode(),
                sent.log_id,
            )
        else:
            assert received.ack is None
    assert emitted == [item for message in stream.messages for item in expected(message)]
    assert session.snapshot() == twin.snapshot()


@SETTINGS
@given(stream=streams(SCRIPTED))
def test_every_scripted_message_exactly_once_in_order(stream: Stream) -> None:
    _check_stream(stream)


@needs_fixtures
@SETTINGS
@given(stream=streams((*CAPTURED, *SCRIPTED)))
def test_every_captured_and_scripted_message_exactly_once_in_order(stream: Stream) -> None:
    _check_stream(stream)


# ── never raises ────────────────────────────────────────────────────────────────────────────────────────────────


def _check_never_raises(session: Session, data: bytes, *, bare: bool = False) -> Received:
    """Feed ``data``; whatever it is, ``receive`` returns, and an unreadable frame changes nothing."""
    before = session.snapshot()
    received = session.receive_fetch_result(data) if bare else session.receive(data)
    assert isinstance(received, Received)
    assert all(isinstance(event, BaseEvent) and isinstance(event.msg_id, int) for event in received.events)
    if received.error is not None:
        assert isinstance(received.error, FrameDecodeError) and isinstance(received.error, TikTokLiveError)
        assert (received.events, received.ack, received.messages) == ((), None, 0)
        assert session.snapshot() == before, "an unreadable frame must not change the session"
    if received.ack is not None:
        ack = ack_of(received.ack)
        assert ack.payload_type == "ack" and ack.payload
    assert (received.cursor, received.internal_ext, received.ended) == (
        session.cursor,
        session.internal_ext,
        session.ended,
    )
    return received


@SETTINGS
@given(data=st.binary(max_size=4096))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    _check_never_raises(Session(), data)
    _check_never_raises(Session(), data, bare=True)
    _check_never_raises(Session(wanted={CommentEvent}, dedupe_size=2, max_decompressed_size=64), data)


def _seed(messages: Sequence[Wire], compression: Compression) -> tuple[bytes, bytes]:
    result = fetch_result(messages, cursor="t-1_r-1", internal_ext="internal_src:pushserver", need_ack=True)
    return result, push_frame(result, compression=compression, log_id=77)


BUILT_SEEDS: Final = tuple(
    _seed([wire(spec, FIRST_ID + index) for index, spec in enumerate(group)], compression)
    for group, compression in zip(
        [SCRIPTED[:6], SCRIPTED[6:12], SCRIPTED[12:18], SCRIPTED[18:]], [*COMPRESSIONS, "gzip-header"], strict=True
    )
)
"""(fetch result, push frame) pairs built from the scripted messages."""


def _captured_seeds() -> tuple[tuple[bytes, bytes], ...]:
    manifest = load_manifest()
    if manifest is None:
        return ()
    seeds = []
    for entry in manifest["frames"]:
        data = (SHARED_FIXTURES / entry["file"]).read_bytes()
        if entry["kind"] == "push_frame":
            frame = transport_pb2.PushFrame.FromString(data)
            seeds.append((gzip.decompress(frame.payload), data))
        else:
            seeds.append((data, push_frame(data, compression="gzip-header", log_id=5)))
    return tuple(seeds)


CAPTURED_SEEDS: Final = _captured_seeds()


@st.composite
def mutated(draw: st.DrawFn, seeds: Sequence[tuple[bytes, bytes]]) -> bytes:
    """A seed frame with bit flips, truncation, splices with another seed, insertions and deletions, applied to
    the frame's bytes, to its fetch result (then re-framed) or to one message payload (then re-framed)."""
    result, frame = draw(st.sampled_from(seeds))
    layer = draw(st.sampled_from(["frame", "fetch-result", "payload"]))
    if layer == "payload":
        parsed = webcast_pb2.ProtoMessageFetchResult.FromString(result)
        if parsed.messages:
            message = parsed.messages[draw(st.integers(0, len(parsed.messages) - 1))]
            message.payload = _mutate(draw, message.payload, seeds)
        compression: Compression = draw(st.sampled_from(COMPRESSIONS))
        return push_frame(parsed.SerializeToString(), compression=compression, log_id=9)
    if layer == "fetch-result":
        return push_frame(_mutate(draw, result, seeds), compression=draw(st.sampled_from(COMPRESSIONS)))
    return _mutate(draw, frame, seeds)


def _mutate(draw: st.DrawFn, data: bytes, seeds: Sequence[tuple[bytes, bytes]]) -> bytes:
    buffer = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        operation = draw(st.sampled_from(["flip", "truncate", "splice", "insert", "delete"]))
        size = len(buffer)
        if operation == "flip" and size:
            bit = draw(st.integers(0, size * 8 - 1))
            buffer[bit // 8] ^= 1 << (bit % 8)
        elif operation == "truncate":
            del buffer[draw(st.integers(0, size)) :]
        elif operation == "splice":
            other = draw(st.sampled_from([part for seed in seeds for part in seed]))
            buffer = buffer[: draw(st.integers(0, size))] + other[draw(st.integers(0, len(other))) :]
        elif operation == "insert":
            at = draw(st.integers(0, size))
            buffer[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif operation == "delete" and size:
            start = draw(st.integers(0, size - 1))
            del buffer[start : start + draw(st.integers(1, 16))]
    return bytes(buffer)


@SETTINGS
@given(data=mutated(BUILT_SEEDS))
def test_mutated_built_frames_never_raise(data: bytes) -> None:
    session = Session()
    _check_never_raises(session, data)
    _check_never_raises(session, data)  # the same frame twice: its messages are now duplicates


@needs_fixtures
@SETTINGS
@given(data=mutated(CAPTURED_SEEDS + BUILT_SEEDS))
def test_mutated_captured_frames_never_raise(data: bytes) -> None:
    _check_never_raises(Session(), data)
    _check_never_raises(Session(wanted={GiftEvent, UnknownEvent}), data)


def test_the_seeds_themselves_are_read_whole() -> None:
    """The mutation tests start from frames the session reads without error."""
    for result, frame in BUILT_SEEDS + CAPTURED_SEEDS:
        received = Session().receive(frame)
        assert received.error is None and received.messages > 0
        assert (received.ack is not None) is webcast_pb2.ProtoMessageFetchResult.FromString(result).need_ack


def test_unreadable_frames_say_why() -> None:
    session = Session(max_decompressed_size=1024)
    garbage = session.receive(GARBAGE_FRAME)
    assert isinstance(garbage.error, FrameDecodeError) and garbage.error.__cause__ is not None
    assert str(len(GARBAGE_FRAME)) in str(garbage.error)
    truncated = session.receive(push_frame(gzip.compress(fetch_result([]))[:-4], compression="plain"))
    assert truncated.error is not None and "truncated" in str(truncated.error)
    bomb = session.receive(push_frame(bytes(4096), compression="gzip-header"))
    assert bomb.error is not None and "limit" in str(bomb.error)
    plain = session.receive(push_frame(b"\x0a\x00" * 600))
    assert plain.error is not None and "limit" in str(plain.error)
    not_a_result = session.receive(push_frame(b"\xff\xff"))
    assert not_a_result.error is not None and not_a_result.payload_type == ""
    assert session.snapshot() == Session(max_decompressed_size=1024).snapshot()


def test_frames_other_than_msg_carry_nothing() -> None:
    session = Session()
    for payload_type in ("hb", "im_enter_room_resp", "ack", "close", ""):
        received = session.receive(
            push_frame(fetch_result([wire(comment(), 1)], need_ack=True), payload_type=payload_type)
        )
        assert (received.events, received.ack, received.error, received.payload_type) == ((), None, None, payload_type)
    assert session.decoded == 0 and not session.seen(1)


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="dedupe_size"):
        Session(dedupe_size=-1)
    with pytest.raises(ValueError, match="max_decompressed_size"):
        Session(max_decompressed_size=0)
    assert Session().dedupe_size == DEFAULT_DEDUPE_SIZE


# ── acks, cursor, internal_ext ──────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_an_ack_echoes_the_log_id_and_carries_the_internal_ext(compression: Compression) -> None:
    session = Session()
    _, data = _frame_of(
        comment(),
        need_ack=True,
        internal_ext="internal_src:pushserver|seq:1",
        log_id=2**63 - 1,
        compression=compression,
    )
    received = session.receive(data)
    assert received.ack is not None
    ack = ack_of(received.ack)
    assert ack == transport_pb2.PushFrame(
        payload_encoding="pb", payload_type="ack", payload=b"internal_src:pushserver|seq:1", log_id=2**63 - 1
    )


def test_an_ack_without_internal_ext_carries_a_dash() -> None:
    session = Session()
    received = session.receive(msg_frame([], need_ack=True, log_id=3))
    assert received.ack is not None and ack_of(received.ack).payload == b"-" and ack_of(received.ack).log_id == 3
    assert session.receive(msg_frame([], need_ack=False, log_id=4)).ack is None


def test_a_frame_of_only_duplicates_is_still_acked() -> None:
    session = Session()
    _, data = _frame_of(comment(), need_ack=True, internal_ext="x", log_id=1)
    session.receive(data)
    again = session.receive(data)
    assert again.ack is not None and again.events == () and again.duplicates == 1


def test_cursor_and_internal_ext_track_the_last_frame_that_set_them() -> None:
    session = Session()
    first = session.receive(msg_frame([], cursor="t-1", internal_ext="ext-1"))
    assert (first.cursor, first.internal_ext) == ("t-1", "ext-1")
    kept = session.receive(msg_frame([], cursor="", internal_ext=""))  # empty values do not erase them
    assert (kept.cursor, kept.internal_ext) == ("t-1", "ext-1")
    second = session.receive(msg_frame([], cursor="t-2", internal_ext=""))
    assert (second.cursor, second.internal_ext) == ("t-2", "ext-1")
    session.receive(GARBAGE_FRAME)
    assert (session.cursor, session.internal_ext) == ("t-2", "ext-1")
    bare = session.receive_fetch_result(fetch_result([], cursor="t-3", internal_ext="ext-3", need_ack=True))
    assert (bare.cursor, bare.internal_ext, bare.ack) == ("t-3", "ext-3", None)


# ── the end of the stream ───────────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(("spec", "ends"), [(end(), True), (suspend(), True), (pause(), False), (unpause(), False)])
@pytest.mark.parametrize("wanted", [None, {CommentEvent}, {ControlEvent}, {LiveEndEvent}, set()])
def test_ended_follows_control_actions_whatever_is_wanted(
    spec: MessageSpec, ends: bool, wanted: set[type[BaseEvent]] | None
) -> None:
    session = Session(wanted)
    _, data = _frame_of(comment(), spec)
    received = session.receive(data)
    assert received.ended is ends and session.ended is ends
    emitted = {type(event) for event in received.events}
    assert emitted <= (wanted if wanted is not None else emitted)
    if wanted == {CommentEvent}:
        assert emitted == {CommentEvent}
    later = session.receive(msg_frame([wire(comment(), 5)]))
    assert later.ended is ends  # once seen, the end stays seen


def test_ended_survives_a_handover() -> None:
    session = Session(wanted={CommentEvent})
    session.receive(_frame_of(end())[1])
    assert _json_round_trip(session).ended is True


# ── what to decode ──────────────────────────────────────────────────────────────────────────────────────────────


def test_unwanted_classes_are_not_decoded() -> None:
    session = Session(wanted={CommentEvent})
    received = session.receive(_frame_of(gift(), like(), comment("a", "x"), join(), comment("b", "y"))[1])
    assert [type(event) for event in received.events] == [CommentEvent, CommentEvent]
    assert session.decoded == 2
    everything = Session()
    everything.receive(_frame_of(gift(), like(), comment("a", "x"), join(), comment("b", "y"))[1])
    assert everything.decoded == 5


def test_control_messages_are_decoded_even_when_not_wanted() -> None:
    session = Session(wanted={CommentEvent})
    session.receive(_frame_of(pause(), unpause(), gift())[1])
    assert session.decoded == 2


def test_a_wanted_derived_event_decodes_its_source_only() -> None:
    session = Session(wanted={FollowEvent})
    received = session.receive(_frame_of(follow("a"), share("b"), comment(), follow("c"))[1])
    assert [type(event) for event in received.events] == [FollowEvent, FollowEvent]
    assert session.decoded == 3  # the three social messages; not the comment
    assert session.wanted == frozenset({FollowEvent})


@pytest.mark.parametrize(
    ("wanted", "source"),
    [
        ({ShareEvent}, SocialEvent),
        ({LivePauseEvent}, ControlEvent),
        ({SuperFanJoinEvent}, BarrageEvent),
        ({SuperFanBoxEvent}, EnvelopeEvent),
    ],
)
def test_every_derived_event_pulls_in_its_source(wanted: set[type[BaseEvent]], source: type[BaseEvent]) -> None:
    assert set(wanted) <= set(DERIVED[source])
    specs = [spec for spec in SCRIPTED if REGISTRY.get(spec.method) is source]
    assert specs, f"no scripted {source.__name__}"
    session = Session(wanted=wanted)
    received = session.receive(_frame_of(*specs, comment(), gift())[1])
    assert session.decoded == len(specs)  # the sources only: not the comment, not the gift
    assert received.events and {type(event) for event in received.events} == set(wanted)


def test_unknown_methods_are_emitted_only_when_unknown_events_are_wanted() -> None:
    specs = (
        raw(UNKNOWN_METHOD, b"\x08\x01"),
        comment(),
        raw("WebcastChatMessage", CORRUPT),
        raw("WebcastGiftMessage", CORRUPT),
    )
    messages, data = _frame_of(*specs)

    everything = Session()
    types = [type(event) for event in everything.receive(data).events]
    assert types == [UnknownEvent, CommentEvent, UnknownEvent, UnknownEvent]

    comments_only = Session(wanted={CommentEvent})
    assert [type(event) for event in comments_only.receive(data).events] == [CommentEvent]
    assert comments_only.decoded == 2  # the comment and the corrupt comment; the unknown method has no class

    unknown_only = Session(wanted={UnknownEvent})
    (unknown,) = unknown_only.receive(data).events
    assert isinstance(unknown, UnknownEvent) and unknown.method == UNKNOWN_METHOD and unknown.decode_error is None
    assert unknown_only.decoded == 0  # lazy: corrupt payloads of unwanted classes are never looked at

    both = Session(wanted={CommentEvent, UnknownEvent})
    events = both.receive(data).events
    assert [type(event) for event in events] == [UnknownEvent, CommentEvent, UnknownEvent]
    broken = events[2]
    assert isinstance(broken, UnknownEvent) and broken.method == "WebcastChatMessage"
    assert broken.decode_error is not None and broken.msg_id == messages[2].msg_id and broken.bytes == CORRUPT


def test_wanted_can_change_between_frames() -> None:
    session = Session(wanted={CommentEvent})
    assert [type(e) for e in session.receive(_frame_of(comment(), like())[1]).events] == [CommentEvent]
    session.wanted = {LikeEvent}
    assert [type(e) for e in session.receive(_frame_of(comment(), like(), first_id=10)[1]).events] == [LikeEvent]
    session.wanted = None
    assert session.wanted is None
    assert [type(e) for e in session.receive(_frame_of(comment(), like(), first_id=20)[1]).events] == [
        CommentEvent,
        LikeEvent,
    ]


def test_unwanted_messages_still_enter_the_duplicate_window() -> None:
    session = Session(wanted={CommentEvent})
    _, data = _frame_of(gift(), comment())
    session.receive(data)
    session.wanted = None  # a listener for gifts arrives; TikTok resends the same history
    again = session.receive(data)
    assert again.events == () and again.duplicates == 2


# ── the duplicate window ────────────────────────────────────────────────────────────────────────────────────────


def _ids(session: Session, *msg_ids: int) -> list[int]:
    """Feed one comment per id in one frame; the ids that came out."""
    messages = [Wire("WebcastChatMessage", b"", msg_id) for msg_id in msg_ids]
    return [event.msg_id for event in session.receive(msg_frame(messages)).events]


def test_the_window_evicts_the_oldest_first_and_duplicates_do_not_refresh() -> None:
    session = Session(dedupe_size=3)
    assert _ids(session, 1, 2, 3, 4) == [1, 2, 3, 4]
    assert session.snapshot()["seen"] == [2, 3, 4]
    assert _ids(session, 2) == []  # dropped; its place in the window stays
    assert session.snapshot()["seen"] == [2, 3, 4]
    assert _ids(session, 1) == [1]  # evicted earlier: delivered again
    assert session.snapshot()["seen"] == [3, 4, 1]
    assert _ids(session, 4, 2) == [2]
    assert session.snapshot()["seen"] == [4, 1, 2]
    assert _ids(session, 5, 4) == [5, 4]  # 5 pushed 4 out of the window just before 4 came again
    assert session.snapshot()["seen"] == [2, 5, 4]
    assert [session.seen(msg_id) for msg_id in (1, 2, 3, 4, 5)] == [False, True, False, True, True]


def test_a_zero_window_remembers_nothing_and_zero_ids_are_never_deduplicated() -> None:
    session = Session(dedupe_size=0)
    assert _ids(session, 5, 5) == [5, 5]
    assert session.snapshot()["seen"] == []
    default = Session()
    assert _ids(default, 0, 0) == [0, 0]
    assert _ids(default, 0) == [0]
    assert default.snapshot()["seen"] == []


@SETTINGS
@given(
    size=st.integers(0, 6),
    batches=st.lists(st.lists(st.integers(-3, 12), max_size=8), max_size=12),
    handover=st.integers(0, 12),
)
def test_the_window_matches_a_reference_model(size: int, batches: list[list[int]], handover: int) -> None:
    """A FIFO of the last ``size`` first-seen ids: the session delivers and remembers exactly what it would."""
    session = Session(dedupe_size=size)
    model: list[int] = []
    for index, batch in enumerate(batches):
        if index == handover:
            session = _json_round_trip(session)
        delivered = []
        for msg_id in batch:
            if msg_id and msg_id in model:
                continue
            delivered.append(msg_id)
            if msg_id and size:
                model.append(msg_id)
                del model[: max(0, len(model) - size)]
        assert _ids(session, *batch) == delivered
        assert session.snapshot()["seen"] == model
        assert len(model) <= size


def test_the_window_stays_bounded() -> None:
    session = Session(dedupe_size=100)
    for start in range(0, 1000, 250):
        _ids(session, *range(start + 1, start + 251))
    seen = session.snapshot()["seen"]
    assert seen == list(range(901, 1001))


# ── the frames a client sends ───────────────────────────────────────────────────────────────────────────────────


def test_heartbeats_count_up_and_name_the_room() -> None:
    session = Session()
    beats = [transport_pb2.PushFrame.FromString(session.heartbeat(7_300_000_000_000_000_123)) for _ in range(3)]
    for sequence, frame in enumerate(beats, start=1):
        assert (frame.payload_type, frame.payload_encoding) == ("hb", "pb")
        beat = transport_pb2.HeartbeatMessage.FromString(frame.payload)
        assert (beat.room_id, beat.send_packet_seq_id) == (7_300_000_000_000_000_123, sequence)
    assert session.heartbeats == 3 and session.room_id == 7_300_000_000_000_000_123
    restored = _json_round_trip(session)
    beat = transport_pb2.HeartbeatMessage.FromString(transport_pb2.PushFrame.FromString(restored.heartbeat(9)).payload)
    assert beat.send_packet_seq_id == 4  # a handed-over session continues the sequence


def test_enter_room_joins_as_audience() -> None:
    session = Session()
    frame = transport_pb2.PushFrame.FromString(session.enter_room(7_300_000_000_000_000_456))
    assert (frame.payload_type, frame.payload_encoding, frame.log_id) == ("im_enter_room", "pb", 0)
    enter = transport_pb2.EnterRoomMessage.FromString(frame.payload)
    assert (enter.room_id, enter.live_id, enter.identity, enter.filter_welcome_msg) == (
        7_300_000_000_000_000_456,
        12,
        "audience",
        "0",
    )
    assert session.room_id == 7_300_000_000_000_000_456 and session.heartbeats == 0


def test_entering_the_room_again_restarts_the_heartbeat_sequence() -> None:
    """Regression: after a reconnect the session went on counting, and TikTok expects 1 on every new socket."""
    session = Session()
    session.enter_room(5)
    for _ in range(3):
        session.heartbeat(5)
    session.enter_room(5)  # the next socket
    frame = transport_pb2.PushFrame.FromString(session.heartbeat(5))
    assert transport_pb2.HeartbeatMessage.FromString(frame.payload).send_packet_seq_id == 1


# ── fetch results without a frame ───────────────────────────────────────────────────────────────────────────────


def test_a_bare_fetch_result_is_read_and_shares_the_window() -> None:
    session = Session()
    messages = [wire(comment("a", "history"), 1), wire(follow("b"), 2)]
    bundle = session.receive_fetch_result(fetch_result(messages, cursor="t-9", need_ack=True))
    assert [type(event) for event in bundle.events] == [CommentEvent, SocialEvent, FollowEvent]
    assert (bundle.ack, bundle.cursor, bundle.payload_type, bundle.messages) == (None, "t-9", "msg", 2)
    resent = session.receive(msg_frame([*messages, wire(comment("c", "new"), 3)], need_ack=True))
    assert [event.msg_id for event in resent.events] == [3] and resent.duplicates == 2
    unreadable = session.receive_fetch_result(b"\xff\xff\xff")
    assert isinstance(unreadable.error, FrameDecodeError) and unreadable.cursor == "t-9"


# ── snapshots ───────────────────────────────────────────────────────────────────────────────────────────────────


def test_a_snapshot_is_plain_json_and_restores_to_the_same_state() -> None:
    session = Session(dedupe_size=5, room_id=11)
    session.receive(msg_frame([wire(comment(), FIRST_ID + n) for n in range(7)], cursor="t-1", internal_ext="e"))
    session.heartbeat(11)
    snapshot = session.snapshot()
    assert json.loads(json.dumps(snapshot)) == snapshot
    assert snapshot == {
        "version": SNAPSHOT_VERSION,
        "room_id": 11,
        "cursor": "t-1",
        "internal_ext": "e",
        "ended": False,
        "dedupe_size": 5,
        "heartbeats": 1,
        "seen": [FIRST_ID + n for n in range(2, 7)],
    }
    restored = Session.restore(json.loads(json.dumps(snapshot)), {CommentEvent})
    assert restored.snapshot() == snapshot and restored.wanted == frozenset({CommentEvent})
    assert "room_id=11" in repr(restored)
    # Without the window (a store that keeps it apart): the rest is the same; restored with it put back.
    bare = session.snapshot(seen=False)
    assert bare == {**snapshot, "seen": []}
    assert Session.restore({**bare, "seen": snapshot["seen"]}).snapshot() == snapshot


def _snapshot(**changes: object) -> dict[str, object]:
    snapshot = Session(room_id=1).snapshot()
    snapshot.update(changes)
    return snapshot


@pytest.mark.parametrize(
    ("snapshot", "match"),
    [
        ([], "version"),
        (None, "version"),
        ("{}", "version"),
        ({}, "version"),
        (_snapshot(version=2), "version"),
        (_snapshot(version="1"), "version"),
        (_snapshot(room_id="1"), "room_id"),
        (_snapshot(room_id=None), "room_id"),
        (_snapshot(room_id=True), "room_id"),
        (_snapshot(room_id=1.0), "room_id"),
        (_snapshot(dedupe_size=None), "dedupe_size"),
        (_snapshot(heartbeats="3"), "heartbeats"),
        (_snapshot(cursor=3), "cursor"),
        (_snapshot(internal_ext=None), "internal_ext"),
        (_snapshot(ended=1), "ended"),
        (_snapshot(seen=None), "seen"),
        (_snapshot(seen=[1, "2"]), "seen"),
        (_snapshot(seen=[True]), "seen"),
        (_snapshot(seen={"1": 1}), "seen"),
        (_snapshot(dedupe_size=-1), "negative"),
        (_snapshot(room_id=-5), "negative"),
        (_snapshot(heartbeats=-1), "negative"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_restore_rejects_what_is_not_a_snapshot(snapshot: object, match: str) -> None:
    with pytest.raises(SnapshotError, match=match):
        Session.restore(snapshot)  # type: ignore[arg-type]
    assert issubclass(SnapshotError, TikTokLiveError)


def test_restore_ignores_unknown_keys_and_keeps_the_newest_of_a_long_window() -> None:
    snapshot = _snapshot(seen=[1, 2, 3, 4], dedupe_size=2, future_key={"x": 1})
    restored = Session.restore(snapshot)
    assert restored.snapshot()["seen"] == [3, 4]
    assert [restored.seen(msg_id) for msg_id in (1, 2, 3, 4)] == [False, False, True, True]


def test_a_partly_filled_window_is_restored_whole() -> None:
    """Regression: restore kept only the last ``dedupe_size - len(seen)`` ids of a window more than half full."""
    session = Session(dedupe_size=10)
    _ids(session, *range(1, 8))
    restored = _json_round_trip(session)
    assert restored.snapshot()["seen"] == list(range(1, 8))
    assert _ids(restored, *range(1, 8)) == []


# ── msg_id on every event ───────────────────────────────────────────────────────────────────────────────────────


def test_every_event_carries_its_envelope_msg_id() -> None:
    specs = (comment(), follow(), end(), raw(UNKNOWN_METHOD, b""), raw("WebcastChatMessage", CORRUPT))
    messages, data = _frame_of(*specs)
    events = Session().receive(data).events
    assert [type(event) for event in events] == [
        CommentEvent,
        SocialEvent,
        FollowEvent,
        ControlEvent,
        LiveEndEvent,
        UnknownEvent,
        UnknownEvent,
    ]
    ids = [message.msg_id for message in messages]
    assert [event.msg_id for event in events] == [ids[0], ids[1], ids[1], ids[2], ids[2], ids[3], ids[4]]


def test_json_lines_records_take_msg_id_from_the_envelope() -> None:
    envelope_id, common_id = 7_412_000_000_000_000_001, 7_999_000_000_000_000_009
    chat = webcast_pb2.WebcastChatMessage(content="x", common=webcast_pb2.CommonMessageData(msg_id=common_id))
    messages = [
        Wire("WebcastChatMessage", chat.SerializeToString(), envelope_id),
        Wire(UNKNOWN_METHOD, b"\x08\x01", envelope_id + 1),
        Wire("WebcastChatMessage", CORRUPT, envelope_id + 2),
        wire(follow(), envelope_id + 3),
        Wire("WebcastChatMessage", chat.SerializeToString(), 0),
    ]
    events = Session().receive(msg_frame(messages)).events
    records = [event_to_dict(event, received_at=0) for event in events]
    assert [(record["type"], record["msg_id"]) for record in records] == [
        ("CommentEvent", str(envelope_id)),
        ("UnknownEvent", str(envelope_id + 1)),  # an unknown message can be deduplicated by consumers too
        ("UnknownEvent", str(envelope_id + 2)),
        ("SocialEvent", str(envelope_id + 3)),
        ("FollowEvent", str(envelope_id + 3)),
        ("CommentEvent", str(common_id)),  # no envelope id: the common block's
    ]
    assert all(json.loads(json.dumps(record)) == record for record in records)


# ── fixtures on disk ────────────────────────────────────────────────────────────────────────────────────────────


def test_the_captured_push_frame_through_a_session(fixtures_dir: Path, manifest: dict[str, Any]) -> None:
    """The real push frame: acked with its log_id and internal_ext, every message delivered with its msg_id."""
    (entry,) = [entry for entry in manifest["frames"] if entry["kind"] == "push_frame"]
    expected_frame, result = entry["expected_frame"], entry["expected_fetch_result"]
    session = Session()
    received = session.receive((fixtures_dir / entry["file"]).read_bytes())
    assert received.error is None and received.messages == result["n_messages"]
    assert (received.cursor, received.internal_ext) == (result["cursor"], result["internal_ext"])
    assert received.ack is not None
    ack = ack_of(received.ack)
    assert (ack.payload_type, ack.log_id, ack.payload) == (
        "ack",
        int(expected_frame["log_id"]),
        result["internal_ext"].encode(),
    )
    sources = [event for event in received.events if type(event) not in DERIVED_CLASSES]
    assert [event.msg_id for event in sources] == [int(message["msg_id"]) for message in result["messages"]]
    assert session.receive((fixtures_dir / entry["file"]).read_bytes()).duplicates == result["n_messages"]
