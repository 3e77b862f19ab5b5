"""Scenarios: deterministic scripts of frames the simulator plays to every connection.

A :class:`Scenario` is a tuple of :class:`Step` s; each step is one push frame holding one or more messages, sent
``delay`` seconds after the previous one (divided by the simulator's ``speed``). Built-in scenarios:

- ``"default"``: a realistic ~20-second show, seeded: joins, comments, likes, gift streaks and an expensive gift,
  follows, shares, rising viewer counts, a battle, a goal, a poll, pause/unpause, then the end of the LIVE;
- ``"fixtures"``: every captured payload of a fixtures folder (:func:`fixtures_scenario`; method from its manifest);
- ``"empty"``: no steps (the socket closes with 1000 right after the enter-room reply).
"""

from __future__ import annotations

import difflib
import json
import os
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Final, TypeAlias

from tiktok_live._base import BaseEvent, ProtoEvent, UnknownEvent
from tiktok_live.errors import ScenarioError
from tiktok_live.testing._messages import (
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
    unpause,
)

__all__ = [
    "FIXTURES_ENV",
    "SCENARIOS",
    "Scenario",
    "ScenarioError",
    "ScenarioFactory",
    "Step",
    "default_scenario",
    "fixtures_scenario",
    "frame",
    "load_scenario",
    "recording_scenario",
]

FIXTURES_ENV: Final = "TIKTOK_LIVE_FIXTURES"
"""Environment variable naming the captured-fixtures folder (the one holding ``manifest.json``)."""


@dataclass(frozen=True, slots=True)
class Step:
    """One push frame: ``messages`` sent together, ``delay`` seconds (before ``speed``) after the previous frame."""

    messages: tuple[MessageSpec, ...]
    delay: float = 0.0

    def __post_init__(self) -> None:
        if self.delay < 0:
            raise ValueError("a step's delay cannot be negative")


def frame(*messages: MessageSpec, delay: float = 0.0) -> Step:
    """A step sending ``messages`` in one frame, ``delay`` seconds after the previous frame."""
    return Step(tuple(messages), delay)


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named, immutable script: the steps in order. ``duration`` is the sum of the delays at speed 1."""

    name: str
    steps: tuple[Step, ...]

    @property
    def duration(self) -> float:
        """Seconds from the first to the last frame at speed 1 (the sum of the step delays)."""
        return sum(step.delay for step in self.steps)

    @property
    def message_count(self) -> int:
        """How many messages the scenario sends (all steps)."""
        return sum(len(step.messages) for step in self.steps)


ScenarioFactory: TypeAlias = Callable[[int, str], Scenario]
"""Builds a scenario from a seed and the host's unique id."""

_VIEWERS: Final = (
    "mia.rose",
    "jaykay_22",
    "lunafox",
    "the_real_dan",
    "sofi.beats",
    "kenji.plays",
    "amara_x",
    "noah.wav",
    "priya_draws",
    "leo.mp4",
    "zoe_in_space",
    "max.power",
)
_COMMENTS: Final = (
    "hiii from Brazil 🇧🇷",
    "first time catching you live!",
    "what song is this?",
    "love the setup",
    "😂😂😂",
    "can you say hi to my sister?",
    "how long have you been streaming?",
    "the lighting looks amazing today",
    "W stream",
    "lets gooo",
    "where did you get that hoodie",
    "❤️❤️❤️",
    "greetings from Manila",
    "play the one from yesterday pls",
)


