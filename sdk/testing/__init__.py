"""A local TikTok LIVE simulator, for testing clients without TikTok, the sign server or the network.

One :class:`Simulator` serves one host's live page, the webcast APIs, the sign server and the push WebSocket on
``http://127.0.0.1:<port>``, plays a scripted, seeded show over the socket, and records every breach of the
client's duties (enter-room, acks, heartbeats) in ``violations``::

    async with Simulator() as sim:
        sim.script(comment("alice", "hi"), *gift_streak("bob", repeats=3), end())
        client = sim.client()
        await client.connect()
        assert not sim.violations

Builders (:func:`comment`, :func:`gift`, :func:`gift_streak`, :func:`like`, :func:`join`, :func:`follow`,
:func:`share`, :func:`room_user_seq`, :func:`battle`, :func:`goal_update`, :func:`poll`, :func:`pause`,
:func:`unpause`, :func:`end`, :func:`raw`, …) return :class:`MessageSpec` s; :func:`frame` groups several into
one push frame. :class:`Faults` injects server misbehaviour. Command line: ``python -m tiktok_live.testing``.
pytest: the ``tiktok_live_simulator`` fixture (module ``tiktok_live.testing.pytest_plugin``; docs/testing.md).

The names load on first use (the simulator pulls in aiohttp and the schema), so that the pytest plugin, which
every pytest run of a project with tiktok-live installed loads, costs nothing until a test uses the fixture.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tiktok_live._lazy import lazy_attributes

if TYPE_CHECKING:
    from tiktok_live.testing._connection import GARBAGE_FRAME, UNKNOWN_METHOD, Faults
    from tiktok_live.testing._messages import (
        DEFAULT_VIEWER,
        MessageSpec,
        UserLike,
        battle,
        comment,
        end,
        follow,
        gift,
        gift_streak,
        goal_update,
        join,
        like,
        make_user,
        pause,
        poll,
        raw,
        room_user_seq,
        share,
        suspend,
        unpause,
    )
    from tiktok_live.testing._scenario import (
        FIXTURES_ENV,
        SCENARIOS,
        Scenario,
        ScenarioError,
        ScenarioFactory,
        Step,
        default_scenario,
        fixtures_scenario,
        frame,
        load_scenario,
        recording_scenario,
    )
    from tiktok_live.testing._server import GIFT_CATALOGUE, WS_PATH, HandshakeRejection, SignRequest, Simulator
    from tiktok_live.testing._video import VideoFeed

_MODULES: dict[str, tuple[str, ...]] = {
    "tiktok_live.testing._connection": ("GARBAGE_FRAME", "UNKNOWN_METHOD", "Faults"),
    "tiktok_live.testing._messages": (
        "DEFAULT_VIEWER", "MessageSpec", "UserLike", "battle", "comment", "end", "follow", "gift", "gift_streak",
        "goal_update", "join", "like", "make_user", "pause", "poll", "raw", "room_user_seq", "share", "suspend",
        "unpause",
    ),
    "tiktok_live.testing._scenario": (
        "FIXTURES_ENV", "SCENARIOS", "Scenario", "ScenarioError", "ScenarioFactory", "Step", "default_scenario",
        "fixtures_scenario", "frame", "load_scenario", "recording_scenario",
    ),
    "tiktok_live.testing._server": ("GIFT_CATALOGUE", "WS_PATH", "HandshakeRejection", "SignRequest", "Simulator"),
    "tiktok_live.testing._video": ("VideoFeed",),
}  # fmt: skip
_LAZY: dict[str, str] = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "DEFAULT_VIEWER",
    "FIXTURES_ENV",
    "GARBAGE_FRAME",
    "GIFT_CATALOGUE",
    "SCENARIOS",
    "UNKNOWN_METHOD",
    "WS_PATH",
    "Faults",
    "HandshakeRejection",
    "MessageSpec",
    "Scenario",
    "ScenarioError",
    "ScenarioFactory",
    "SignRequest",
    "Simulator",
    "Step",
    "UserLike",
    "VideoFeed",
    "battle",
    "comment",
    "default_scenario",
    "end",
    "fixtures_scenario",
    "follow",
    "frame",
    "gift",
    "gift_streak",
    "goal_update",
    "join",
    "like",
    "load_scenario",
    "make_user",
    "pause",
    "poll",
    "raw",
    "recording_scenario",
    "room_user_seq",
    "share",
    "suspend",
    "unpause",
]


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
