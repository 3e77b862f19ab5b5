"""The bench corpus: a seeded, realistic stream of push frames from a busy room, written once and reused.

Messages are built with the generated ``webcast_pb2`` classes through ``tiktok_live.testing``'s builders (users
with two-CDN avatars, a gifter-level badge, sometimes moderator and subscriber badges: ~1 KB a message). The mix
(by message) is set by :data:`MIX`; gifts come as streaks (1-10 repeats, then the end message) interleaved with
everything else, plus expensive one-off gifts. A tail of rarer types (battles, goals, polls, ranks, envelopes,
emotes, subscriptions, ...) is filled generically from the schema, and 0.2 % of messages carry a method no event
class knows (``UnknownEvent``). Messages are grouped 1-10 per fetch result (mean ~4), each gzipped in a ``msg``
push frame with TikTok's headers, as the simulator sends them.

Files: ``bench/.corpus/corpus-v1-s<seed>-n<messages>.frames`` (see ``bench._frames``) and ``.json`` (the mix).
"""

from __future__ import annotations

import json
import random
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from bench._frames import read_frames, write_frames
from tiktok_live._generated.pb import transport_pb2
from tiktok_live._generated.pb import webcast_pb2 as pb
from tiktok_live.testing import (
    MessageSpec,
    battle,
    comment,
    follow,
    gift,
    goal_update,
    join,
    like,
    make_user,
    pause,
    poll,
    raw,
    room_user_seq,
    share,
    unpause,
)

__all__ = ["CORPUS_DIR", "MIX", "Corpus", "ensure_corpus", "format_mix"]

CORPUS_DIR: Final = Path(__file__).resolve().parent / ".corpus"
VERSION: Final = "v1"
SEED: Final = 20_260_606
MESSAGES: Final = 20_000
ROOM_ID: Final = 7_412_345_678_901_234_567
UNKNOWN_METHOD: Final = "WebcastBenchFutureFeatureMessage"

MIX: Final[dict[str, float]] = {
    "comment": 0.30,
    "like": 0.17,
    "join": 0.14,
    "gift": 0.16,
    "social": 0.05,
    "room_user_seq": 0.04,
    "rank": 0.03,
    "tail": 0.11,
}
"""Share of messages per category (sums to 1)."""

_TAIL: Final = (
    "WebcastLinkMicBattle",
    "WebcastLinkMicArmies",
    "WebcastGoalUpdateMessage",
    "WebcastPollMessage",
    "WebcastControlMessage",
    "WebcastEmoteChatMessage",
    "WebcastEnvelopeMessage",
    "WebcastBarrageMessage",
    "WebcastSubNotifyMessage",
    "WebcastQuestionNewMessage",
    "WebcastInRoomBannerMessage",
    "WebcastRoomMessage",
    "WebcastImDeleteMessage",
    "WebcastCaptionMessage",
    "WebcastGiftBroadcastMessage",
    "WebcastRoomPinMessage",
    "WebcastLinkMicMethod",
    "WebcastSystemMessage",
    "WebcastToastMessage",
    "WebcastUnauthorizedMemberMessage",
    UNKNOWN_METHOD,
)
_TAIL_WEIGHTS: Final = (8, 10, 8, 5, 2, 10, 4, 6, 4, 4, 6, 6, 5, 6, 3, 3, 4, 2, 2, 3, 1)
_RANKS: Final = ("WebcastRankUpdateMessage", "WebcastRankTextMessage", "WebcastHourlyRankRewardMessage")
_WORDS: Final = (
    "hi hello love this song lol omg wow nice stream W lets go from Brazil Manila Texas Paris what is the "
    "name of this game can you say hi to me please 😂 ❤️ 🔥 🙏 first time here gg so good again more"
).split()
_GIFTS: Final = ((5655, "Rose", 1), (5269, "TikTok", 1), (5487, "Finger Heart", 5), (6064, "GG", 1))
_BIG_GIFTS: Final = ((6369, "Lion", 29_999), (5879, "Doughnut", 30), (7934, "Heart Me", 1), (6267, "Corgi", 299))
_STREAK_LENGTHS: Final = (1, 1, 2, 2, 3, 3, 4, 5, 6, 8, 10, 15)
_FRAME_SIZES: Final = (1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 7, 8, 10)


