"""Proxies: which ones a client accepts, how each reaches aiohttp, and how they are named without credentials.

An HTTP or HTTPS proxy (``http://``, ``https://``) goes with every request (aiohttp's ``proxy=``): the session is a
plain one. A SOCKS proxy (``socks5://``, ``socks5h://``, ``socks4://``) lives in the session's connector instead
(aiohttp-socks, the ``socks`` extra), so requests carry no ``proxy=`` and the WebSocket goes through the same
connector. ``socks5://`` resolves host names on this machine and ``socks5h://`` on the proxy, as curl does.

Nothing here ever puts a proxy's user name or password into text: :func:`proxy_label` is the form for logs,
errors and reprs.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Final
from urllib.parse import urlsplit

import aiohttp

from tiktok_live.errors import MissingExtraError

__all__ = [
    "HTTP_SCHEMES",
    "SOCKS_EXTRA",
    "SOCKS_SCHEMES",
    "HttpSession",
    "check_session",
    "is_socks",
    "new_session",
    "proxy_label",
    "request_proxy",
    "require_socks",
]

HTTP_SCHEMES: Final = ("http", "https")
"""Proxy schemes aiohttp speaks itself (``proxy=`` on each request)."""
SOCKS_SCHEMES: Final = ("socks4", "socks5", "socks5h")
"""Proxy schemes that need the ``socks`` extra (aiohttp-socks)."""
SOCKS_EXTRA: Final = 'pip install "tiktok-live[socks]"'
"""The install line that adds SOCKS support."""


def _scheme(proxy: str) -> str:
    return urlsplit(proxy).scheme.lower()


def is_socks(proxy: str | None) -> bool:
    """Whether ``proxy`` is a SOCKS proxy URL (carried by the session's connector, not by each request)."""
    return proxy is not None and _scheme(proxy) in SOCKS_SCHEMES


def request_proxy(proxy: str | None) -> str | None:
    """What to pass as aiohttp's per-request ``proxy=``: an HTTP(S) proxy, or None (no proxy, or a SOCKS proxy
    that the session's connector already carries)."""
    return None if proxy is None or is_socks(proxy) else proxy


def proxy_label(proxy: str) -> str:
    """``proxy`` as ``scheme://host:port``: never its user name or password (for logs, errors and reprs)."""
    parts = urlsplit(proxy)
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme.lower()}://{host}" + (f":{port}" if port is not None else "")


def require_socks(proxy: str) -> None:
    """Raise :class:`~tiktok_live.errors.MissingExtraError` when ``proxy`` is a SOCKS proxy and aiohttp-socks is
    not installed; check a SOCKS URL's port (SOCKS has no default port)."""
    if not is_socks(proxy):
        return
    try:
        import aiohttp_socks  # noqa: F401
    except ImportError as error:
        raise MissingExtraError(
            f"the proxy {proxy_label(proxy)} is a SOCKS proxy, which needs aiohttp-socks: {SOCKS_EXTRA}",
            extra="socks",
        ) from error
    try:
        port = urlsplit(proxy).port
    except ValueError:
        port = None
    if port is None:
        raise ValueError(f"proxy {proxy_label(proxy)} needs a port (e.g. socks5://host:1080)")


def new_session(proxy: str | None, *, timeout: float, limit: int = 100) -> aiohttp.ClientSession:
    """A session for a client or a pool: ``timeout`` seconds per request, at most ``limit`` connections (0: no
    limit), no cookie jar (the client sends exactly the cookies it chose: a jar would merge whatever TikTok sets,
    session cookies included, into the WebSocket request and across rooms), and for a SOCKS ``proxy`` a connector
    that goes through it."""
    if is_socks(proxy):
        from tiktok_live._socks import socks_connector

        connector: aiohttp.BaseConnector = socks_connector(proxy or "", limit=limit)
    else:
        connector = aiohttp.TCPConnector(limit=limit)
    return aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=timeout), cookie_jar=aiohttp.DummyCookieJar()
    )


def check_session(session: aiohttp.ClientSession, proxy: str | None) -> None:
    """ValueError when a session given by the caller cannot honour a SOCKS ``proxy``: the proxy must be its
    connector's (an aiohttp-socks ``ProxyConnector``), since a request cannot add a SOCKS proxy by itself.
    Sending without the proxy instead would reveal this machine's address."""
    if not is_socks(proxy):
        return
    from aiohttp_socks import ProxyConnector

    if not isinstance(session.connector, ProxyConnector):
        raise ValueError(
            f"a SOCKS proxy ({proxy_label(proxy or '')}) cannot be added to a session you pass: leave session= out "
            "(the client makes one that uses the proxy), or build your session with "
            "aiohttp_socks.ProxyConnector.from_url(...) yourself"
        )


class HttpSession:
    """A client's aiohttp session: the one given (checked against ``proxy``, never closed here), else one made on
    first use through ``proxy`` and closed once neither a connection nor a lookup needs it. Calling the object
    returns the session (making it if needed): the lookup, the sign client and the connection all share one."""

    def __init__(self, session: aiohttp.ClientSession | None, proxy: str | None, *, timeout: float) -> None:
        if session is not None:
            check_session(session, proxy)
        self.session = session
        """The session now: the given one, the one we made, or None (none made yet, or closed again)."""
        self.owned = session is None
        """Whether we make (and close) the session ourselves."""
        self.active = False
        """True from a connect's start to its disconnect: the session is then the connection's, not a lookup's."""
        self._proxy = proxy
        self._timeout = timeout
        self._lookups = 0

    def __call__(self) -> aiohttp.ClientSession:
        if self.session is None:
            self.session = new_session(self._proxy, timeout=self._timeout)
        return self.session

    @contextlib.asynccontextmanager
    async def lookup(self) -> AsyncIterator[None]:
        """Around a lookup: a session we make for it is closed after it unless a connection uses it."""
        self._lookups += 1
        try:
            yield
        finally:
            self._lookups -= 1
            if not self._lookups and not self.active:
                await self.close()

    async def close(self) -> None:
        """Close the session if we made it (the next use makes a new one); a given session stays open."""
        if self.owned and self.session is not None:
            session, self.session = self.session, None
            await session.close()
