"""The SOCKS connector (the ``socks`` extra: aiohttp-socks). Imported only when a SOCKS proxy is used.

aiohttp-socks raises its own exception classes, which are not aiohttp's: every caller that catches
``aiohttp.ClientError`` would let them through untyped, and their text never says which proxy failed. This
connector turns them into :class:`aiohttp.ClientProxyConnectionError` naming the proxy (without credentials).
"""

from __future__ import annotations

import asyncio
import errno
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp
import python_socks
from aiohttp.client_proto import ResponseHandler
from aiohttp_socks import ProxyConnectionError, ProxyConnector, ProxyError, ProxyTimeoutError, ProxyType

from tiktok_live._proxy import proxy_label

__all__ = ["SocksConnector", "socks_connector"]

_TYPES = {"socks4": ProxyType.SOCKS4, "socks5": ProxyType.SOCKS5, "socks5h": ProxyType.SOCKS5}


class SocksConnector(ProxyConnector):
    """An aiohttp-socks connector whose failures are aiohttp errors that name the proxy (``label``)."""

    def __init__(self, label: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.label = label

    async def _wrap_create_connection(self, *args: Any, **kwargs: Any) -> tuple[asyncio.Transport, ResponseHandler]:
        try:
            return await super()._wrap_create_connection(*args, **kwargs)
        except (
            ProxyError,
            ProxyConnectionError,
            ProxyTimeoutError,
            python_socks.ProxyTimeoutError,
            python_socks.ProxyError,
            python_socks.ProxyConnectionError,
        ) as error:
            failure = "timed out" if isinstance(error, ProxyTimeoutError | python_socks.ProxyTimeoutError) else "failed"
            text = f"SOCKS proxy {self.label} {failure}: {error}"
            request = kwargs.get("req")
            if isinstance(request, aiohttp.ClientRequest):
                raise aiohttp.ClientProxyConnectionError(
                    request.connection_key, OSError(errno.ECONNREFUSED, text)
                ) from error
            raise aiohttp.ClientConnectionError(text) from error


def socks_connector(proxy: str, *, limit: int) -> SocksConnector:
    """A connector that opens every connection through the SOCKS ``proxy`` (``socks4://``, ``socks5://``: names
    resolved here; ``socks5h://``: names resolved by the proxy), with at most ``limit`` connections (0: no
    limit)."""
    parts = urlsplit(proxy)
    scheme = parts.scheme.lower()
    return SocksConnector(
        proxy_label(proxy),
        host=parts.hostname or "",
        port=parts.port or 1080,
        proxy_type=_TYPES[scheme],
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        rdns=scheme == "socks5h",
        limit=limit,
    )
