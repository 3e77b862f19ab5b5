"""Proxies: HTTP(S) and SOCKS (4, 5, 5h) for every request and the WebSocket, through a real SOCKS proxy on
loopback (tests/socks_proxy.py); bad schemes, the missing extra, and credentials that never show."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shutil
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.socks_proxy import SocksProxy, socks_proxy
from tiktok_live import ClientConfig, MissingExtraError, ReconnectPolicy, RequestError, TikTokLiveClient
from tiktok_live._proxy import proxy_label, request_proxy
from tiktok_live.events import CommentEvent
from tiktok_live.testing import Simulator, comment, end
from tiktok_live.testing._server import WS_PATH

TIMEOUT = 20.0
FAST = ReconnectPolicy(base_delay=0.01, max_delay=0.05, max_attempts=2)
SECRET = "pa55-w0rd-s3cret"


def _sim() -> Simulator:
    return Simulator(ping_interval=0.05, ack_grace=0.5, enter_room_timeout=1.0)


async def _watch(
    sim: Simulator, proxy: str, session: aiohttp.ClientSession | None = None, **options: object
) -> list[str]:
    sim.script(comment("a", "via socks"), end())
    client = sim.client(proxy=proxy, session=session, **options)  # type: ignore[arg-type]
    texts: list[str] = []
    client.add_listener(CommentEvent, lambda event: texts.append(event.comment))
    await asyncio.wait_for(client.connect(), TIMEOUT)
    return texts


def _assert_everything_went_through(proxy: SocksProxy, sim: Simulator) -> None:
    assert proxy.tunnels and all(port == sim.port for _, port in proxy.tunnels), proxy.tunnels
    paths = [line.split(" ")[1] for line in proxy.requests]
    assert "/@simulator/live" in paths, paths  # the live page (HTTP)
    assert any(path.startswith("/webcast/fetch") for path in paths), paths  # the sign server (HTTP)
    assert any(path.startswith(WS_PATH) for path in paths), paths  # the WebSocket upgrade


async def test_a_socks5_proxy_carries_http_and_the_websocket() -> None:
    async with socks_proxy() as proxy, _sim() as sim:
        assert await _watch(sim, proxy.url) == ["via socks"]
        _assert_everything_went_through(proxy, sim)
    assert proxy.connections >= 1  # keep-alive: the WebSocket may reuse the HTTP connection
    assert proxy.names == []  # socks5://: names resolved here (the simulator is an address anyway)


async def test_a_socks5_proxy_with_a_password(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with socks_proxy(username="alice", password=SECRET) as proxy, _sim() as sim:
        assert await _watch(sim, proxy.url) == ["via socks"]
        _assert_everything_went_through(proxy, sim)
        assert proxy.auth_failures == 0
        client = sim.client(proxy=proxy.url)
        assert SECRET not in repr(client) + repr(client.config)
    assert SECRET not in caplog.text


async def test_wrong_socks_credentials_are_a_typed_error_naming_the_proxy_not_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with socks_proxy(username="alice", password=SECRET) as proxy, _sim() as sim:
        wrong = proxy.url.replace(SECRET, "not-" + SECRET)
        client = sim.client(proxy=wrong, reconnect=FAST)
        with pytest.raises(RequestError) as raised:
            await asyncio.wait_for(client.connect(), TIMEOUT)
    assert proxy.auth_failures >= 1
    text = str(raised.value)
    assert f"SOCKS proxy socks5://127.0.0.1:{proxy.port}" in text
    assert SECRET not in text and "alice" not in text
    assert SECRET not in caplog.text


async def test_an_unreachable_socks_proxy_is_a_retryable_request_error() -> None:
    async with _sim() as sim:
        client = sim.client(proxy="socks5://127.0.0.1:9", reconnect=FAST)
        with pytest.raises(RequestError) as raised:
            await asyncio.wait_for(client.connect(), TIMEOUT)
    assert raised.value.retryable and raised.value.status is None
    assert "SOCKS proxy socks5://127.0.0.1:9" in str(raised.value)


async def test_socks5h_lets_the_proxy_resolve_names_and_socks5_does_not() -> None:
    async with socks_proxy(scheme="socks5h") as remote, socks_proxy() as local, _sim() as sim:
        by_name = f"http://localhost:{sim.port}"  # the page and APIs by name; the WebSocket URL has the address
        assert await _watch(sim, remote.url, web_url=by_name, webcast_url=by_name) == ["via socks"]
        assert "localhost" in remote.names
        assert await _watch(sim, local.url, web_url=by_name, webcast_url=by_name) == ["via socks"]
        assert local.names == []
        assert local.tunnels and all(host in ("127.0.0.1", "::1") for host, _ in local.tunnels), local.tunnels


async def test_a_socks4_proxy_works_too() -> None:
    async with socks_proxy(version=4) as proxy, _sim() as sim:
        assert proxy.url.startswith("socks4://")
        assert await _watch(sim, proxy.url) == ["via socks"]
        _assert_everything_went_through(proxy, sim)


async def test_socks_requests_name_no_per_request_proxy() -> None:
    assert ClientConfig(proxy="socks5://u:p@127.0.0.1:1080").request_proxy is None
    assert ClientConfig(proxy="http://127.0.0.1:8080").request_proxy == "http://127.0.0.1:8080"
    assert ClientConfig(proxy="HTTPS://127.0.0.1:8443").request_proxy == "HTTPS://127.0.0.1:8443"
    assert ClientConfig().request_proxy is None
    assert request_proxy("socks5h://127.0.0.1:1080") is None


@pytest.mark.parametrize("url", ["ftp://127.0.0.1:21", "socks6://127.0.0.1:1080", "127.0.0.1:8080", "http://"])
def test_other_schemes_are_a_value_error_at_construction(url: str) -> None:
    with pytest.raises(ValueError, match="proxy: expected a http:// or https:// or socks4://"):
        TikTokLiveClient("@someone", proxy=url)


def test_a_socks_proxy_needs_a_port() -> None:
    with pytest.raises(ValueError, match="needs a port"):
        ClientConfig(proxy="socks5://127.0.0.1")


def test_without_the_extra_a_socks_proxy_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aiohttp_socks", None)  # import aiohttp_socks -> ImportError
    with pytest.raises(MissingExtraError) as raised:
        TikTokLiveClient("@someone", proxy=f"socks5://bob:{SECRET}@127.0.0.1:1080")
    assert 'pip install "tiktok-live[socks]"' in str(raised.value)
    assert raised.value.extra == "socks" and isinstance(raised.value, ImportError)
    assert SECRET not in str(raised.value) and "bob" not in str(raised.value)
    TikTokLiveClient("@someone", proxy="http://127.0.0.1:8080")  # HTTP proxies need nothing more


async def test_a_given_session_must_carry_the_socks_proxy() -> None:
    from aiohttp_socks import ProxyConnector

    async with aiohttp.ClientSession() as plain:
        with pytest.raises(ValueError, match="cannot be added to a session you pass"):
            TikTokLiveClient("@someone", proxy="socks5://127.0.0.1:1080", session=plain)
    async with aiohttp.ClientSession(connector=ProxyConnector.from_url("socks5://127.0.0.1:1080")) as proxied:
        TikTokLiveClient("@someone", proxy="socks5://127.0.0.1:1080", session=proxied)


def test_proxy_labels_drop_credentials() -> None:
    assert proxy_label(f"socks5h://bob:{SECRET}@proxy.example:1080") == "socks5h://proxy.example:1080"
    assert proxy_label("HTTP://[::1]:3128") == "http://[::1]:3128"
    assert proxy_label("socks5://host:notaport") == "socks5://host"


# ── an HTTP proxy that tunnels TLS with CONNECT ─────────────────────────────────────────────────────────────


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A throwaway self-signed key and certificate for 127.0.0.1 (skips when openssl is missing)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: cannot make a test certificate")
    key, cert = folder / "key.pem", folder / "cert.pem"
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
    command += ["-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)]
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    return key, cert


@contextlib.asynccontextmanager
async def _tls_front(target_port: int, tmp_path: Path) -> AsyncIterator[tuple[int, ssl.SSLContext]]:
    """A TLS endpoint on loopback (a throwaway self-signed certificate for 127.0.0.1) that forwards to
    ``target_port`` in plain TCP; yields its port and a client context that trusts it."""
    key, cert = _certificate(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    client_context = ssl.create_default_context(cafile=str(cert))

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", target_port)
        await asyncio.gather(_pump(reader, upstream_writer), _pump(upstream_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_context)
    try:
        yield server.sockets[0].getsockname()[1], client_context
    finally:
        server.close()


async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter, seen: list[str] | None = None) -> None:
    with contextlib.suppress(ConnectionError, OSError, ssl.SSLError):
        while data := await source.read(65536):
            if seen is not None:
                seen.extend(m.decode() for m in re.findall(rb"(?:GET|POST) \S+ HTTP/1\.[01]", data))
            sink.write(data)
            await sink.drain()
    with contextlib.suppress(ConnectionError, OSError, RuntimeError, ssl.SSLError):
        sink.close()


@contextlib.asynccontextmanager
async def _http_proxy() -> AsyncIterator[tuple[str, list[str], list[str]]]:
    """An HTTP proxy: ``CONNECT host:port`` tunnels (recorded) and absolute-form requests (recorded)."""
    tunnels: list[str] = []
    forwarded: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, ValueError):
            head = await reader.readuntil(b"\r\n\r\n")
            line, _, rest = head.partition(b"\r\n")
            method, target, version = line.decode().split(" ")
            if method == "CONNECT":
                tunnels.append(target)
                host, _, port = target.rpartition(":")
                upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await writer.drain()
                await asyncio.gather(_pump(reader, upstream_writer), _pump(upstream_reader, writer))
                return
            forwarded.append(f"{method} {target}")
            authority, _, path = target.partition("://")[2].partition("/")
            host, _, port = authority.partition(":")
            upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port or 80))
            upstream_writer.write(f"{method} /{path} {version}\r\n".encode() + rest)
            await asyncio.gather(_pump(reader, upstream_writer, forwarded), _pump(upstream_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", tunnels, forwarded
    finally:
        server.close()


async def test_an_http_proxy_tunnels_tls_with_connect(tmp_path: Path) -> None:
    async with _sim() as sim, _tls_front(sim.port, tmp_path) as (tls_port, context), _http_proxy() as proxied:
        proxy, tunnels, forwarded = proxied
        origin = f"https://127.0.0.1:{tls_port}"  # pages, APIs and the sign server over TLS, as TikTok's are
        connector = aiohttp.TCPConnector(ssl=context)
        async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar()) as session:
            texts = await _watch(sim, proxy, web_url=origin, webcast_url=origin, sign_url=origin, session=session)
    assert texts == ["via socks"]
    assert tunnels and set(tunnels) == {f"127.0.0.1:{tls_port}"}  # every TLS request went through CONNECT
    assert any(WS_PATH in line for line in forwarded), forwarded  # the simulator's plain ws:// socket: absolute form
