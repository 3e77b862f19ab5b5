"""HTTP helpers shared by the room lookup, the sign client and the pool: one GET with bounded bodies and no
redirects to other origins, secret-free error text, and tolerant readers for TikTok's JSON."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

__all__ = [
    "Answer",
    "BodyTooLargeError",
    "ClientFailure",
    "CrossOriginRedirectError",
    "FetchError",
    "RedirectError",
    "browser_params",
    "get",
    "get_path",
    "host_of",
    "json_object",
    "message_of",
    "number",
    "redact",
    "safe_error",
    "scrub",
    "to_int",
]

MAX_REDIRECTS: Final = 5
_MAX_DIGITS: Final = 40
_SECRET_PARAMS: Final = re.compile(
    r"((?:session_?id|sessionid_ss|sid_tt|sid_guard|api_?key|x-api-key|apikey|token|password|secret|signature"
    r"|x-bogus|msToken|_signature|auth)=)[^&\s'\"]*",
    re.IGNORECASE,
)
_MIN_SECRET: Final = 4
"""Shorter "secrets" are not blanked from texts: they would blank ordinary words."""
_USERINFO: Final = re.compile(r"(\w+://)[^/@\s]*@")


def redact(text: str) -> str:
    """``text`` without URL credentials (``user:password@``) and without the values of secret query parameters
    (session ids, keys, tokens, signatures)."""
    return _SECRET_PARAMS.sub(r"\1***", _USERINFO.sub(r"\1***@", text))


def safe_error(error: BaseException) -> str:
    """An error's text, redacted (see :func:`redact`), or its class name when it has none."""
    return redact(str(error)) or type(error).__name__


class ClientFailure(aiohttp.ClientError):
    """An aiohttp error that named the request's URL (``ClientResponseError``, ``InvalidURL``): the same failure
    with its text redacted and nothing attached. aiohttp's original carries the URL, query included (a session id,
    a signature), and the request headers (the API key); chained as a cause it would print them in any traceback."""

    def __init__(self, error: BaseException) -> None:
        self.kind = type(error).__name__
        """The class name of the aiohttp error this stands for."""
        self.status: int | None = getattr(error, "status", None) or None
        """Its HTTP status, when it had one."""
        super().__init__(f"{self.kind}: {safe_error(error)}")


def scrub(error: BaseException) -> BaseException:
    """``error`` fit to be chained as a cause: a :class:`ClientFailure` for aiohttp errors that carry the request
    (URL and headers), else ``error`` itself."""
    if isinstance(error, aiohttp.ClientResponseError | aiohttp.InvalidURL):
        return ClientFailure(error)
    return error


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer read to the end (at most the size limit): status, headers and body."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes


class FetchError(Exception):
    """A request :func:`get` refused to complete (callers turn it into their typed error)."""


class BodyTooLargeError(FetchError):
    """An answer's body exceeded the limit."""


class RedirectError(FetchError):
    """Too many redirects, or a redirect to a location that is not a URL."""


class CrossOriginRedirectError(FetchError):
    """A redirect pointed to another origin, where headers we send (keys, cookies) must not go."""

    def __init__(self, origin: str, target: str) -> None:
        self.origin = origin
        self.target = target
        super().__init__(
            f"redirect from {origin} to another origin ({target}), not followed: the request's cookies and keys "
            "must not reach another host"
        )


async def get(
    session: aiohttp.ClientSession,
    url: str,
    *,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    cookies: Mapping[str, str] | None = None,
    proxy: str | None = None,
    max_body: int,
    time_limit: aiohttp.ClientTimeout | None = None,
    follow_redirects: bool = True,
) -> Answer:
    """GET ``url`` and read at most ``max_body`` bytes of the answer.

    Redirects are followed by hand, and only within the URL's origin (scheme, host, port): headers such as
    ``X-Api-Key`` and cookies must never reach another host (aiohttp strips only ``Authorization``). With
    ``follow_redirects=False`` a redirect is returned as the answer. ``time_limit`` overrides the session's
    timeout. Raises a :class:`FetchError`, ``aiohttp.ClientError`` (never one that carries the request: see
    :func:`scrub`) or ``TimeoutError``.
    """
    origin = _origin(url)
    target = url
    query = params
    for _ in range(MAX_REDIRECTS + 1):
        request = session.get(
            target,
            params=query,
            headers=headers,
            cookies=cookies,
            proxy=proxy,
            allow_redirects=False,
            timeout=time_limit if time_limit is not None else session.timeout,
        )
        try:
            async with request as response:
                location = response.headers.get("Location") if 300 <= response.status < 400 else None
                if location is None or not follow_redirects:
                    body = await _read(response, max_body)
                    return Answer(response.status, response.headers, body)
                following = _join(response.url, location)
        except (aiohttp.ClientResponseError, aiohttp.InvalidURL) as error:
            raise ClientFailure(error) from None
        if _origin(following) != origin:
            raise CrossOriginRedirectError(_origin(url, port=False), _origin(following, port=False))
        target, query = following, None
    raise RedirectError(f"more than {MAX_REDIRECTS} redirects")


