"""Headless Chromium through Selenium, for the web tests and ``make screenshots`` (a dev-only tool, never in the
wheel; needs the ``dev`` extra).

Chromium and chromedriver come from the system (Debian: ``apt-get install chromium chromium-driver``); their
paths are given explicitly, so Selenium Manager never runs and nothing is downloaded. The browser is started so
that it contacts nothing but loopback: no background networking, component updates or first-run tasks, and
every host name resolves to nothing (remote avatars and gift pictures fall back to initials and an emoji).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

__all__ = ["CHROMEDRIVER_ENV", "CHROMIUM_ENV", "FLAGS", "BrowserUnavailableError", "chromium", "find_browser", "resize"]

CHROMIUM_ENV: Final = "TIKTOK_LIVE_CHROMIUM"
"""Environment variable with the Chromium binary's path (default: ``chromium`` or ``chromium-browser`` on PATH)."""
CHROMEDRIVER_ENV: Final = "TIKTOK_LIVE_CHROMEDRIVER"
"""Environment variable with chromedriver's path (default: ``/usr/bin/chromedriver`` or ``chromedriver`` on PATH)."""
FLAGS: Final = (
    "--headless=new",
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--no-default-browser-check",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1, EXCLUDE [::1]",
    "--hide-scrollbars",
)
"""Chromium's command line: headless, and no traffic but to loopback."""


class BrowserUnavailableError(RuntimeError):
    """Chromium, chromedriver or Selenium is missing here, or the browser would not start (the message says which)."""


def _which(env: str, *candidates: str) -> str | None:
    explicit = os.environ.get(env)
    if explicit:
        return explicit if Path(explicit).is_file() else None
    for candidate in candidates:
        found = candidate if candidate.startswith("/") and Path(candidate).is_file() else shutil.which(candidate)
        if found:
            return found
    return None


def find_browser() -> tuple[str, str]:
    """``(chromium, chromedriver)`` paths; raises :class:`BrowserUnavailableError` saying what is missing."""
    browser = _which(CHROMIUM_ENV, "/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
    driver = _which(CHROMEDRIVER_ENV, "/usr/bin/chromedriver", "chromedriver")
    missing = [name for name, path in (("chromium", browser), ("chromedriver", driver)) if path is None]
    if browser is None or driver is None:
        raise BrowserUnavailableError(
            f"{' and '.join(missing)} not found (Debian: apt-get install chromium chromium-driver; "
            f"or set {CHROMIUM_ENV} / {CHROMEDRIVER_ENV})"
        )
    return browser, driver


@contextmanager
def chromium(width: int = 1280, height: int = 800) -> Iterator[WebDriver]:
    """A headless Chromium with a ``width`` x ``height`` viewport, quit on exit.

    Raises :class:`BrowserUnavailableError` when Selenium, Chromium or chromedriver is missing or cannot start.
    """
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service
    except ImportError as error:
        raise BrowserUnavailableError(f"selenium is not installed ({error}); pip install -e '.[dev]'") from error
    browser, driver_path = find_browser()
    with tempfile.TemporaryDirectory(prefix="tiktok-live-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = browser
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={profile}")
        options.add_argument(f"--window-size={width},{height}")
        service = Service(executable_path=driver_path, log_output=os.devnull)
        try:
            driver = webdriver.Chrome(service=service, options=options)
        except WebDriverException as error:
            raise BrowserUnavailableError(f"Chromium did not start: {error.msg or error}") from error
        try:
            driver.set_page_load_timeout(15)
            driver.set_script_timeout(10)
            resize(driver, width, height)
            yield driver
        finally:
            driver.quit()


def resize(driver: WebDriver, width: int, height: int) -> None:
    """Make the page's viewport exactly ``width`` x ``height`` CSS pixels."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )
