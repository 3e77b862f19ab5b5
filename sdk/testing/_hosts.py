"""Many hosts on one simulated origin: ``Simulator(users=[...])``.

The origin keeps what TikTok shares between hosts: the sign server (its settings, its records, the count of
requests per fixed window), the batched live check and the gift list. Every other request belongs to one host,
found by the path's ``@user``, the ``uniqueId`` query or the room id (query, or video path), and is answered by
that host's own :class:`~tiktok_live.testing.Simulator` (its room id, script, msg ids, tokens and records), so the
handlers are the single-host ones. A request naming no host is answered by the origin, which is nobody's host:
the answers TikTok gives for an unknown user or a stale room id.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Final

from aiohttp import web

if TYPE_CHECKING:
    from tiktok_live.testing._scenario import Scenario
    from tiktok_live.testing._server import Simulator

__all__ = [
    "HOST_HANDLERS",
    "HOST_OPTIONS",
    "LIVES_PER_HOST",
    "MAX_HOSTS",
    "SignWindows",
    "dispatcher",
    "host_for",
    "make_hosts",
    "msg_id_base",
]

HOST_HANDLERS: Final = frozenset(
    {"_handle_page", "_handle_user_room", "_handle_room_info", "_handle_ws", "_handle_video"}
)
"""The request handlers a host answers (the others — sign server, live check, gift list — are the origin's)."""
HOST_OPTIONS: Final = (
    "title",
    "speed",
    "loop",
    "history",
    "viewer_count",
    "like_count",
    "offline",
    "age_restricted",
    "page_layout_changed",
    "gift_list_status",
    "relive_after",
    "max_lives",
    "token_ttl",
    "ping_interval",
    "faults",
    "enter_room_timeout",
    "ack_grace",
    "heartbeat_grace",
    "server_heartbeat_interval",
    "max_records",
    "prerender",
)
"""The options every host of a many-host simulator takes from the constructor's arguments."""
LIVES_PER_HOST: Final = 100
"""LIVEs of one host of a many-host simulator before its msg ids come round again."""
MAX_HOSTS: Final = 20_000
"""Hosts one simulator serves at most (each host's msg ids live in a range of their own)."""
_SINGLE_BASE: Final = 7_400_000_000_000_000_000
_MULTI_BASE: Final = 7_000_000_000_000_000_000
_HOST_SPAN: Final = 10**14


def msg_id_base(seed: int, host_index: int | None) -> int:
    """The first msg id of a host: a single-host simulator's depends on its seed (as it always did); host
    ``host_index`` of a many-host one gets a range of 10^14 ids of its own (:data:`LIVES_PER_HOST` LIVEs of 10^12),
    so no two hosts share an id."""
    if host_index is None:
        return _SINGLE_BASE + (seed % 997) * 10**15
    return _MULTI_BASE + host_index * _HOST_SPAN


def make_hosts(
    origin: Simulator, users: Sequence[str], scenario: str | Scenario | None, factory: Callable[..., Simulator]
) -> dict[str, Simulator]:
    """One host per user, each a :class:`Simulator` served on ``origin``'s port: seed ``origin.seed + i`` (so its
    own room id, tokens and log ids), its own msg id range, the constructor's per-host options, and ``scenario``
    (a built-in name is built for each host's user and seed). ValueError for duplicate or too many users."""
    names = [user.removeprefix("@") for user in users]
    if not names:
        raise ValueError("users must name at least one host")
    if len(names) > MAX_HOSTS:
        raise ValueError(f"a simulator serves at most {MAX_HOSTS} hosts")
    folded = [name.casefold() for name in names]
    if any(not name for name in names) or len(set(folded)) != len(folded):
        raise ValueError("users must be distinct, non-empty @handles")
    hosts: dict[str, Simulator] = {}
    rooms: set[int] = set()
    options = {name: getattr(origin, name) for name in HOST_OPTIONS}
    for index, name in enumerate(names):
        host: Simulator = factory(name, seed=origin.seed + index, host=origin.host, **options)
        while host.room_id in rooms:  # two seeds drew the same room id: draw again
            host.room_id = host._rng.randrange(7_300_000_000_000_000_000, 7_500_000_000_000_000_000)
            host.lives = [host.room_id] if host.lives else []
        rooms.add(host.room_id)
        host._origin = origin
        host._id_base = msg_id_base(host.seed, index)
        host._lives_per_range = LIVES_PER_HOST
        if scenario is not None:
            host.use_scenario(scenario)
        hosts[name] = host
    return hosts


def host_for(origin: Simulator, request: web.Request) -> Simulator | None:
    """The host a request is about: the path's ``@user``, else the ``uniqueId`` query, else the room id (the
    ``room_id`` query, or the video path's ``stream-<room>_<quality>``: the host whose current room it is); None
    when it names none of them."""
    user = request.match_info.get("user") or request.query.get("uniqueId")
    if user is not None:
        return origin._host_named(user)
    video = request.match_info.get("name")
    room = video.removeprefix("stream-").partition("_")[0] if video else request.query.get("room_id", "")
    return origin._host_of_room(int(room)) if room.isdigit() else None


def dispatcher(origin: Simulator) -> Callable[..., Awaitable[web.StreamResponse]]:
    """The middleware that hands a host's requests to that host's own handler (many-host simulators only)."""

    @web.middleware
    async def to_host(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        name = getattr(handler, "__name__", "")
        if origin._hosts_by_name and name in HOST_HANDLERS:
            host = host_for(origin, request)
            if host is not None:
                served: Callable[[web.Request], Awaitable[web.StreamResponse]] = getattr(host, name)
                return await served(request)
        return await handler(request)

    return to_host


class SignWindows:
    """Sign requests counted per whole second of arrival (wall clock), from which any fixed window of whole
    seconds is summed: window ``n`` of ``s`` seconds is ``[n*s, (n+1)*s)`` since the epoch, as sign servers (and
    the fleet's budget) count them."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._seconds: Counter[int] = Counter()

    def count(self) -> None:
        """One request arrived now."""
        self._seconds[int(self._clock())] += 1

    def clear(self) -> None:
        """Forget every count."""
        self._seconds.clear()

    def windows(self, seconds: int = 1) -> dict[int, int]:
        """Requests per window of ``seconds``: ``{window start in epoch seconds: count}``, for windows with any."""
        if seconds < 1:
            raise ValueError("a sign window is a whole number of seconds, at least 1")
        totals: Counter[int] = Counter()
        for second, count in self._seconds.items():
            totals[second - second % seconds] += count
        return dict(sorted(totals.items()))
