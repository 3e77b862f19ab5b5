"""The client process of rows 5-7: ``python -m bench.probe MODE --url URL --user USER``; prints one JSON line.

Modes (the simulator runs in another process, ``bench.serve``, so CPU time here is the client's alone):

- ``stream``: one client, a sync no-op handler on every event class, until the simulator ends the stream: messages,
  wall time and this process's CPU time (``time.process_time``) from ConnectEvent to the end;
- ``first``: ``import tiktok_live`` time, then ``connect()`` → ConnectEvent and → first CommentEvent/GiftEvent;
- ``idle``: RSS (VmRSS) at start, after ``import tiktok_live``, after loading the events (schema), and with one
  client connected and idle for a while;
- ``rooms``: N clients (every event class subscribed) on a looping simulator for T seconds: CPU per message and
  RSS over time (sampled), after a warm-up.

It imports tiktok_live only inside the modes, so the first RSS sample is the interpreter's.
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()

import argparse  # noqa: E402  # after _T0 on purpose
import asyncio  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402

from bench._frames import rss_kib  # noqa: E402


def _options(url: str) -> dict[str, Any]:
    return {"web_url": url, "webcast_url": url, "sign_url": url, "sign_api_key": None}


class _Counter:
    """Sync handlers that count messages (UnknownEvent) and note when events arrive."""

    def __init__(self) -> None:
        self.unknown = 0
        self.connected_at: float | None = None
        self.connected_cpu: float | None = None
        self.first_event_at: float | None = None
        self.first_event = asyncio.Event()

    def on_unknown(self, event: object) -> None:
        self.unknown += 1

    def on_connect(self, event: object) -> None:
        self.connected_at = time.perf_counter()
        self.connected_cpu = time.process_time()

    def on_first(self, event: object) -> None:
        if self.first_event_at is None:
            self.first_event_at = time.perf_counter()
            self.first_event.set()


def _noop(event: object) -> None:
    pass


def _subscribe_all(client: Any, counter: _Counter) -> int:
    from tiktok_live._derived import DERIVED
    from tiktok_live.events import (
        REGISTRY,
        ConnectEvent,
        DisconnectEvent,
        ErrorEvent,
        ReconnectEvent,
        UnknownEvent,
        WebsocketResponseEvent,
    )

    types = dict.fromkeys(REGISTRY.values())
    for derived in DERIVED.values():
        types.update(dict.fromkeys(derived))
    types.update(dict.fromkeys((WebsocketResponseEvent, DisconnectEvent, ReconnectEvent, ErrorEvent)))
    for event_type in types:
        client.add_listener(event_type, _noop)
    client.add_listener(UnknownEvent, counter.on_unknown)
    client.add_listener(ConnectEvent, counter.on_connect)
    return len(types) + 2


async def stream(args: argparse.Namespace) -> dict[str, Any]:
    from tiktok_live import TikTokLiveClient

    client = TikTokLiveClient(args.user, **_options(args.url))
    counter = _Counter()
    subscribed = _subscribe_all(client, counter)
    await client.connect()
    end_wall, end_cpu = time.perf_counter(), time.process_time()
    assert counter.connected_at is not None and counter.connected_cpu is not None
    messages = client.decoded_messages + counter.unknown
    wall = end_wall - counter.connected_at
    cpu = end_cpu - counter.connected_cpu
    return {
        "messages": messages,
        "subscribed_types": subscribed,
        "wall_s": wall,
        "cpu_s": cpu,
        "msg_per_s_wall": messages / wall,
        "cpu_us_per_msg": cpu / messages * 1e6,
        "msg_per_cpu_s": messages / cpu,
        "rss_kib": rss_kib()[0],
    }


async def first(args: argparse.Namespace) -> dict[str, Any]:
    start = time.perf_counter()
    import tiktok_live

    imported = time.perf_counter()
    from tiktok_live.events import CommentEvent, ConnectEvent, GiftEvent

    client = tiktok_live.TikTokLiveClient(args.user, **_options(args.url))
    counter = _Counter()
    client.add_listener(ConnectEvent, counter.on_connect)
    client.add_listener(CommentEvent, counter.on_first)
    client.add_listener(GiftEvent, counter.on_first)
    before_connect = time.perf_counter()
    await client.start()
    await asyncio.wait_for(counter.first_event.wait(), 30)
    await client.disconnect()
    assert counter.connected_at is not None and counter.first_event_at is not None
    return {
        "import_s": imported - start,
        "connect_to_connect_event_s": counter.connected_at - before_connect,
        "connect_to_first_event_s": counter.first_event_at - before_connect,
        "process_to_first_event_s": counter.first_event_at - _T0,
    }


async def idle(args: argparse.Namespace) -> dict[str, Any]:
    stages = {"interpreter": rss_kib()[0]}
    import tiktok_live

    stages["import_tiktok_live"] = rss_kib()[0]
    from tiktok_live.events import REGISTRY, CommentEvent

    assert CommentEvent in REGISTRY.values()
    stages["events_loaded"] = rss_kib()[0]
    client = tiktok_live.TikTokLiveClient(args.user, **_options(args.url))
    client.add_listener(CommentEvent, _noop)
    await client.start()
    await asyncio.sleep(args.seconds)
    gc.collect()
    stages["connected_idle"], peak = rss_kib()
    connected = client.connected
    await client.disconnect()
    return {"rss_kib": stages, "peak_kib": peak, "connected": connected, "dedupe_window_kib": _dedupe_kib()}


def _dedupe_kib() -> float:
    """What the client's msg_id dedupe window (OrderedDict of 10,000 ids) costs when full, via tracemalloc."""
    import tracemalloc
    from collections import OrderedDict

    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    window: OrderedDict[int, None] = OrderedDict()
    for index in range(10_000):
        window[7_413_000_000_000_000_000 + index * 977] = None
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    del window
    return used / 1024


