"""``open_sink(url)``: the sink a URL names."""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Final, Unpack
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

from tiktok_live.export._sink import Sink, SinkOptions

__all__ = ["SINK_SCHEMES", "open_sink", "redact"]

SINK_SCHEMES: Final = ("redis", "rediss", "nats", "tls", "file")
"""URL schemes :func:`open_sink` knows; anything else with ``://`` is refused, anything without is a file path."""


def open_sink(url: str | os.PathLike[str], **options: Unpack[SinkOptions]) -> Sink:
    """The (not yet started) sink ``url`` names:

    - ``-``: JSON Lines on stdout; a file path or ``file:///path``: JSON Lines appended to the file;
    - ``redis://[user:password@]host:port/db?stream=tiktok-live[&maxlen=N]`` (or ``rediss://``): Redis Streams,
      one entry per event in one stream (:class:`~tiktok_live.export.RedisStreamSink`); other query keys that
      redis-py understands (``socket_timeout``, ...) pass through;
    - ``nats://[user:password@]host:port?subject=tiktok-live.events[&stream=NAME][&create=0]`` (or ``tls://``):
      NATS JetStream, one message per event on ``<subject>.<room_id>``
      (:class:`~tiktok_live.export.NatsStreamSink`).

    Every URL also takes ``buffer=N`` (records buffered while the server is down) and ``batch=N``; ``options``
    set the same and more (:class:`SinkOptions`), the URL winning. Raises ValueError for an unknown scheme or query
    key, a bad value, or a missing optional dependency (with the ``pip install`` line that adds it).
    """
    text = os.fspath(url)
    if text == "-":
        from tiktok_live.export._jsonl import JsonLinesSink

        return JsonLinesSink("-", **options)
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if "://" not in text:  # a path
        from tiktok_live.export._jsonl import JsonLinesSink

        return JsonLinesSink(Path(text), **options)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if "buffer" in query:
        options["max_buffer"] = _int("buffer", query.pop("buffer"))
    if "batch" in query:
        options["batch_size"] = _int("batch", query.pop("batch"))
    name = redact(parts)
    if scheme == "file":
        if query:
            raise ValueError(f"{name}: unknown query keys {sorted(query)}")
        from tiktok_live.export._jsonl import JsonLinesSink

        return JsonLinesSink(Path(parts.path), **options)
    if scheme in ("redis", "rediss"):
        return _redis(parts, query, name, options)
    if scheme in ("nats", "tls"):
        return _nats(parts, query, name, options)
    close = difflib.get_close_matches(scheme, SINK_SCHEMES, n=1)
    hint = f" (did you mean {close[0]}://?)" if close else ""
    raise ValueError(
        f"unsupported sink {scheme}://{hint}: use - (stdout), a file path, redis://host:port/db or nats://host:port"
    )


def _redis(parts: SplitResult, query: dict[str, str], name: str, options: SinkOptions) -> Sink:
    try:
        from redis.asyncio.connection import URL_QUERY_ARGUMENT_PARSERS
    except ImportError:
        raise ValueError(f"{name}: the Redis sink needs redis: pip install 'tiktok-live[redis]'") from None
    from tiktok_live.export._redis import DEFAULT_STREAM, RedisStreamSink

    stream = query.pop("stream", DEFAULT_STREAM)
    maxlen = _int("maxlen", query.pop("maxlen")) if "maxlen" in query else None
    unknown = sorted(set(query) - set(URL_QUERY_ARGUMENT_PARSERS))
    if unknown:
        raise ValueError(f"{name}: unknown query keys {unknown} (this sink takes stream, maxlen, buffer, batch)")
    redis_url = urlunsplit(parts._replace(query=urlencode(query)))
    return RedisStreamSink(redis_url, stream=stream, maxlen=maxlen, name=name, **options)


def _nats(parts: SplitResult, query: dict[str, str], name: str, options: SinkOptions) -> Sink:
    try:
        import nats  # noqa: F401 - only checks the optional dependency is there
    except ImportError:
        raise ValueError(f"{name}: the NATS sink needs nats-py: pip install 'tiktok-live[nats]'") from None
    from tiktok_live.export._nats import DEFAULT_NATS_STREAM, DEFAULT_SUBJECT, NatsStreamSink

    subject = query.pop("subject", DEFAULT_SUBJECT)
    stream = query.pop("stream", DEFAULT_NATS_STREAM)
    create = query.pop("create", "1").lower() not in ("0", "false", "no")
    if query:
        raise ValueError(f"{name}: unknown query keys {sorted(query)} (this sink takes subject, stream, create, ...)")
    server = urlunsplit(parts._replace(query="", fragment=""))
    return NatsStreamSink(server, subject=subject, stream=stream, create_stream=create, name=name, **options)


_SECRET_KEYS: Final = frozenset({"password", "pass", "token", "secret", "auth_token", "user_credentials"})


def redact(parts: SplitResult) -> str:
    """The URL without secrets (for logs and messages): a password becomes ``***``, a username-only userinfo (a
    NATS token) too, and so do the values of secret-looking query keys."""
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, has_password, _ = userinfo.partition(":")
        netloc = f"{user}:***@{hostport}" if has_password else f"***@{hostport}"
    query = urlencode(
        [(key, "***" if key.lower() in _SECRET_KEYS else value) for key, value in parse_qsl(parts.query, True)],
        safe="*",
    )
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _int(key: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{key}= takes a whole number, not {value!r}") from None
    if number < 1:
        raise ValueError(f"{key}= must be at least 1")
    return number