@dataclass(frozen=True, slots=True)
class Corpus:
    """A corpus on disk: its frames file and the mix it holds."""

    path: Path
    meta: dict[str, Any]

    def frames(self) -> list[bytes]:
        """The push frames (serialized, gzip payloads), in order."""
        return read_frames(self.path)

    @property
    def messages(self) -> int:
        return int(self.meta["messages"])  # written by generate()


def ensure_corpus(messages: int = MESSAGES, seed: int = SEED, directory: Path = CORPUS_DIR) -> tuple[Corpus, bool]:
    """The corpus for ``(messages, seed)``, generated into ``directory`` on first use; ``(corpus, generated)``."""
    stem = f"corpus-{VERSION}-s{seed}-n{messages}"
    path = directory / f"{stem}.frames"
    meta_path = directory / f"{stem}.json"
    if path.is_file() and meta_path.is_file():
        return Corpus(path, json.loads(meta_path.read_text())), False
    directory.mkdir(parents=True, exist_ok=True)
    frames, meta = generate(messages, seed)
    write_frames(path, frames)
    meta_path.write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    return Corpus(path, meta), True


class _Room:
    """The generator's state: viewers (Zipf-like activity), running counters and open gift streaks."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        syllables = ("ka", "mi", "ro", "sa", "lu", "na", "to", "ri", "ze", "jo", "ba", "el", "ly", "an", "yu", "ko")
        names: list[str] = []
        while len(names) < 3000:
            stem = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
            sep = rng.choice(("", ".", "_", ""))
            names.append(f"{stem}{sep}{rng.randint(0, 9999) if rng.random() < 0.6 else ''}")
        self.names = names
        self.weights = [1.0 / (rank + 1) ** 0.8 for rank in range(len(names))]
        self.users: dict[str, pb.User] = {}
        self.likes = rng.randint(10_000, 200_000)
        self.viewers = rng.randint(3_000, 12_000)
        self.total_viewers = self.viewers * 4
        self.streaks: list[list[MessageSpec]] = []

    def user(self) -> pb.User:
        name = self.rng.choices(self.names, self.weights)[0]
        user = self.users.get(name)
        if user is None:
            roll = self.rng.random()
            user = make_user(name, moderator=roll < 0.02, subscriber=0.02 <= roll < 0.10)
            self.users[name] = user
        return user

    def text(self, low: int = 1, high: int = 12) -> str:
        return " ".join(self.rng.choice(_WORDS) for _ in range(self.rng.randint(low, high)))


def generate(messages: int, seed: int) -> tuple[list[bytes], dict[str, Any]]:
    """Build the corpus: ``(frames, meta)``; pure function of its arguments (timestamps are derived too)."""
    rng = random.Random(seed)
    room = _Room(rng)
    makers = _makers(room)
    categories = list(MIX)
    weights = list(MIX.values())
    specs: list[tuple[str, MessageSpec]] = []  # (category, MessageSpec)
    while len(specs) < messages:
        category = rng.choices(categories, weights)[0]
        if category == "gift":
            specs.append((category, _next_gift(room)))
        else:
            specs.append((category, makers[category]()))
    specs = specs[:messages]

    frames: list[bytes] = []
    by_category: Counter[str] = Counter()
    by_method: Counter[str] = Counter()
    payload_bytes: Counter[str] = Counter()
    now = 1_780_000_000_000
    position = 0
    msg_id = 7_413_000_000_000_000_000
    log_id = rng.getrandbits(62)
    total_payload = 0
    total_fetch = 0
    while position < len(specs):
        size = rng.choice(_FRAME_SIZES)
        chunk = specs[position : position + size]
        result = pb.ProtoMessageFetchResult(
            cursor=f"{now}_{msg_id}_1_1_0_0",
            internal_ext=f"internal_src:dim|wss_push_room_id:{ROOM_ID}|wss_push_did:0|first_req_ms:{now}|"
            f"fetch_time:{now}|seq:{len(frames) + 1}|wss_info:0-{now}-0-0",
            now=now,
            need_ack=True,
            heartbeat_duration=10_000,
            fetch_interval=0,
        )
        for offset, (category, spec) in enumerate(chunk):
            msg_id += rng.randint(1, 4096)
            payload = spec.render(msg_id=msg_id, room_id=ROOM_ID, create_time=now - rng.randint(0, 900))
            method = spec.method
            result.messages.add(method=method, payload=payload, msg_id=msg_id, msg_type=0, offset=offset)
            by_category[category] += 1
            by_method[method] += 1
            payload_bytes[method] += len(payload)
            total_payload += len(payload)
        body = result.SerializeToString()
        total_fetch += len(body)
        compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip, level 6
        gz = compressor.compress(body) + compressor.flush()
        log_id += rng.randint(1, 1 << 20)
        frame = transport_pb2.PushFrame(
            seq_id=len(frames) + 1,
            log_id=log_id,
            service=1,
            method=1,
            payload_encoding="pb",
            payload_type="msg",
            payload=gz,
        )
        for key, value in (
            ("compress_type", "gzip"),
            ("im-cursor", result.cursor),
            ("im-internal_ext", result.internal_ext),
            ("im-now", str(now)),
        ):
            frame.headers.add(key=key, value=value)
        frames.append(frame.SerializeToString())
        now += rng.randint(20, 400)
        position += size
    meta: dict[str, Any] = {
        "version": VERSION,
        "seed": seed,
        "messages": len(specs),
        "frames": len(frames),
        "payload_bytes": total_payload,
        "fetch_result_bytes": total_fetch,
        "frame_bytes": sum(len(frame) for frame in frames),
        "users": len(room.users),
        "by_category": dict(sorted(by_category.items(), key=lambda item: -item[1])),
        "by_method": {
            method: {"count": count, "avg_bytes": round(payload_bytes[method] / count)}
            for method, count in sorted(by_method.items(), key=lambda item: -item[1])
        },
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return frames, meta


def _next_gift(room: _Room) -> MessageSpec:
    """The next gift message: an open streak's next step (60 %), a new streak, or an expensive one-off gift."""
    rng = room.rng
    if room.streaks and rng.random() < 0.6:
        streak = rng.choice(room.streaks)
        spec = streak.pop(0)
        if not streak:
            room.streaks.remove(streak)
        return spec
    if rng.random() < 0.12:
        gift_id, name, diamonds = rng.choice(_BIG_GIFTS)
        return gift(room.user(), gift_id, name, diamonds, 1, False, 2)
    gift_id, name, diamonds = rng.choice(_GIFTS)
    user = room.user()
    repeats = rng.choice(_STREAK_LENGTHS)
    group = rng.randrange(1, 2**53)
    steps: list[MessageSpec] = [
        gift(user, gift_id, name, diamonds, count, False, 1, group_id=group, first=count == 1)
        for count in range(1, repeats + 1)
    ]
    steps.append(gift(user, gift_id, name, diamonds, repeats, True, 1, group_id=group, first=False))
    first = steps.pop(0)
    room.streaks.append(steps)
    return first


