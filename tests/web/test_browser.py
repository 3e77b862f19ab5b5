"""The pages in a real headless Chromium (Selenium): the simulator's room shows up on the dashboard and overlays,
hostile text stays text, and a page reconnects to its event stream after the server restarts.

Skipped, with the reason, only when Chromium, chromedriver or Selenium is missing (see conftest.browser).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from tiktok_live.jsonl import event_to_json
from tiktok_live.testing import comment, end, follow, gift, gift_streak, like, make_user, room_user_seq
from tiktok_live.web.app import WebServer

from .conftest import LoopThread, make_events, open_room

T = TypeVar("T")
WAIT = 10.0
TIMES = "\u00d7"  # the multiplication sign of "sent 3x Rose" on the pages

HOSTILE_NICKNAME = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
HOSTILE_COMMENT = (
    "<b>hi</b> &amp; &lt;i&gt;not italic&lt;/i&gt; \"quoted\" 'single' "
    "\u202eRTL override\u202c zero\u200bwidth \U0001f469\u200d\U0001f469\u200d\U0001f467 "
    "Z\u0337\u0322\u034ea\u0338l\u0336g\u0335o "  # combining marks
    "\U0001d518\U0001d52b\U0001d526\U0001d520\U0001d52c\U0001d521\U0001d522 "  # mathematical Fraktur
    "line\u2028separator next\u0085line\r\nCRLF data: x\n\nevent: evil"  # what could break SSE framing
)


def wait(driver: Any, condition: Callable[[Any], T], message: str, seconds: float = WAIT) -> T:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds, poll_frequency=0.05).until(condition, message)


def texts(driver: Any, selector: str) -> list[str]:
    """textContent (exact, unnormalised) of every element matching ``selector``."""
    return driver.execute_script(  # type: ignore[no-any-return]
        "return Array.from(document.querySelectorAll(arguments[0]), (n) => n.textContent)", selector
    )


def shown(selector: str) -> Callable[[Any], list[str]]:
    """A wait condition: the texts of ``selector`` once there are any."""
    return lambda driver: texts(driver, selector)


def stream_up(driver: Any) -> bool:
    return driver.execute_script("return document.documentElement.dataset.stream") == "up"  # type: ignore[no-any-return]


def open_tab(driver: Any, url: str, *, first: bool = False) -> str:
    if not first:
        driver.switch_to.new_window("tab")
    driver.get(url)
    wait(driver, stream_up, f"{url} did not connect to its event stream")
    return driver.current_window_handle  # type: ignore[no-any-return]


def test_the_simulated_room_appears_on_the_dashboard_and_overlays(driver: Any, loop_thread: LoopThread) -> None:
    room = loop_thread.run(
        open_room(
            room_user_seq(120, 300),
            comment("alice", "hello from the simulator"),
            like("bob", 7, 7),
            *gift_streak("carol", 5655, "Rose", 1, repeats=3),
            follow("dave"),
            comment("erin", "second comment"),
            gift("frank", 6369, "Lion", 29999, 1, False, 2),
            room_user_seq(140, 330),
            end(),
        )
    )
    try:
        base = room.url
        dashboard = open_tab(driver, base, first=True)
        chat = open_tab(driver, f"{base}overlay/chat?time=60&show=comment,follow")
        gifts = open_tab(driver, f"{base}overlay/gifts?time=60")
        goal = open_tab(driver, f"{base}overlay/goal?likes=10")
        loop_thread.run(room.play())

        driver.switch_to.window(chat)
        wait(driver, lambda d: "second comment" in texts(d, ".message .text"), "comments missing on the chat overlay")
        assert texts(driver, ".message.comment .text") == ["hello from the simulator", "second comment"]
        assert "Alice" in texts(driver, ".message .name")
        assert texts(driver, ".message.follow .text") == ["followed the host"]
        assert driver.execute_script("return getComputedStyle(document.body).backgroundColor") == "rgba(0, 0, 0, 0)"

        driver.switch_to.window(gifts)
        wait(driver, lambda d: len(texts(d, ".alert .what")) == 2, "gift alerts missing")
        # One alert per finished streak (not one per streak message), with the count and the value.
        assert texts(driver, ".alert .what") == [f"sent 3{TIMES} Rose", f"sent 1{TIMES} Lion"]
        assert texts(driver, ".alert .name") == ["Carol", "Frank"]
        assert texts(driver, ".alert .value")[0].startswith("💎 3")
        assert "29,999" in texts(driver, ".alert .value")[1]
        assert driver.execute_script("return getComputedStyle(document.body).backgroundColor") == "rgba(0, 0, 0, 0)"

        driver.switch_to.window(goal)
        wait(driver, lambda d: texts(d, ".goal-count") == ["7 / 10"], "the like goal did not count the likes")

        driver.switch_to.window(dashboard)
        wait(driver, lambda d: texts(d, "#status") == ["LIVE ended"], "the dashboard does not show the end")
        feed = texts(driver, "#feed .content")
        assert any("hello from the simulator" in line for line in feed)
        assert any(f"sent 3{TIMES} Rose" in line for line in feed)
        assert sum("Rose" in line for line in feed) == 1  # the streak's intermediate messages are not listed
        assert texts(driver, "#gifts") == ["4"] and texts(driver, "#diamonds") == ["30,002"]
        assert texts(driver, "#comments") == ["2"] and texts(driver, "#follows") == ["1"]
        assert texts(driver, "#viewers") == ["140"]
        assert texts(driver, "#gifters .name")[:2] == ["Frank", "Carol"]
        assert driver.find_elements("css selector", "#chart polyline")
        assert "ended" in texts(driver, "#banner")[0]
    finally:
        loop_thread.run(room.close())


def test_hostile_text_is_shown_verbatim_never_run(driver: Any, loop_thread: LoopThread) -> None:
    evil = make_user("evil_user", HOSTILE_NICKNAME)
    room = loop_thread.run(
        open_room(comment(evil, HOSTILE_COMMENT), *gift_streak(evil, 5655, "<i>Rose</i>", 1, repeats=1), end())
    )
    try:
        base = room.url
        dashboard = open_tab(driver, base, first=True)
        chat = open_tab(driver, f"{base}overlay/chat?time=60&show=comment,gift")
        gifts = open_tab(driver, f"{base}overlay/gifts?time=60")
        loop_thread.run(room.play())
        for handle, name_selector, text_selector, expected_text in [
            (chat, ".message.comment .name", ".message.comment .text", HOSTILE_COMMENT),
            (dashboard, "#feed .comment .name", "#feed .comment .text", HOSTILE_COMMENT),
            (gifts, ".alert .name", ".alert .what", f"sent 1{TIMES} <i>Rose</i>"),
        ]:
            driver.switch_to.window(handle)
            wait(driver, shown(text_selector), f"nothing shown on {driver.current_url}")
            assert texts(driver, name_selector) == [HOSTILE_NICKNAME], driver.current_url
            assert texts(driver, text_selector) == [expected_text], driver.current_url
            # Nothing was parsed as markup, and no script ran.
            assert driver.execute_script("return window.__pwned") is None
            markup = driver.execute_script(
                "return document.querySelectorAll('body b, body i, body script, img[src=\"x\"]').length"
            )
            assert markup == 0, driver.current_url
        driver.switch_to.window(dashboard)
        wait(driver, lambda d: texts(d, "#gifters .name") == [HOSTILE_NICKNAME], "top gifter not shown as text")
    finally:
        loop_thread.run(room.close())


def test_a_page_reconnects_to_the_event_stream_after_a_server_restart(driver: Any, loop_thread: LoopThread) -> None:
    room = loop_thread.run(open_room(comment("alice", "before the restart")))
    second: WebServer | None = None
    try:
        port = room.server.port
        chat = open_tab(driver, f"{room.url}overlay/chat?time=60", first=True)
        dashboard = open_tab(driver, room.url)
        for event in make_events(comment("alice", "before the restart")):
            loop_thread.run(_publish(room.server, event))
        driver.switch_to.window(chat)
        wait(driver, lambda d: texts(d, ".message .text") == ["before the restart"], "first comment missing")
        first_server = driver.execute_script("return document.documentElement.dataset.server")

        loop_thread.run(room.server.stop())
        wait(driver, lambda d: not stream_up(d), "the page did not notice the server going away")
        second = WebServer(unique_id="host", keepalive=1.0)
        loop_thread.run(second.start("127.0.0.1", port))

        for handle in (chat, dashboard):
            driver.switch_to.window(handle)
            wait(driver, stream_up, "the page did not reconnect after the restart", seconds=20)
            assert driver.execute_script("return document.documentElement.dataset.server") != first_server
        for event in make_events(comment("bob", "after the restart")):
            loop_thread.run(_publish(second, event))
        driver.switch_to.window(chat)
        wait(driver, lambda d: "after the restart" in texts(d, ".message .text"), "no events after the restart")
        driver.switch_to.window(dashboard)
        wait(driver, lambda d: any("after the restart" in t for t in texts(d, "#feed .text")), "dashboard stale")
        assert texts(driver, "#link") == ["page: live"]
    finally:
        if second is not None:
            loop_thread.run(second.stop())
        loop_thread.run(room.close())


async def _publish(server: WebServer, event: Any) -> None:
    server.publish(event)


async def _publish_received(server: WebServer, event: Any, received_at: int) -> None:
    """Send ``event`` to the pages as if the client had received it at ``received_at`` (ms since the epoch)."""
    server.hub.publish(event.type, event_to_json(event, received_at=received_at))


def test_overlays_keep_messages_for_their_display_time_only(driver: Any, loop_thread: LoopThread) -> None:
    room = loop_thread.run(open_room())
    try:
        received_at = int(time.time() * 1000) - 1500  # received 1.5 s ago: no need to wait for it to age
        for event in make_events(comment("alice", "old news")):
            loop_thread.run(_publish_received(room.server, event, received_at))
        # A page opened later shows held messages only while they are younger than its display time.
        open_tab(driver, f"{room.url}overlay/chat?time=1", first=True)
        fresh = open_tab(driver, f"{room.url}overlay/chat?time=60")
        wait(driver, lambda d: texts(d, ".message .text") == ["old news"], "a young-enough held message is missing")
        driver.switch_to.window(driver.window_handles[0])
        assert texts(driver, ".message .text") == []  # older than 1 s: not shown again
        for event in make_events(comment("bob", "brief")):
            loop_thread.run(_publish(room.server, event))
        wait(driver, lambda d: texts(d, ".message .text") == ["brief"], "the new message did not appear")
        wait(driver, lambda d: texts(d, ".message") == [], "the message stayed past its display time", seconds=5)
        driver.switch_to.window(fresh)
        assert texts(driver, ".message .text") == ["old news", "brief"]  # time=60 keeps both
    finally:
        loop_thread.run(room.close())
