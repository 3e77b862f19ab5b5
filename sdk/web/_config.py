"""Defaults of ``tiktok-live serve`` and the loopback test: light, so the command line can import them cheaply."""

from __future__ import annotations

import ipaddress
from typing import Final

__all__ = ["DEFAULT_DISPLAY_TIME", "DEFAULT_HOST", "DEFAULT_PORT", "is_loopback"]

DEFAULT_HOST: Final = "127.0.0.1"
"""Where the server listens unless told otherwise: this machine only."""
DEFAULT_PORT: Final = 8080
"""The port the server listens on unless told otherwise."""
DEFAULT_DISPLAY_TIME: Final = 8.0
"""Seconds an overlay keeps a message on screen (``--display-time``; ``?time=`` per overlay)."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a bind address or host name) only reaches this machine."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