def _join(base: URL, location: str) -> str:
    try:
        return str(base.join(URL(location)))
    except ValueError as error:  # yarl: e.g. "http://[bad", a port out of range
        raise RedirectError(f"a redirect to a location that is not a URL ({error})") from None


async def _read(response: aiohttp.ClientResponse, limit: int) -> bytes:
    declared = response.content_length
    if declared is not None and declared > limit:
        raise BodyTooLargeError(
            f"the answer is {declared} bytes, over the limit of {limit} (max_body_size); refused unread"
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(f"the answer is over the limit of {limit} bytes (max_body_size); reading stopped")
        chunks.append(chunk)
    return b"".join(chunks)


def _origin(url: str, *, port: bool = True) -> str:
    parts = urlsplit(url)
    try:
        number = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower(), 0)
    except ValueError:  # an out-of-range port
        number = -1
    shown = f":{number}" if port or parts.port else ""
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}{shown}"


def host_of(url: str) -> str:
    """The host (and port, if any) of ``url``, without credentials."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{host}:{parts.port}" if parts.port else host


def browser_params(user_agent: str) -> dict[str, str]:
    """The browser fingerprint both TikTok's HTTP requests and the WebSocket URL carry (from the user agent)."""
    browser_name, _, browser_version = user_agent.partition("/")
    return {
        "aid": "1988",
        "app_language": "en",
        "app_name": "tiktok_web",
        "browser_language": "en-US",
        "browser_name": browser_name,
        "browser_online": "true",
        "browser_platform": "Win32",
        "browser_version": browser_version,
        "cookie_enabled": "true",
    }


def json_object(text: str | bytes) -> dict[str, object] | None:
    """``text`` parsed as a JSON object; None when it is not JSON (``NaN`` and ``Infinity`` included), not an
    object, or nested so deep that parsing it would exhaust the recursion limit."""
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    return data if isinstance(data, dict) else None


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def get_path(data: object, *path: str) -> object:
    """``data[path[0]][path[1]]…``, or None where a step is missing or not an object."""
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def to_int(value: object, *, maximum: int = 2**63 - 1) -> int:
    """A non-negative id or count from TikTok's JSON (a number or a decimal string); 0 for anything else — other
    digits (``"²"``), absurd lengths, negative numbers and values above ``maximum`` included."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value if 0 <= value <= maximum else 0
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and 0 <= value <= maximum else 0
    if isinstance(value, str):
        text = value.strip()
        if 0 < len(text) <= _MAX_DIGITS and text.isascii() and text.isdigit():
            number = int(text)
            return number if number <= maximum else 0
    return 0


def number(value: object, *, maximum: float = math.inf) -> float | None:
    """A finite, non-negative number from a header or JSON value, at most ``maximum``; None for anything else
    (``nan``, ``inf``, negative values, 5,000-digit strings)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > _MAX_DIGITS:
            return None
        try:
            result = float(text)
        except ValueError:
            return None
    elif isinstance(value, int | float):
        try:
            result = float(value)
        except OverflowError:
            return None
    else:
        return None
    if not math.isfinite(result) or result < 0 or result > maximum:
        return None
    return result


def message_of(body: bytes, secrets: Iterable[str | None] = ()) -> str:
    """A short, redacted description of an error answer: its JSON ``message``/``error``, else its first bytes.

    ``secrets`` (the API key, the session id) are blanked wherever they appear: a server may echo what it was sent
    ("invalid key KEY…"), and this text ends up in errors and logs."""
    data = json_object(body)
    text = (
        body[:200].decode("utf-8", "replace") if data is None else str(data.get("message") or data.get("error") or data)
    )
    text = redact(text[:200])
    for secret in secrets:
        if secret and len(secret) >= _MIN_SECRET:
            text = text.replace(secret, "***")
    return text