def default_scenario(seed: int = 0, host: str = "simulator") -> Scenario:
    """The built-in ~20-second show for ``host`` (same ``seed``, same show)."""
    rng = random.Random(seed)
    viewers = list(_VIEWERS)
    rng.shuffle(viewers)
    comments = list(_COMMENTS)
    rng.shuffle(comments)
    texts = iter(comments * 2)
    likes = 0
    viewers_now = rng.randint(80, 140)
    viewers_total = viewers_now + rng.randint(100, 300)
    steps: list[Step] = []

    def add(*messages: MessageSpec, delay: float) -> None:
        steps.append(Step(tuple(messages), round(delay, 3)))

    def talk() -> MessageSpec:
        return comment(rng.choice(viewers), next(texts))

    def tap() -> MessageSpec:
        nonlocal likes
        count = rng.randint(1, 15)
        likes += count
        return like(rng.choice(viewers), count, likes)

    def crowd(growth: int) -> MessageSpec:
        nonlocal viewers_now, viewers_total
        viewers_now += growth
        viewers_total += max(growth, 0) + rng.randint(0, 20)
        top = [(name, rng.randint(1, 500)) for name in viewers[:3]]
        return room_user_seq(viewers_now, viewers_total, sorted(top, key=lambda pair: -pair[1]))

    # The room fills up.
    add(crowd(0), delay=0.2)
    add(join(viewers[0], viewers_now), join(viewers[1], viewers_now + 1), delay=0.4)
    add(talk(), delay=0.6)
    add(join(viewers[2], viewers_now + 2), talk(), delay=0.5)
    add(tap(), delay=0.4)
    add(talk(), tap(), delay=0.7)
    # A Rose streak, a follow and a share.
    streak = gift_streak(viewers[3], 5655, "Rose", 1, repeats=rng.randint(3, 6))
    for index, message in enumerate(streak):
        add(message, delay=0.3 if index else 0.6)
    add(follow(viewers[4]), delay=0.5)
    add(talk(), delay=0.6)
    add(share(viewers[5], viewers=rng.randint(2, 9)), delay=0.5)
    add(crowd(rng.randint(10, 40)), tap(), delay=0.6)
    # An expensive, non-streakable gift arrives once (repeat_end stays 0).
    add(gift(viewers[6], 6369, "Lion", 29999, 1, False, 2), delay=0.8)
    add(talk(), talk(), delay=0.5)
    # A battle against another host.
    add(battle("rival.host", host=host, action="open"), delay=0.8)
    single = gift_streak(viewers[7], 5269, "TikTok", 1, repeats=1)  # sent once: still a start and an end
    add(single[0], delay=0.5)
    add(single[1], delay=0.3)
    add(goal_update("Goal: 100 Roses", rng.randint(20, 60), 100, contributor=viewers[3]), delay=0.5)
    add(tap(), talk(), delay=0.6)
    host_score, rival_score = rng.randint(100, 900), rng.randint(100, 900)
    add(battle("rival.host", host=host, action="finish", host_score=host_score, opponent_score=rival_score), delay=1.0)
    # A poll.
    add(poll("Which song next?", ("Song A", "Song B", "Song C"), phase="start"), delay=0.6)
    votes = [rng.randint(0, 20) for _ in range(3)]
    add(poll("Which song next?", ("Song A", "Song B", "Song C"), votes, phase="update"), talk(), delay=1.0)
    votes = [count + rng.randint(0, 20) for count in votes]
    add(poll("Which song next?", ("Song A", "Song B", "Song C"), votes, phase="end"), delay=1.0)
    add(crowd(rng.randint(5, 25)), follow(viewers[8]), delay=0.5)
    # A short break.
    add(pause(), delay=0.8)
    add(unpause(), delay=1.5)
    add(join(viewers[9], viewers_now), talk(), delay=0.5)
    roses = gift_streak(viewers[10], 5655, "Rose", 1, repeats=2)
    add(*roses[:2], delay=0.6)  # two messages of one streak in one frame, the end in the next
    add(roses[2], tap(), delay=0.4)
    add(talk(), delay=0.5)
    add(share(viewers[11]), crowd(-rng.randint(5, 15)), delay=0.7)
    add(talk(), tap(), delay=0.6)
    add(end(), delay=1.0)
    return Scenario("default", tuple(steps))


def _fixture_roots(explicit: Path | None) -> Iterable[Path]:
    if explicit is not None:
        yield explicit
        return
    env = os.environ.get(FIXTURES_ENV)
    if env:
        yield Path(env)
    yield Path.cwd().parent / "shared" / "fixtures"
    yield Path.cwd() / "shared" / "fixtures"
    # A source checkout: shared/fixtures beside the project's root folder (sdk/testing/ is two levels down).
    yield Path(__file__).resolve().parents[3] / "shared" / "fixtures"