def _makers(room: _Room) -> dict[str, Callable[[], MessageSpec]]:
    rng = room.rng

    def make_comment() -> MessageSpec:
        return comment(room.user(), room.text(), language=rng.choice(("en", "en", "es", "pt", "id", "tl")))

    def make_like() -> MessageSpec:
        count = rng.choice((1, 1, 2, 3, 5, 8, 15))
        room.likes += count
        return like(room.user(), count, room.likes)

    def make_join() -> MessageSpec:
        room.viewers += rng.randint(-3, 5)
        return join(room.user(), room.viewers)

    def make_social() -> MessageSpec:
        if rng.random() < 0.6:
            return follow(room.user())
        return share(room.user(), viewers=rng.choice((None, None, 1, 2, 5)))

    def make_seq() -> MessageSpec:
        room.total_viewers += rng.randint(0, 40)
        top = sorted(((room.user(), rng.randint(1, 20_000)) for _ in range(3)), key=lambda pair: -pair[1])
        return room_user_seq(room.viewers, room.total_viewers, top)

    return {
        "comment": make_comment,
        "like": make_like,
        "join": make_join,
        "social": make_social,
        "room_user_seq": make_seq,
        "rank": lambda: _generic(room, rng.choice(_RANKS)),
        "tail": lambda: _tail(room),
    }


