"""Screenshots of the dashboard and the overlays for the docs: ``python -m tools.screenshots DIR``.

``make screenshots`` runs it with ``docs/images``. It starts the embedded simulator (its default show, looping, so
the room stays live) and the web server on 127.0.0.1, waits until the room has comments and gifts, then opens each
page in headless Chromium (:mod:`tools.browser`) and saves a PNG. The overlays are transparent; they are
shot over a dark backdrop, as they would sit over a game or camera scene. Remote pictures are not loaded (the
browser reaches only loopback), so avatars show initials and gifts an emoji. Needs the ``dev`` extra, Chromium and
chromedriver; an emoji font (Debian: ``fonts-noto-color-emoji``) makes emoji in comments render.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from tiktok_live.testing import Simulator
from tiktok_live.web.app import WebServer
from tiktok_live.web.cli import follow
from tools.browser import BrowserUnavailableError, chromium, resize

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

__all__ = ["SHOTS", "Shot", "capture", "main"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Shot:
    """One screenshot: the file name, the page path, the viewport and whether to put a backdrop behind it."""

    name: str
    path: str
    width: int
    height: int
    backdrop: bool = True
    ready: str = "body"
    """A CSS selector that must match before the shot is taken."""


SHOTS: Final = (
    Shot("dashboard.png", "/", 1280, 900, backdrop=False, ready="#gifters li"),
    Shot("overlay-chat.png", "/overlay/chat?time=0", 400, 600, ready=".message + .message"),
    Shot("overlay-gifts.png", "/overlay/gifts?time=0", 600, 420, ready=".alert + .alert + .alert"),
    Shot("overlay-goal.png", "/overlay/goal?likes={likes}", 600, 120, ready=".goal[data-value]"),
)
"""The pages shot, in order (``{likes}`` becomes a like goal a bit above the room's total)."""
_BACKDROP: Final = {"r": 38, "g": 42, "b": 54, "a": 1}
_TIMEOUT: Final = 60.0
_ANIMATIONS_DONE: Final = "return document.getAnimations().every((a) => a.playState !== 'running')"


def _like_goal(likes: int) -> int:
    """A like goal a bit above ``likes``, rounded to 50: the bar shows well under way."""
    return max(100, math.ceil(likes * 1.6 / 50) * 50)


def _shoot(driver: WebDriver, base: str, shot: Shot, out: Path, likes: Callable[[], int]) -> Path:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    resize(driver, shot.width, shot.height)
    if shot.backdrop:
        driver.execute_cdp_cmd("Emulation.setDefaultBackgroundColorOverride", {"color": _BACKDROP})
    else:
        driver.execute_cdp_cmd("Emulation.setDefaultBackgroundColorOverride", {})
    driver.get(base.rstrip("/") + shot.path.format(likes=_like_goal(likes())))
    WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, shot.ready))
    time.sleep(0.5)  # the backlog arrives in a burst: let it render
    WebDriverWait(driver, 10).until(lambda d: d.execute_script(_ANIMATIONS_DONE))
    path = out / shot.name
    if not driver.save_screenshot(str(path)):
        raise RuntimeError(f"Chromium could not save {path}")
    return path


def _shoot_all(base: str, out: Path, likes: Callable[[], int]) -> list[Path]:
    with chromium(1280, 900) as driver:
        return [_shoot(driver, base, shot, out, likes) for shot in SHOTS]


async def capture(out: Path, *, speed: float = 2.0) -> list[Path]:
    """Run the simulator and the server, then save every :data:`SHOTS` PNG into ``out`` (an existing folder);
    returns their paths."""
    async with Simulator("simulator", scenario="default", speed=speed, loop=True) as simulator:
        server = WebServer(unique_id=simulator.user)
        await server.start("127.0.0.1", 0)
        follower = asyncio.create_task(follow(server, simulator.client), name="screenshots client")
        try:
            deadline = time.monotonic() + _TIMEOUT
            state = server.state
            while not (state.comments >= 12 and state.gifts >= 6 and state.follows >= 2 and state.shares >= 2):
                if follower.done() or time.monotonic() > deadline:
                    raise RuntimeError(f"the simulated room did not fill up (state: {state.snapshot()})")
                await asyncio.sleep(0.2)
            # Selenium blocks: drive the browser from a thread while this loop keeps serving the pages.
            return await asyncio.to_thread(_shoot_all, server.url, out, lambda: state.likes)
        finally:
            follower.cancel()
            await asyncio.wait({follower})
            await server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m tools.screenshots [DIR] [--speed N]``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m tools.screenshots", description=__doc__)
    parser.add_argument("out", nargs="?", type=Path, default=Path("docs/images"), help="folder for the PNGs")
    parser.add_argument("--speed", type=float, default=2.0, help="playback speed of the simulated show")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        paths = asyncio.run(capture(args.out, speed=args.speed))
    except BrowserUnavailableError as error:
        sys.stderr.write(f"screenshots: {error}\n")
        return 1
    for path in paths:
        sys.stderr.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
