"""Rows 1-3, in one process on one corpus: the upb limit, the protocol core, the client with every event
subscribed, and lazy.

Row 2s feeds each frame to ``tiktok_live.protocol.Session.receive(bytes)`` (public, I/O-free), every event class
wanted: push-frame parse, gunzip, fetch-result parse, ack built, dedupe by msg_id, decode, derived events. Rows 2
and 3 add what the client does with the result — its fan-out to handlers through pyee, ``client._deliver`` (the
one private call) — on the client's own session (``client.session``), exactly as its WebSocket reader does. Each
repetition uses a fresh session or client, so the dedupe window never turns a repetition into skipped duplicates.
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import io
import pstats
import statistics
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from tiktok_live import TikTokLiveClient
from tiktok_live._base import BaseEvent
from tiktok_live._derived import DERIVED
from tiktok_live._generated.pb import transport_pb2, webcast_pb2
from tiktok_live._generated.registry import REGISTRY
from tiktok_live.events import (
    CommentEvent,
    ConnectEvent,
    DisconnectEvent,
    ErrorEvent,
    ReconnectEvent,
    UnknownEvent,
    WebsocketResponseEvent,
)
from tiktok_live.protocol import Session

__all__ = [
    "Timing",
    "all_event_types",
    "drive",
    "drive_session",
    "fetch_results",
    "make_client",
    "profile_client",
    "run_rows",
]


@dataclass(frozen=True, slots=True)
class Timing:
    """Repetitions of one measurement over ``messages`` messages: wall nanoseconds per repetition."""

    messages: int
    runs_ns: tuple[int, ...]

    @property
    def median_ns(self) -> float:
        return statistics.median(self.runs_ns)

    @property
    def us_per_msg(self) -> float:
        return self.median_ns / 1e3 / self.messages

    @property
    def msg_per_s(self) -> float:
        return self.messages / (self.median_ns / 1e9)

    def as_dict(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "runs_ns": list(self.runs_ns),
            "median_ns": self.median_ns,
            "us_per_msg": self.us_per_msg,
            "msg_per_s": self.msg_per_s,
            "spread": (max(self.runs_ns) - min(self.runs_ns)) / self.median_ns,
        }


def fetch_results(frames: Iterable[bytes]) -> list[bytes]:
    """The decompressed fetch-result bytes of each ``msg`` frame (prepared outside any timing, for row 1)."""
    results = []
    for data in frames:
        frame = transport_pb2.PushFrame.FromString(data)
        results.append(zlib.decompress(frame.payload, 16 + zlib.MAX_WBITS))
    return results


_PROTOS: dict[str, type[Message]] = {method: event.PROTO for method, event in REGISTRY.items()}


def upb_limit(results: list[bytes]) -> int:
    """Row 1: parse each fetch result and each payload with its generated class, ListFields() on each; nothing
    else. Returns the number of fields touched (so nothing is optimised away)."""
    protos = _PROTOS
    fetch_result = webcast_pb2.ProtoMessageFetchResult
    touched = 0
    for data in results:
        result = fetch_result()
        result.ParseFromString(data)
        touched += len(result.ListFields())
        for message in result.messages:
            proto = protos.get(message.method)
            if proto is None:
                continue
            payload = proto()
            payload.ParseFromString(message.payload)
            touched += len(payload.ListFields())
    return touched


def upb_limit_from_frames(frames: list[bytes]) -> int:
    """Row 1 plus what any client must do first: parse the push frame and gunzip its payload."""
    protos = _PROTOS
    push_frame = transport_pb2.PushFrame
    fetch_result = webcast_pb2.ProtoMessageFetchResult
    touched = 0
    for data in frames:
        frame = push_frame()
        frame.ParseFromString(data)
        result = fetch_result()
        result.ParseFromString(zlib.decompress(frame.payload, 16 + zlib.MAX_WBITS))
        touched += len(result.ListFields())
        for message in result.messages:
            proto = protos.get(message.method)
            if proto is None:
                continue
            payload = proto()
            payload.ParseFromString(message.payload)
            touched += len(payload.ListFields())
    return touched


def all_event_types() -> list[type[BaseEvent]]:
    """Every event class a user can subscribe to: the registry's, the derived ones and the connection events."""
    types: dict[type[BaseEvent], None] = dict.fromkeys(REGISTRY.values())
    for derived in DERIVED.values():
        types.update(dict.fromkeys(derived))
    for extra in (UnknownEvent, WebsocketResponseEvent, ConnectEvent, DisconnectEvent, ReconnectEvent, ErrorEvent):
        types[extra] = None
    return list(types)


