"""The simulator: TikTok's web pages, webcast API, sign server and push WebSocket on one local origin.

Routes (all on ``Simulator.url``, at TikTok's paths):

- ``GET /@{user}/live``: the live page with its ``SIGI_STATE`` JSON;
- ``GET /api-live/user/room/``: the user/room API;
- ``GET /webcast/room/check_alive/`` and ``GET /webcast/room/info/`` (with stream URLs in both of TikTok's forms);
- ``GET /webcast/gift/list/``: the gift catalogue (:data:`GIFT_CATALOGUE`);
- ``GET /webcast/fetch``: the sign server's connection bundle (protobuf ``ProtoMessageFetchResult``);
- ``GET /webcast/im/ws_proxy/ws_reuse_supplement/``: the push WebSocket (see ``_connection``);
- ``GET /stream/stream-<room>_<quality>.flv``: the LIVE's video, an FLV stream (see ``_video``), at the pull URLs
  the room info names.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import re
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Final, Self, TypeVar, Unpack

from aiohttp import web

from tiktok_live._generated.pb import transport_pb2
from tiktok_live.testing import _routes as routes
from tiktok_live.testing._connection import Faults, SimulatedConnection
from tiktok_live.testing._hosts import SignWindows, dispatcher, make_hosts, msg_id_base
from tiktok_live.testing._messages import MessageSpec, make_user
from tiktok_live.testing._render import FrameCache, RenderedFrame
from tiktok_live.testing._routes import (
    CLOSE_TIMEOUT,
    GIFT_CATALOGUE,
    LIVE,
    OFFLINE,
    HandshakeRejection,
    SignRequest,
    Token,
)
from tiktok_live.testing._scenario import Scenario, Step, load_scenario
from tiktok_live.testing._video import VIDEO_PATH, VideoFeed

if TYPE_CHECKING:
    import aiohttp

    from tiktok_live._config import ClientConfig, ClientOptions
    from tiktok_live._sign import SignGate
    from tiktok_live.client import TikTokLiveClient
    from tiktok_live.recording import Recorder

__all__ = ["GIFT_CATALOGUE", "HandshakeRejection", "SignRequest", "Simulator"]

logger = logging.getLogger("tiktok_live.testing")

WS_PATH: Final = "/webcast/im/ws_proxy/ws_reuse_supplement/"
"""The push WebSocket's path; ``push_server`` in the sign bundle points here."""
_CURSOR = re.compile(r"^sim-(\d+)-(\d+)-(\d+)$")
_T = TypeVar("_T")