def fixtures_scenario(seed: int = 0, host: str = "simulator", *, fixtures_dir: Path | None = None) -> Scenario:
    """Every captured payload of the fixtures folder, one per frame, 0.1 s apart, in manifest order.

    The folder holds ``manifest.json`` and ``payloads/``; it is ``fixtures_dir`` or ``$TIKTOK_LIVE_FIXTURES``, else
    a ``shared/fixtures`` folder beside the working directory or the source checkout. Raises :class:`ScenarioError` when
    none exists. ``seed`` and ``host`` are unused: the payloads are sent exactly as captured.
    """
    del seed, host
    tried = list(_fixture_roots(fixtures_dir))
    root = next((path for path in tried if (path / "manifest.json").is_file()), None)
    if root is None:
        places = ", ".join(str(path) for path in tried)
        raise ScenarioError(
            f"the 'fixtures' scenario needs the captured fixtures (manifest.json); none found in: {places}. "
            f"Set {FIXTURES_ENV} to the folder holding manifest.json."
        )
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    steps: list[Step] = []
    for item in manifest.get("items", []):
        path = root / str(item["file"])
        if not path.is_file():
            raise ScenarioError(f"fixture payload {path} (listed in {root / 'manifest.json'}) is missing")
        steps.append(Step((raw(str(item["method"]), path.read_bytes()),), 0.1))
    return Scenario("fixtures", tuple(steps))


def recording_scenario(path: str | Path) -> Scenario:
    """The messages of a recording (``tiktok-live record``), frame by frame with their recorded timing.

    The recording is read as the recorded client read it, through a protocol session: every received ``msg``
    frame becomes one step holding its messages (each payload exactly as recorded, under its event class's wire
    method; the envelope gets the simulator's ids), minus the messages that client dropped as duplicates (TikTok
    resends recent messages after a reconnect, and the simulator's fresh ids would make them new). Sign bundles
    only fill the duplicate window, as they did for the client. Raises ``RecordingError`` for a bad file.
    """
    from tiktok_live._generated.registry import REGISTRY
    from tiktok_live.protocol import Session
    from tiktok_live.recording import SignRecord, read_recording

    recording = read_recording(path)
    session = Session(wanted={*REGISTRY.values(), UnknownEvent})  # the messages themselves, no derived events
    steps: list[Step] = []
    previous = 0
    for record in recording.records:
        if isinstance(record, SignRecord):
            session.receive_fetch_result(record.body)
            continue
        if record.direction != "in":
            continue
        specs = tuple(
            raw(_wire_method(event), event.bytes)
            for event in session.receive(record.data).events  # unreadable and non-msg frames carry none
        )
        if specs:
            steps.append(Step(specs, max(0, record.t - previous) / 1000))
            previous = record.t
    return Scenario(f"recording:{Path(path).name}", tuple(steps))


def _wire_method(event: BaseEvent) -> str:
    """The method a message of ``event`` is sent under: an unknown message's own, else its class's first."""
    if isinstance(event, UnknownEvent):
        return event.method
    methods = type(event).METHODS if isinstance(event, ProtoEvent) else ()
    return methods[0] if methods else type(event).__name__


def _empty_scenario(seed: int = 0, host: str = "simulator") -> Scenario:
    del seed, host
    return Scenario("empty", ())


SCENARIOS: Final[Mapping[str, ScenarioFactory]] = MappingProxyType(
    {"default": default_scenario, "empty": _empty_scenario, "fixtures": fixtures_scenario}
)
"""The built-in scenarios by name: each builds a :class:`Scenario` from ``(seed, host)``."""


def load_scenario(name: str, seed: int = 0, host: str = "simulator") -> Scenario:
    """The built-in scenario ``name`` for ``host``; raises :class:`ScenarioError` if unknown or unavailable."""
    factory = SCENARIOS.get(name)
    if factory is None:
        close = difflib.get_close_matches(name, list(SCENARIOS), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ScenarioError(f"unknown scenario {name!r}; {hint}choose one of: {', '.join(sorted(SCENARIOS))}")
    return factory(seed, host)