def _noop(event: BaseEvent) -> None:
    pass


def make_client(types: Iterable[type[BaseEvent]]) -> TikTokLiveClient:
    """A client with no socket (acks are built, not sent) and a sync no-op handler on each of ``types``."""
    client = TikTokLiveClient("bench")
    for event_type in types:
        client.add_listener(event_type, _noop)
    return client


def drive_session(session: Session, frames: list[bytes]) -> int:
    """Row 2s: ``session.receive`` on every frame; returns the number of events (so nothing is optimised away)."""
    receive = session.receive
    events = 0
    for data in frames:
        events += len(receive(data).events)
    return events


def drive(client: TikTokLiveClient, frames: list[bytes]) -> None:
    """Rows 2-3: each frame through the client's session and its fan-out (``client._deliver``, what the WebSocket
    reader calls for every frame), in one event loop (pyee schedules nothing for sync handlers)."""

    async def feed() -> None:
        receive = client.session.receive
        deliver = client._deliver
        for data in frames:
            deliver(data, receive(data))

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(feed())
    finally:
        loop.close()


def run_rows(frames: list[bytes], messages: int, repeats: int) -> dict[str, Any]:
    """Rows 1, 1+ (with frame parse and gunzip), 2 and 3 on ``frames``: a dict of timings and counters.

    The rows are interleaved (one pass of each per round, ``repeats`` rounds after a warm-up round), so noise from
    other processes lands on every row alike and the ratios hold; each row reports its median pass.
    """
    results = fetch_results(frames)
    everything = all_event_types()
    clients: dict[str, TikTokLiveClient] = {}

    def client_pass(key: str, types: list[type[BaseEvent]]) -> tuple[Callable[[], Any], Callable[[Any], object]]:
        def setup() -> TikTokLiveClient:
            clients[key] = make_client(types)
            return clients[key]

        return setup, lambda client: drive(client, frames)

    passes: dict[str, tuple[Callable[[], Any], Callable[[Any], object]]] = {
        "upb": (lambda: None, lambda _: upb_limit(results)),
        "upb_frames": (lambda: None, lambda _: upb_limit_from_frames(frames)),
        "session": (Session, lambda session: drive_session(session, frames)),
        "all": client_pass("all", everything),
        "lazy": client_pass("lazy", [CommentEvent]),
    }
    wall: dict[str, list[int]] = {key: [] for key in passes}
    cpu: dict[str, list[int]] = {key: [] for key in passes}
    for round_ in range(repeats + 1):
        for key, (setup, run) in passes.items():
            state = setup()
            gc.collect()
            cpu_start = time.process_time_ns()
            start = time.perf_counter_ns()
            run(state)
            elapsed = time.perf_counter_ns() - start
            if round_:  # round 0 warms up
                wall[key].append(elapsed)
                cpu[key].append(time.process_time_ns() - cpu_start)
    out: dict[str, Any] = {}
    for key in passes:
        out[key] = Timing(messages, tuple(wall[key])).as_dict()
        out[key]["cpu_runs_ns"] = cpu[key]
        out[key]["cpu_us_per_msg"] = statistics.median(cpu[key]) / 1e3 / messages
    for key, types in (("all", everything), ("lazy", [CommentEvent])):
        out[key]["decoded_messages"] = clients[key].decoded_messages
        out[key]["subscribed_types"] = len(types)
    return out


def profile_client(frames: list[bytes], lazy: bool, top: int = 18) -> str:
    """A cProfile of one pass of row 2 (or 3) over ``frames``: the top functions by own time."""
    client = make_client([CommentEvent] if lazy else all_event_types())
    profiler = cProfile.Profile()
    profiler.enable()
    drive(client, frames)
    profiler.disable()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(top)
    return text.getvalue()