class Simulator:
    """A local TikTok LIVE for one host ``user``: pages, APIs, sign server and push WebSocket on one origin.

    >>> async with Simulator(scenario="default", speed=20) as sim:
    ...     client = sim.client()          # a TikTokLiveClient aimed at sim.url
    ...     await client.connect()         # returns when the simulated LIVE ends
    ...     assert not sim.violations      # the client did its duties (enter-room, acks, heartbeats)

    Every option is also a public attribute that tests may change between requests (``sim.sign_status = 429``).

    Room and host: ``user`` (the @unique id it serves), ``room_id`` (default: derived from ``seed``),
    ``nickname``, ``title``, ``viewer_count``, ``like_count``, ``offline`` (status 4 everywhere; the socket still
    works), ``age_restricted`` (room info answers 10011), ``page_layout_changed`` (no SIGI_STATE on the page),
    ``gift_list_status`` (answer ``/webcast/gift/list/`` with this HTTP status; 200: the catalogue). The room
    info's stream URLs are :attr:`video`'s (the qualities offered and the forms that name them are its options).

    LIVEs one after another (follow mode): :meth:`start_live` begins a new LIVE (a new room id, fresh msg ids) and
    :meth:`end_live` ends it (status 4). With ``relive_after`` set, a message that ends the stream (``end()``)
    also ends the LIVE, and once the host has been reported offline ``relive_after`` times (live page and room API
    answers) the next LIVE starts by itself, up to ``max_lives`` LIVEs in all; a simulator built ``offline``
    starts its first LIVE that way too. ``lives`` lists the room id of every LIVE so far.

    Script: ``scenario`` (a name from :data:`~tiktok_live.testing.SCENARIOS`, a :class:`Scenario`, or None for an
    empty script to fill with :meth:`script`), ``speed`` (delays are divided by it), ``seed`` (ids, tokens, log ids
    and the default scenario), ``loop`` (replay the script forever on each connection, leaving out messages that
    end the LIVE), ``history`` (messages the sign bundle always carries as recent history). One simulator can
    play several LIVEs in turn: :meth:`use_scenario`, :meth:`clear_script`, and :meth:`script` once a connection
    has played the current LIVE's end, start the next one, with fresh msg ids and cursors (:attr:`live_number`).

    Strict clients: a client from :meth:`client` keeps the first exception its handlers raise (``strict=True``, the
    default); leaving ``async with Simulator()`` raises it (:meth:`raise_handler_errors`), so an ``assert`` in a
    handler fails the test.

    Sign server: ``sign_status`` (answer every request with this status: 429 with ``Retry-After`` =
    ``sign_retry_after`` and ``RateLimit-Reset``, 401/403 JSON, 5xx text), ``sign_fail_times`` (fail only the first
    N requests, with ``sign_status`` or 503, then succeed), ``required_api_key`` (401 unless ``X-Api-Key``
    matches), ``sign_delay`` (seconds before answering), ``sign_malformed`` (200 with a body that is not protobuf),
    ``token_ttl`` (seconds a signed WebSocket token stays valid; each is good for one connection).

    WebSocket: ``ping_interval`` (announced in ``Handshake-Options``; fractional for fast tests), ``faults``
    (:class:`Faults`), ``enter_room_timeout``, ``ack_grace``, ``heartbeat_grace`` (the client-duty deadlines),
    ``server_heartbeat_interval`` (send server ``hb`` frames that often; None: never). Zero-delay steps go out
    back to back, other tasks (the connection's ack reader, other connections) running every 20 ms or so.

    Load tests: ``prerender=True`` renders every scripted ``msg`` frame of the LIVE once, when the script is set
    or a LIVE starts (rendering costs ~100 µs a frame, more than a fast client needs to read it), so playing a step
    costs only its send. The frames stay in memory (~1.7 KB each for real traffic); their ``create_time`` and
    ``now`` are the render time. A frame that no longer matches the host (LIVE, room id, seed, ``loop``) or that a
    fault names is rendered at send time instead: never sent stale. The testing guide's "Load tests" has more.

    Video: ``video`` (:class:`~tiktok_live.testing.VideoFeed`): the FLV stream at the pull URLs of the room info
    (length, pace, a drop fault, the qualities offered and which forms name them).

    Records: ``requests`` (the path of every HTTP request), ``live_checks`` (the room ids of each live check),
    ``violations``, ``sign_requests``, ``rejections``, ``acks``, ``heartbeats``, ``enter_room``, ``connections``,
    ``frames_sent``, ``ws_pings`` (and ``sign_requests_waiting`` now); ``on_violation`` is called with each
    violation as it happens.
    :meth:`sign_counts` gives the sign requests per fixed window.

    Many hosts: ``Simulator(users=["a", "b", ...])`` serves every one of them on the one origin, each a
    :class:`Simulator` of its own in :attr:`hosts` (seed ``seed + i``: its own room id, tokens and log ids; msg
    ids in a range of its own; the constructor's room, script, LIVE and WebSocket options, and ``scenario`` built
    for its user). The pages, APIs, WebSocket and video go to the host the request names (``@user``, ``uniqueId``,
    the room id); the sign server, the live check and the gift list are the origin's (its sign options and
    records). :meth:`script`, :meth:`use_scenario`, :meth:`clear_script` and :meth:`clear_records` act on every
    host; change other options on a host itself (``sim.hosts["a"].offline = True``). Violations of every host are
    also recorded on the origin, as ``violation: @user …``. The origin is nobody's host (``user`` is empty,
    ``room_id`` 0), so :meth:`client` is a host's (``sim.hosts["a"].client()``).
    """

    def __init__(
        self,
        user: str = "simulator",
        *,
        room_id: int | None = None,
        nickname: str | None = None,
        title: str = "Simulated LIVE 🎮",
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        scenario: str | Scenario | None = None,
        speed: float = 1.0,
        loop: bool = False,
        history: Sequence[MessageSpec] = (),
        viewer_count: int = 128,
        like_count: int = 4096,
        offline: bool = False,
        age_restricted: bool = False,
        page_layout_changed: bool = False,
        gift_list_status: int = 200,
        relive_after: int | None = None,
        max_lives: int | None = None,
        sign_status: int | None = None,
        sign_fail_times: int | None = None,
        sign_retry_after: float = 1.0,
        sign_delay: float = 0.0,
        sign_malformed: bool = False,
        required_api_key: str | None = None,
        token_ttl: float = 30.0,
        ping_interval: float = 10.0,
        faults: Faults | None = None,
        enter_room_timeout: float = 5.0,
        ack_grace: float = 5.0,
        heartbeat_grace: float = 1.0,
        server_heartbeat_interval: float | None = None,
        on_violation: Callable[[str], None] | None = None,
        max_records: int = 10_000,
        users: Sequence[str] | None = None,
        prerender: bool = False,
    ) -> None:
        if not speed > 0:  # NaN too
            raise ValueError("speed must be positive (math.inf: no delays)")
        if not 0 < ping_interval < math.inf:
            raise ValueError("ping_interval must be a positive number of seconds")
        if relive_after is not None and relive_after < 0:
            raise ValueError("relive_after must be 0 or more offline answers (or None)")
        if max_lives is not None and max_lives < 1:
            raise ValueError("max_lives must be at least 1 (or None for no limit)")
        self.user = user.removeprefix("@")
        self.seed = seed
        self._rng = random.Random(seed)
        self.room_id = (
            room_id
            if room_id is not None
            else self._rng.randrange(7_300_000_000_000_000_000, 7_500_000_000_000_000_000)
        )
        self.host_user = make_user(self.user, nickname, follower_count=self._rng.randint(1_000, 900_000))
        self.nickname = self.host_user.nickname
        self.title = title
        self.host = host
        self._requested_port = port
        self.speed = speed
        self.loop = loop
        self.history: list[MessageSpec] = list(history)
        self.viewer_count = viewer_count
        self.like_count = like_count
        self.offline = offline
        self.age_restricted = age_restricted
        self.page_layout_changed = page_layout_changed
        self.gift_list_status = gift_list_status
        self.relive_after = relive_after
        self.max_lives = max_lives
        self.lives: list[int] = [] if offline else [self.room_id]
        """The room id of every LIVE so far, in order (the current or last one at the end)."""
        self._offline_answers = 0
        self._live_number = 0
        self.sign_status = sign_status
        self.sign_fail_times = sign_fail_times
        self.sign_retry_after = sign_retry_after
        self.sign_delay = sign_delay
        self.sign_malformed = sign_malformed
        self.required_api_key = required_api_key
        self.token_ttl = token_ttl
        self.ping_interval = ping_interval
        self.faults = faults if faults is not None else Faults()
        self.enter_room_timeout = enter_room_timeout
        self.ack_grace = ack_grace
        self.heartbeat_grace = heartbeat_grace
        self.server_heartbeat_interval = server_heartbeat_interval
        self.on_violation = on_violation
        self.max_records = max_records
        self.started_at = int(time.time()) - 600
        self.video = VideoFeed()
        """The LIVE's video: the FLV stream at the room info's pull URLs (options, faults and records)."""

        self.requests: list[str] = []
        """The path of every HTTP request received (pages, APIs, sign server, WebSocket upgrades), in order."""
        self.live_checks: list[tuple[int, ...]] = []
        """The room ids each ``/webcast/room/check_alive/`` request asked about (a batch: several)."""
        self.violations: list[str] = []
        """Every breach of a client duty, one line each, starting with ``violation:``."""
        self.sign_requests: list[SignRequest] = []
        """Every request to the sign server, in order."""
        self.sign_requests_waiting = 0
        """Sign requests that arrived and are waiting out ``sign_delay`` (recorded in ``sign_requests`` once
        answered): lets a test wait until a client is blocked on the sign server."""
        self.rejections: list[HandshakeRejection] = []
        """Every WebSocket upgrade refused (missing User-Agent, missing/used/expired token, wrong room)."""
        self.acks: list[tuple[int, bytes]] = []
        """Every ack received: ``(log_id, payload)``."""
        self.heartbeats: list[tuple[float, int]] = []
        """Every heartbeat received: ``(time.monotonic(), send_packet_seq_id)``."""
        self.enter_room: list[transport_pb2.EnterRoomMessage] = []
        """Every enter-room message received (undecodable ones as empty messages)."""
        self.connections = 0
        """WebSocket connections accepted so far."""
        self.frames_sent = 0
        """WebSocket messages sent so far (all connections)."""
        self.ws_pings = 0
        """WebSocket-level pings received (TikTok answers none; each connection's first is a violation)."""

        self.sign_windows = SignWindows()
        """Sign requests per fixed window of arrival (see :meth:`sign_counts`)."""
        self._origin: Simulator | None = None
        self._id_base = msg_id_base(seed, None)
        self._lives_per_range = 1000
        self._hosts_by_name: dict[str, Simulator] = {}
        self.hosts: dict[str, Simulator] = {self.user: self}
        """The hosts served, by @handle: this simulator itself, or each host of ``users``."""
        self._steps: list[Step] = []
        self._live = 0
        self._live_ended = False
        self.prerender = prerender
        """Render the script's frames once, ahead of sending them (see the class docs); set before a script."""
        self._frames = FrameCache()
        self._strict_clients: weakref.WeakSet[TikTokLiveClient] = weakref.WeakSet()
        if users is not None:
            self.hosts = make_hosts(self, users, scenario, Simulator)
            self._hosts_by_name = {name.casefold(): host for name, host in self.hosts.items()}
            self.user, self.room_id = "", 0  # the origin itself is nobody's host
        elif scenario is not None:
            self.use_scenario(scenario)
        self._tokens: dict[str, Token] = {}
        self._used_tokens: dict[str, float] = {}
        self._sign_failures = 0
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._active: set[SimulatedConnection] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = asyncio.Event()

    # ── lifecycle ───────────────────────────────────────────────────────────────────────────────────────────

    async def start(self) -> None:
        """Start serving on ``host:port`` (port 0: a free port; read it from :attr:`port`). Starting twice is a
        no-op."""
        if self._runner is not None:
            return
        self._stopping = asyncio.Event()  # fresh events: a restart may run in another event loop
        self._idle = asyncio.Event()
        self._idle.set()
        for host in self._hosts_by_name.values():
            host._stopping = self._stopping
            host._idle = asyncio.Event()
            host._idle.set()
        for host in self._served():
            host._prerender()
        many = [dispatcher(self)] if self._hosts_by_name else []
        app = web.Application(middlewares=[self._record_request, *many])
        app.router.add_get("/@{user}/live", self._handle_page)
        app.router.add_get("/api-live/user/room/", self._handle_user_room)
        app.router.add_get("/api-live/user/room", self._handle_user_room)
        app.router.add_get("/webcast/room/check_alive/", self._handle_check_alive)
        app.router.add_get("/webcast/room/info/", self._handle_room_info)
        app.router.add_get("/webcast/gift/list/", self._handle_gift_list)
        app.router.add_get("/webcast/fetch", self._handle_sign)
        app.router.add_get("/webcast/fetch/", self._handle_sign)
        app.router.add_get(WS_PATH, self._handle_ws)
        app.router.add_get(VIDEO_PATH + "{name}", self._handle_video)
        # A client that vanishes without closing must not hold stop() for aiohttp's default 60 s.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=CLOSE_TIMEOUT)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._requested_port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._port = _bound_port(runner)
        self._runner = runner
        logger.info("simulator serving @%s on %s (room %d)", self.user, self.url, self.room_id)

    async def stop(self) -> None:
        """Close every connection (1001), stop serving and release the port. Safe to call twice."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._port = None
        self._stopping.set()  # releases delayed sign requests
        connections = [connection for host in self._served() for connection in host._active]
        await asyncio.gather(*(connection.shutdown(CLOSE_TIMEOUT) for connection in connections))
        try:
            await asyncio.wait_for(self.wait_idle(), CLOSE_TIMEOUT)
        except TimeoutError:
            logger.warning(
                "simulator: %d connection(s) did not finish closing", sum(len(host._active) for host in self._served())
            )
        await runner.cleanup()
        logger.info("simulator stopped")

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
        if exc_type is None:
            self.raise_handler_errors()

    async def wait_idle(self) -> None:
        """Wait until no WebSocket connection is open (and every duty check of the closed ones has run)."""
        for host in self._served():
            await host._idle.wait()

    def _served(self) -> tuple[Simulator, ...]:
        """The simulators whose connections this one serves: itself, or its hosts."""
        return tuple(self._hosts_by_name.values()) or (self,)

    # ── addresses ───────────────────────────────────────────────────────────────────────────────────────────

    @property
    def port(self) -> int:
        """The TCP port being served (the real one when constructed with port 0); RuntimeError before start."""
        if self._origin is not None:
            return self._origin.port
        if self._port is None:
            raise RuntimeError("the simulator is not started: use `async with Simulator() as sim` or `await start()`")
        return self._port

    @property
    def url(self) -> str:
        """The origin to use as web, webcast and sign URL: ``http://127.0.0.1:<port>``."""
        return f"http://{self.host}:{self.port}"

    @property
    def push_server(self) -> str:
        """The WebSocket URL the sign bundle hands out (``push_server``)."""
        return f"ws://{self.host}:{self.port}{WS_PATH}"

    def host_named(self, user: str) -> Simulator:
        """The host serving ``user`` (``@`` optional, any case); KeyError when none does."""
        host = self._host_named(user)
        if host is None:
            raise KeyError(f"this simulator serves no @{user.removeprefix('@')}")
        return host

    def _host_named(self, user: str) -> Simulator | None:
        name = user.removeprefix("@").casefold()
        if self._hosts_by_name:
            return self._hosts_by_name.get(name)
        return self if self._is_host(name) else None

    def _host_of_room(self, room_id: int) -> Simulator | None:
        """The host whose current room is ``room_id``, or None."""
        for host in self._served():
            if host.room_id == room_id:
                return host
        return None

    def config(self, **options: Unpack[ClientOptions]) -> ClientConfig:
        """The connection options of a client of this simulator: every base URL pointed here and, when the
        simulator announces a heartbeat period shorter than a client accepts from a server, that period set
        explicitly; ``options`` override."""
        from tiktok_live._config import ClientConfig
        from tiktok_live._websocket import MIN_HEARTBEAT

        base = ClientConfig(web_url=self.url, webcast_url=self.url, sign_url=self.url)
        if self.ping_interval < MIN_HEARTBEAT:
            base = base.replace(heartbeat_interval=self.ping_interval)
        return base.replace(**options) if options else base

    def client(
        self,
        *,
        room_id: int | None = None,
        recorder: Recorder | None = None,
        session: aiohttp.ClientSession | None = None,
        sign_gate: SignGate | None = None,
        **options: Unpack[ClientOptions],
    ) -> TikTokLiveClient:
        """A :class:`~tiktok_live.TikTokLiveClient` for this host, configured by :meth:`config` (``options`` may
        override the URLs); the other arguments go to the client as they are.

        The client is strict unless ``strict=False`` (for tests): the first exception one of its handlers raises
        is raised again by ``connect()`` / ``run()`` once the stream is over, so an ``assert`` in a handler fails
        the test; what ``connect()`` did not raise (a client run with ``start()``), leaving ``async with
        Simulator()`` and the pytest fixture raise (:meth:`raise_handler_errors`). The exception is logged and
        emitted as an ``ErrorEvent`` as well, as in production. ``strict=False``: only that.
        """
        from tiktok_live.client import TikTokLiveClient

        if self._hosts_by_name:
            raise ValueError('this simulator serves many hosts: ask one for its client (sim.hosts["user"].client())')
        options.setdefault("strict", True)
        client = TikTokLiveClient(
            f"@{self.user}",
            room_id=room_id,
            config=self.config(**options),
            recorder=recorder,
            session=session,
            sign_gate=sign_gate,
        )
        if client.config.strict:
            self._strict_clients.add(client)
        return client

    def raise_handler_errors(self) -> None:
        """Raise the first exception a handler of a strict client (see :meth:`client`) raised and that was not
        raised already (by its ``connect()``); does nothing when none failed. Leaving ``async with Simulator()``
        calls it."""
        for client in list(self._strict_clients):
            client._emitter.raise_if_failed()

    # ── the script ──────────────────────────────────────────────────────────────────────────────────────────

    def script(self, *items: MessageSpec | Step | Iterable[MessageSpec], delay: float = 0.0) -> None:
        """Append steps: a :class:`Step` as is; a message alone, or an iterable of messages (one list from
        :func:`gift_streak`, say), becomes one frame per message, each ``delay`` seconds after the previous.

        Once a connection has played the end of the current LIVE (:func:`end`), the next call starts a new LIVE
        instead: the old steps are dropped and msg ids and cursors start afresh (see :meth:`clear_script`). On a
        many-host simulator: to every host's script."""
        for host in self._hosts_by_name.values():
            host.script(*items, delay=delay)
        if self._live_ended:
            self._next_live()
        for item in items:
            if isinstance(item, Step):
                self._steps.append(item)
            elif isinstance(item, MessageSpec):
                self._steps.append(Step((item,), delay))
            else:
                self._steps.extend(Step((spec,), delay) for spec in item)
        self._prerender()

    def use_scenario(self, scenario: str | Scenario, *, speed: float | None = None, seed: int | None = None) -> None:
        """Replace the script with ``scenario`` (a built-in name, built for this host with ``seed`` or the
        simulator's seed, or a :class:`Scenario`), and optionally set ``speed``. Replacing a script starts a new
        LIVE (see :meth:`clear_script`). On a many-host simulator: on every host (a built-in name built for each,
        with its own seed unless ``seed`` is given)."""
        if speed is not None and not speed > 0:  # NaN too
            raise ValueError("speed must be positive (math.inf: no delays)")
        for host in self._hosts_by_name.values():
            host.use_scenario(scenario, speed=speed, seed=seed)
        if isinstance(scenario, str):
            scenario = load_scenario(scenario, self.seed if seed is None else seed, self.user)
        self._next_live()
        self._steps = list(scenario.steps)
        if speed is not None:
            self.speed = speed
        self._prerender()

    # ── LIVEs ───────────────────────────────────────────────────────────────────────────────────────────────

    def start_live(self, room_id: int | None = None) -> int:
        """Begin the host's next LIVE and return its room id: a new room id (``room_id``, else a seeded random one;
        a simulator built ``offline`` keeps its room id for its first LIVE), fresh msg ids, status 2 everywhere.
        Connections play the script from its start. Sockets of an earlier room are refused from now on."""
        if room_id is not None:
            self.room_id = room_id
        elif self.lives:
            self.room_id = self._rng.randrange(7_300_000_000_000_000_000, 7_500_000_000_000_000_000)
        if self.lives:
            self._live_number += 1
            self._live += 1  # fresh msg ids and cursors for the new room
        self.offline = False
        self._offline_answers = 0
        self.started_at = int(time.time())
        self.lives.append(self.room_id)
        logger.info("simulator: @%s is live (room %d, LIVE #%d)", self.user, self.room_id, len(self.lives))
        self._prerender()
        return self.room_id

    def end_live(self) -> None:
        """End the host's LIVE: status 4 everywhere (live page, room API, live check, room info). Open sockets are
        left as they are (send ``end()`` for the stream's own end)."""
        self.offline = True
        self._offline_answers = 0
        logger.info("simulator: @%s's LIVE in room %d ended", self.user, self.room_id)

    def _stream_ended(self) -> None:
        """A connection sent a message that ends the stream: with ``relive_after`` set, the LIVE ends too."""
        if self.relive_after is not None and not self.offline:
            self.end_live()

    def clear_script(self) -> None:
        """Remove every step and start a new LIVE: the messages scripted next get msg ids no earlier LIVE of this
        simulator used, so a client that watched the previous one (and remembers its ids to drop duplicates) sees
        all of them; cursors of the previous LIVE no longer resume. Connections already playing stop after their
        current step. On a many-host simulator: every host's."""
        self._next_live()
        self._prerender()
        for host in self._hosts_by_name.values():
            host.clear_script()

    @property
    def live_number(self) -> int:
        """Which LIVE of this simulator the script is (0 first; see :meth:`clear_script`)."""
        return self._live

    def _next_live(self) -> None:
        if self._steps or self._live_ended:  # a LIVE with nothing scripted keeps its number
            self._live += 1
        self._steps = []
        self._live_ended = False

    @property
    def steps(self) -> tuple[Step, ...]:
        """The current script."""
        return tuple(self._steps)

    def clear_records(self) -> None:
        """Forget everything recorded so far (violations, requests, acks, heartbeats, …) and reset the counters."""
        for records in (self.violations, self.sign_requests, self.rejections, self.acks, self.heartbeats):
            records.clear()
        self.requests.clear()
        self.live_checks.clear()
        self.enter_room.clear()
        self.connections = self.frames_sent = self.ws_pings = 0
        self._sign_failures = 0
        self.sign_windows.clear()
        for host in self._hosts_by_name.values():
            host.clear_records()

    def sign_counts(self, seconds: int = 1) -> dict[int, int]:
        """Sign requests received per fixed window of ``seconds`` (whole seconds): ``{window start: count}``, the
        windows aligned on the epoch as sign servers count them (window ``n`` is ``[n*s, (n+1)*s)``), by arrival
        time. For checking that clients kept to a budget: ``max(sim.sign_counts(60).values()) <= 30``."""
        return self.sign_windows.windows(seconds)

    def cursor(self, position: int) -> str:
        """The cursor meaning "the first ``position`` steps of the current LIVE were delivered": resuming with it
        sends step ``position`` next."""
        return f"sim-{position}-{self.seed}-{self._live}"

    # ── helpers shared with the connections ─────────────────────────────────────────────────────────────────

    def _cursor(self, position: int) -> str:
        return self.cursor(position)

    def _parse_cursor(self, cursor: str | None) -> int | None:
        match = _CURSOR.match(cursor or "")
        if match is None or int(match.group(2)) != self.seed or int(match.group(3)) != self._live:
            return None
        return int(match.group(1))

    def _step_at(self, position: int) -> Step | None:
        steps = self._steps
        if position < len(steps):
            step = steps[position]
        elif self.loop and steps:
            step = steps[position % len(steps)]
        else:
            return None
        if self.loop and any(spec.ends_stream for spec in step.messages):
            step = Step(tuple(spec for spec in step.messages if not spec.ends_stream), step.delay)
        return step

    def _msg_id(self, position: int, index: int) -> int:
        # Snowflake-like 19-digit ids, a pure function of (seed, LIVE, position, index): a message keeps its id when
        # the sign bundle repeats it as history, and the next LIVE's never repeat this one's (1,000 LIVEs, 244
        # million steps each, fit below 2**63). Each host of a many-host simulator has a range of its own, for 100
        # LIVEs (see _hosts.msg_id_base).
        live = (self._live % self._lives_per_range) * 10**12
        return self._id_base + live + position * 4096 + index

    def _prerender(self) -> None:
        """With ``prerender``, render the script's frames not rendered yet (all, if what they depend on changed);
        without, drop any rendered. A many-host origin has no frames of its own: its hosts render theirs."""
        if not self.prerender or self._hosts_by_name:
            self._frames.clear()
            return
        started = time.perf_counter()
        rendered = self._frames.refresh(self)
        if rendered:
            elapsed = time.perf_counter() - started
            logger.debug("simulator: @%s: %d frame(s) rendered ahead in %.2f s", self.user, rendered, elapsed)

    def _prerendered(self, position: int, step: Step) -> RenderedFrame | None:
        """The frame rendered ahead for ``step``, the step at ``position``; None: render it now."""
        return self._frames.get(self, position, step) if self.prerender else None

    def _played(self, step: Step) -> None:
        """A connection sent ``step``: when it ends the stream, the next :meth:`script` starts a new LIVE."""
        if any(spec.ends_stream for spec in step.messages):
            self._live_ended = True

    def _new_log_id(self) -> int:
        return self._rng.getrandbits(63) or 1

    def _record(self, records: list[_T], item: _T) -> None:
        records.append(item)
        if len(records) > self.max_records:
            del records[: len(records) - self.max_records]

    def _report_violation(self, text: str) -> None:
        self._record(self.violations, text)
        if self._origin is not None:
            self._origin._report_violation(text.replace("violation:", f"violation: @{self.user}", 1))
            return
        logger.warning("%s", text)
        if self.on_violation is not None:
            try:
                self.on_violation(text)
            except Exception:  # a broken callback must not kill the connection
                logger.exception("on_violation callback failed")

    @web.middleware
    async def _record_request(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        self._record(self.requests, request.path)
        return await handler(request)

    # ── pages and APIs ──────────────────────────────────────────────────────────────────────────────────────

    def _is_host(self, unique_id: str) -> bool:
        if self._hosts_by_name:
            return False  # a many-host origin is nobody's host
        return unique_id.removeprefix("@").casefold() == self.user.casefold()

    @property
    def _status(self) -> int:
        return OFFLINE if self.offline else LIVE

    def _host_status(self) -> int:
        """The host's status for a live page or room API answer; offline answers count toward ``relive_after``."""
        if not self.offline:
            return LIVE
        if self.relive_after is not None and (self.max_lives is None or len(self.lives) < self.max_lives):
            self._offline_answers += 1
            if self._offline_answers > self.relive_after:
                self.start_live()
                return LIVE
        return OFFLINE

    async def _handle_page(self, request: web.Request) -> web.Response:
        return routes.page(self, request)

    async def _handle_user_room(self, request: web.Request) -> web.Response:
        return routes.user_room(self, request)

    async def _handle_check_alive(self, request: web.Request) -> web.Response:
        return routes.check_alive(self, request)

    async def _handle_room_info(self, request: web.Request) -> web.Response:
        return routes.room_info(self, request)

    async def _handle_gift_list(self, request: web.Request) -> web.Response:
        return routes.gift_list(self, request)

    async def _handle_video(self, request: web.Request) -> web.StreamResponse:
        return await self.video.handle(self, request)

    async def _handle_sign(self, request: web.Request) -> web.Response:
        return await routes.sign(self, request)

    # ── WebSocket ───────────────────────────────────────────────────────────────────────────────────────────

    async def _handle_ws(self, request: web.Request) -> web.StreamResponse:
        return await routes.websocket(self, request)


def _bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2 and isinstance(address[1], int):
            return address[1]
    raise RuntimeError("the simulator could not find the port it is bound to")