def _tail(room: _Room) -> MessageSpec:
    rng = room.rng
    method = rng.choices(_TAIL, _TAIL_WEIGHTS)[0]
    if method == "WebcastLinkMicBattle":
        action = rng.choice(("open", "open", "finish"))
        return battle("rival.host", host="bench.host", action=action, host_score=rng.randint(0, 9000))
    if method == "WebcastGoalUpdateMessage":
        return goal_update("Goal: 100 Roses", rng.randint(0, 99), 100, contributor=room.user())
    if method == "WebcastPollMessage":
        votes = [rng.randint(0, 300) for _ in range(3)]
        return poll("Which song next?", ("Song A", "Song B", "Song C"), votes, phase="update")
    if method == "WebcastControlMessage":
        return rng.choice((pause, unpause))()  # never end(): the stream must go on
    if method == UNKNOWN_METHOD:
        return raw(
            UNKNOWN_METHOD, _generic(room, "WebcastChatMessage").render(msg_id=1, room_id=ROOM_ID, create_time=0)
        )
    return _generic(room, method)


def _generic(room: _Room, method: str) -> MessageSpec:
    """A message of class ``method`` filled from its schema: users, images, texts, strings and numbers, one level
    deep plus one element of repeated message fields (so sizes look like real ones)."""
    rng = room.rng

    def fill(message: Message, depth: int) -> None:
        for field in message.DESCRIPTOR.fields:
            if field.name == "common" or rng.random() < 0.25:
                continue
            kind = field.message_type.name if field.message_type is not None else None
            if kind == "User":
                target = getattr(message, field.name)
                user = room.user()
                if field.is_repeated:
                    target.add().CopyFrom(user)
                else:
                    target.CopyFrom(user)
            elif kind == "ImageModel":
                image = pb.ImageModel(
                    m_urls=[
                        f"https://p16-webcast.tiktokcdn.com/img/maliva/webcast-va/{rng.getrandbits(48):x}~tplv.png"
                    ],
                    m_uri=f"webcast-va/{rng.getrandbits(48):x}",
                    width=rng.choice((32, 64, 100)),
                    height=rng.choice((32, 64, 100)),
                )
                target = getattr(message, field.name)
                (target.add() if field.is_repeated else target).CopyFrom(image)
            elif kind == "Text":
                text = pb.Text(key=f"pm_mt_{method[7:].lower()}_{rng.randint(1, 9)}", default_pattern=room.text(3, 8))
                target = getattr(message, field.name)
                (target.add() if field.is_repeated else target).CopyFrom(text)
            elif field.message_type is not None:
                if depth >= 2 or field.message_type.GetOptions().map_entry:
                    continue
                target = getattr(message, field.name)
                fill(target.add() if field.is_repeated else target, depth + 1)
            elif field.type == FieldDescriptor.TYPE_STRING:
                value = room.text(1, 4)
                if field.is_repeated:
                    getattr(message, field.name).append(value)
                else:
                    setattr(message, field.name, value)
            elif field.type in (FieldDescriptor.TYPE_BOOL,):
                if not field.is_repeated:
                    setattr(message, field.name, True)
            elif field.type in (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_INT32):
                value = rng.randint(1, 2**31 - 1)
                if field.is_repeated:
                    getattr(message, field.name).append(value)
                else:
                    setattr(message, field.name, value)

    message = getattr(pb, method)()
    message.common.display_text.key = f"pm_mt_{method[7:].lower()}"
    message.common.is_show_msg = True
    fill(message, 0)
    return MessageSpec(message.DESCRIPTOR.name, message.SerializeToString(), type(message))


def format_mix(meta: dict[str, Any]) -> str:
    """The corpus mix in words, for the output."""
    messages = int(meta["messages"])
    categories = meta["by_category"]
    assert isinstance(categories, dict)
    parts = ", ".join(f"{name} {100 * count / messages:.0f} %" for name, count in categories.items())
    by_method = meta["by_method"]
    assert isinstance(by_method, dict)
    avg = int(meta["payload_bytes"]) / messages
    frames = int(meta["frames"])
    return (
        f"{messages:,} messages in {frames:,} push frames ({messages / frames:.1f} per frame), seed {meta['seed']}, "
        f"{meta['users']:,} distinct users, {len(by_method)} methods; payload {avg:,.0f} B/message on average; "
        f"gzip frames {int(meta['frame_bytes']) / 1e6:.1f} MB, "
        f"fetch results {int(meta['fetch_result_bytes']) / 1e6:.1f} MB. "
        f"Mix: {parts}."
    )