async def _room_id(url: str, user: str) -> int:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/api-live/user/room/", params={"uniqueId": user}) as response:
            data = await response.json()
    return int(data["data"]["user"]["roomId"])


async def rooms(args: argparse.Namespace) -> dict[str, Any]:
    """N rooms: N plain clients, or (``--pool``) N rooms of one RoomPool with its shared session and limits.

    The simulator serves one host, so pooled rooms get distinct handles and the host's room id (``room_id=``
    skips the lookup that would not know them)."""
    from tiktok_live import TikTokLiveClient
    from tiktok_live.pool import RoomPool

    counters = [_Counter() for _ in range(args.rooms)]
    pool: RoomPool | None = None
    if args.pool:
        room_id = await _room_id(args.url, args.user)
        pool = RoomPool(max_connecting=32, **_options(args.url))
        clients = [pool.add(f"{args.user}.{index}", room_id=room_id).client for index in range(args.rooms)]
    else:
        clients = [TikTokLiveClient(args.user, **_options(args.url)) for _ in range(args.rooms)]
    for client, counter in zip(clients, counters, strict=True):
        _subscribe_all(client, counter)
    gc.collect()
    rss_before = rss_kib()[0]
    if pool is not None:
        await pool.start()
        deadline = time.perf_counter() + 30
        # Polling the pool's rooms (no event says "all connected"), bounded by the deadline.
        while sum(client.connected for client in clients) < args.rooms and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    else:
        await asyncio.gather(*(client.start() for client in clients))

    def received() -> int:
        return sum(client.decoded_messages + counter.unknown for client, counter in zip(clients, counters, strict=True))

    started = time.perf_counter()
    samples: list[tuple[float, int, int]] = []  # (seconds, rss KiB, messages)
    warm: tuple[float, float, int] | None = None
    while (elapsed := time.perf_counter() - started) < args.seconds:
        await asyncio.sleep(args.sample)
        samples.append((round(time.perf_counter() - started, 2), rss_kib()[0], received()))
        if warm is None and elapsed >= args.warmup:
            warm = (time.perf_counter(), time.process_time(), received())
    end_wall, end_cpu, end_messages = time.perf_counter(), time.process_time(), received()
    rss_end = rss_kib()[0]
    connected = sum(client.connected for client in clients)
    if pool is not None:
        await pool.close()
    else:
        await asyncio.gather(*(client.disconnect() for client in clients))
    assert warm is not None
    messages = end_messages - warm[2]
    cpu = end_cpu - warm[1]
    tail = [rss for seconds, rss, _ in samples if seconds >= args.warmup]
    return {
        "rooms": args.rooms,
        "pool": args.pool,
        "connected_at_end": connected,
        "seconds": args.seconds,
        "warmup_s": args.warmup,
        "messages": messages,
        "messages_total": end_messages,
        "messages_per_room": end_messages / args.rooms,
        "msg_per_s_wall": messages / (end_wall - warm[0]),
        "cpu_us_per_msg": cpu / messages * 1e6 if messages else None,
        "cpu_share": cpu / (end_wall - warm[0]),
        "rss_before_connect_kib": rss_before,
        "rss_end_kib": rss_end,
        "rss_after_warmup_median_kib": statistics.median(tail) if tail else None,
        "rss_samples": samples,
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.probe")
    parser.add_argument("mode", choices=("stream", "first", "idle", "rooms"))
    parser.add_argument("--url", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--rooms", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--sample", type=float, default=1.0)
    parser.add_argument("--pool", action="store_true", help="rooms: run them in one RoomPool")
    args = parser.parse_args()
    modes = {"stream": stream, "first": first, "idle": idle, "rooms": rooms}
    result = asyncio.run(modes[args.mode](args))
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
