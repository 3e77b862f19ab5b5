"""Helpers for the web tests: a hard per-test deadline, SSE parsing, events without a client, and for the browser
tests a headless Chromium plus an event loop in a thread (Selenium blocks; the server must keep serving).

Browser tests skip, saying why, only when Chromium, chromedriver or Selenium is missing or the browser does not
start (and fail instead when $TIKTOK_LIVE_REQUIRE_BROWSER is set); everything else about them fails loudly.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
import pytest

from tiktok_live._base import BaseEvent
from tiktok_live._derived import derive
from tiktok_live.events import decode_message
from tiktok_live.testing import MessageSpec, Simulator
from tiktok_live.web.app import WebServer
from tiktok_live.web.cli import follow

T = TypeVar("T")
TEST_DEADLINE = 45.0
"""No web test may run longer than this (seconds)."""
TIMEOUT = 10.0
"""Bound of every single wait."""
ROOM_ID = 7_411_039_399_448_020_941
REQUIRE_BROWSER_ENV = "TIKTOK_LIVE_REQUIRE_BROWSER"
"""Set (e.g. in CI, after installing Chromium) to make a missing browser fail the browser tests, not skip them."""


@pytest.fixture(autouse=True)
def _deadline(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail any test of this folder that runs longer than TEST_DEADLINE (on top of each wait's own bound)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"{request.node.nodeid} ran longer than {TEST_DEADLINE:.0f} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, TEST_DEADLINE)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


async def within(awaitable: Awaitable[T], seconds: float = TIMEOUT) -> T:
    """``awaitable``, failing the test if it takes longer than ``seconds``."""
    return await asyncio.wait_for(awaitable, seconds)


def make_events(spec: MessageSpec, msg_id: int = 1) -> tuple[BaseEvent, ...]:
    """The events a client would emit for ``spec``: the decoded message, then its derived events."""
    payload = spec.render(msg_id=msg_id, room_id=ROOM_ID, create_time=int(time.time() * 1000))
    event = decode_message(spec.method, payload)
    return (event, *derive(event))


def make_event(spec: MessageSpec, msg_id: int = 1) -> BaseEvent:
    """The last event a client would emit for ``spec`` (a derived one when there is one: FollowEvent, ...)."""
    return make_events(spec, msg_id)[-1]


@dataclass
class SSEMessage:
    """One Server-Sent Events message."""

    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None

    def json(self) -> Any:
        """``data`` parsed as JSON."""
        return json.loads(self.data)


@dataclass
class SSEReader:
    """Reads SSE messages from an aiohttp response, one at a time, with bounded waits."""

    response: aiohttp.ClientResponse
    raw: list[bytes] = field(default_factory=list)

    async def next(self, seconds: float = TIMEOUT) -> SSEMessage:
        """The next message (comments skipped)."""
        message = SSEMessage()
        lines: list[str] = []
        while True:
            line = await within(self.response.content.readline(), seconds)
            if not line:
                raise EOFError("the event stream ended")
            self.raw.append(line)
            text = line.decode("utf-8").rstrip("\r\n")
            if text == "":
                if lines or message.retry is not None:
                    message.data = "\n".join(lines)
                    return message
                continue
            if text.startswith(":"):
                continue
            name, _, value = text.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                lines.append(value)
            elif name == "event":
                message.event = value
            elif name == "id":
                message.id = value
            elif name == "retry":
                message.retry = int(value)

    async def until(self, predicate: Callable[[SSEMessage], bool], seconds: float = TIMEOUT) -> SSEMessage:
        """The first message matching ``predicate`` within ``seconds``."""
        deadline = time.monotonic() + seconds
        while True:
            message = await self.next(max(0.05, deadline - time.monotonic()))
            if predicate(message):
                return message


@pytest.fixture
async def web_server() -> AsyncIterator[WebServer]:
    """A started WebServer on 127.0.0.1, a free port, fast keepalives."""
    server = WebServer(unique_id="host", keepalive=0.5)
    await server.start("127.0.0.1", 0)
    try:
        yield server
    finally:
        await within(server.stop())


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An aiohttp client session with a total timeout."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as session:
        yield session


# ── browser tests ───────────────────────────────────────────────────────────────────────────────────────────


class LoopThread:
    """An asyncio loop in a daemon thread: the simulator and the web server run there while Selenium blocks."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="web-tests loop", daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], seconds: float = TIMEOUT) -> T:
        """Run ``coroutine`` on the loop and wait for its result (at most ``seconds``)."""
        return asyncio.run_coroutine_threadsafe(asyncio.wait_for(coroutine, seconds), self.loop).result(seconds + 1)

    def close(self) -> None:
        """Stop the loop and its thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@dataclass
class Room:
    """A simulator with a script and a web server fed by a client of it."""

    simulator: Simulator
    server: WebServer

    @property
    def url(self) -> str:
        """The dashboard's URL."""
        return self.server.url

    async def play(self) -> None:
        """Connect a client and play the script until the stream ends."""
        await follow(self.server, self.simulator.client)

    async def close(self) -> None:
        """Stop the server and the simulator."""
        await self.server.stop()
        await self.simulator.stop()


async def open_room(*script: MessageSpec, port: int = 0) -> Room:
    """A simulator scripted with ``script`` and a web server on 127.0.0.1 (not yet connected)."""
    simulator = Simulator("host", speed=50)
    simulator.script(*script)
    await simulator.start()
    server = WebServer(unique_id="host", keepalive=1.0)
    await server.start("127.0.0.1", port)
    return Room(simulator, server)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """A headless Chromium (Selenium WebDriver) for the session; skips with the reason when there is none."""
    from tools.browser import BrowserUnavailableError, chromium

    manager = chromium(1000, 800)
    try:
        driver = manager.__enter__()
    except BrowserUnavailableError as error:
        if os.environ.get(REQUIRE_BROWSER_ENV):
            pytest.fail(f"{REQUIRE_BROWSER_ENV} is set but there is no headless browser: {error}")
        pytest.skip(f"no headless browser for the web tests: {error}")
    try:
        yield driver
    finally:
        manager.__exit__(None, None, None)


@pytest.fixture
def driver(browser: Any) -> Iterator[Any]:
    """The session's browser with a single blank tab before and after the test."""
    _single_tab(browser)
    yield browser
    _single_tab(browser)


def _single_tab(driver: Any) -> None:
    handles = driver.window_handles
    for handle in handles[1:]:
        driver.switch_to.window(handle)
        driver.close()
    driver.switch_to.window(handles[0])
    driver.get("about:blank")


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    """An event loop in a thread, closed after the test."""
    thread = LoopThread()
    try:
        yield thread
    finally:
        thread.close()
