"""A small SOCKS proxy for the tests (SOCKS5 with or without RFC 1929 user/password auth, and SOCKS4/4a) on
loopback. It counts connections, records where each tunnel went and the HTTP request lines that went through it,
so a test can prove that HTTP requests and the WebSocket took the proxy."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import socket
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

_REQUEST_LINE = re.compile(rb"(?:GET|POST|HEAD|PUT|DELETE|CONNECT) \S+ HTTP/1\.[01]")


@dataclass
class SocksProxy:
    """What the proxy saw. ``url`` is ``socks5://[user:password@]127.0.0.1:port`` (or ``socks4://``)."""

    url: str = ""
    port: int = 0
    connections: int = 0
    """TCP connections accepted (one per tunnel)."""
    tunnels: list[tuple[str, int]] = field(default_factory=list)
    """Destinations of successful CONNECTs, as the client named them (host name or address, port)."""
    names: list[str] = field(default_factory=list)
    """Destinations given as host names (SOCKS5 ATYP 3 / SOCKS4a): the proxy resolved them."""
    requests: list[str] = field(default_factory=list)
    """HTTP request lines sent through the tunnels (``GET /path HTTP/1.1``)."""
    auth_failures: int = 0
    """Handshakes refused for wrong or missing credentials."""


@contextlib.asynccontextmanager
async def socks_proxy(
    *, version: int = 5, username: str | None = None, password: str | None = None, scheme: str | None = None
) -> AsyncIterator[SocksProxy]:
    """Serve a SOCKS proxy on 127.0.0.1 (a free port) for the duration of the block."""
    state = SocksProxy()
    writers: set[asyncio.StreamWriter] = set()

    async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter, sniff: bool) -> None:
        try:
            while data := await source.read(65536):
                if sniff:
                    state.requests.extend(line.decode() for line in _REQUEST_LINE.findall(data))
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                sink.close()

    async def handshake5(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> tuple[str, int] | None:
        (count,) = await reader.readexactly(1)
        methods = await reader.readexactly(count)
        wanted = 0x02 if username is not None else 0x00
        if wanted not in methods:
            writer.write(b"\x05\xff")
            state.auth_failures += 1
            return None
        writer.write(bytes([5, wanted]))
        if wanted == 0x02:
            _, size = await reader.readexactly(2)
            user = (await reader.readexactly(size)).decode()
            (size,) = await reader.readexactly(1)
            secret = (await reader.readexactly(size)).decode()
            if (user, secret) != (username, password):
                writer.write(b"\x01\x01")
                state.auth_failures += 1
                return None
            writer.write(b"\x01\x00")
        _, command, _, kind = await reader.readexactly(4)
        if kind == 1:
            host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
        elif kind == 4:
            host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
        else:
            (size,) = await reader.readexactly(1)
            host = (await reader.readexactly(size)).decode()
            state.names.append(host)
        (port,) = struct.unpack("!H", await reader.readexactly(2))
        if command != 1:
            writer.write(b"\x05\x07\x00\x01" + bytes(6))  # command not supported
            return None
        return host, port

    async def handshake4(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> tuple[str, int] | None:
        command, port, address = struct.unpack("!BH4s", await reader.readexactly(7))
        user = (await reader.readuntil(b"\x00"))[:-1].decode()
        host = str(ipaddress.IPv4Address(address))
        if address.startswith(b"\x00\x00\x00") and address != bytes(4):  # SOCKS4a: a host name follows
            host = (await reader.readuntil(b"\x00"))[:-1].decode()
            state.names.append(host)
        if command != 1 or (username is not None and user != username):
            state.auth_failures += username is not None and user != username
            writer.write(b"\x00\x5b" + bytes(6))
            return None
        return host, port

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.add(writer)
        state.connections += 1
        try:
            (first,) = await reader.readexactly(1)
            target = await (handshake5 if first == 5 else handshake4)(reader, writer)
            if target is None:
                await writer.drain()
                return
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection(*target)
            except OSError:
                writer.write(b"\x05\x05\x00\x01" + bytes(6) if first == 5 else b"\x00\x5b" + bytes(6))
                await writer.drain()
                return
            writers.add(upstream_writer)
            state.tunnels.append(target)
            bound = upstream_writer.get_extra_info("sockname") or ("0.0.0.0", 0)
            if first == 5:
                family = upstream_writer.get_extra_info("socket").family
                kind, packed = (
                    (4, socket.inet_pton(socket.AF_INET6, bound[0]))
                    if family == socket.AF_INET6
                    else (
                        1,
                        socket.inet_pton(socket.AF_INET, bound[0]),
                    )
                )
                writer.write(bytes([5, 0, 0, kind]) + packed + struct.pack("!H", bound[1]))
            else:
                writer.write(b"\x00\x5a" + bytes(6))
            await writer.drain()
            await asyncio.gather(pump(reader, upstream_writer, True), pump(upstream_reader, writer, False))
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, OSError, ValueError):
            pass
        finally:
            with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    credentials = f"{username}:{password}@" if username is not None and password is not None else ""
    if username is not None and password is None:
        credentials = f"{username}@"
    state.url = f"{scheme or f'socks{version}'}://{credentials}127.0.0.1:{state.port}"
    try:
        yield state
    finally:
        server.close()
        for writer in list(writers):
            with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                writer.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 2.0)
