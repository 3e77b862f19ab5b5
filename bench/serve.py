"""The simulator process of rows 5-7: ``python -m bench.serve FRAMES --mode stream|loop|idle``.

Serves ``tiktok_live.testing.Simulator`` on 127.0.0.1 (a free port) with the corpus as its script: one step per
corpus push frame, its messages as raw specs (payloads byte for byte), no delays. ``stream`` plays the corpus
(``--repeat`` times), then a LIVE-end control message (so the client stops instead of reconnecting); ``loop``
replays it forever on every connection; ``idle`` sends one frame and then nothing for an hour. Prints
``READY <url> <user>``, serves until stdin closes, then prints one JSON line: violations, frames sent, acks and
heartbeats received.

``--rooms N`` serves N hosts (``bench.host1`` …, comma-separated in the READY line), each playing the corpus;
``--delay S`` spaces the steps (a corpus frame carries 4.4 messages on average: 0.44 s is about 10 messages a
second per room).

At full speed (no ``--delay``) the simulator renders every frame before READY (``Simulator(prerender=True)``:
sending a frame then costs the send alone, so the client, not the simulator, sets the pace); paced steps are
rendered as they are sent (a server at 10 messages a second per room keeps up, and N hosts' frames held in
memory would not pay). ``--no-prerender`` renders every frame as it is sent, for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import logging
import re
import sys
import zlib
from pathlib import Path

from bench._frames import read_frames
from tiktok_live._generated.pb import transport_pb2, webcast_pb2
from tiktok_live.testing import Scenario, Simulator, Step, end, raw

USER = "bench.host"


def corpus_steps(frames: list[bytes]) -> list[Step]:
    """One step per push frame: its fetch result's messages as raw specs, no delay."""
    steps = []
    for data in frames:
        frame = transport_pb2.PushFrame.FromString(data)
        result = webcast_pb2.ProtoMessageFetchResult.FromString(zlib.decompress(frame.payload, 16 + zlib.MAX_WBITS))
        steps.append(Step(tuple(raw(message.method, message.payload) for message in result.messages)))
    return steps


async def serve(args: argparse.Namespace) -> dict[str, object]:
    steps = corpus_steps(read_frames(args.frames))
    if args.mode == "idle":
        steps = [steps[0], Step(steps[1].messages, delay=3600.0)]
    elif args.mode == "stream":
        steps = steps * args.repeat
        steps.append(Step((end(),)))  # the client stops at the end of the LIVE (a bare close makes it reconnect)
    if args.delay:
        steps = [Step(step.messages, args.delay) for step in steps]
    users = [f"{USER}{number}" for number in range(1, args.rooms + 1)] if args.rooms else None
    simulator = Simulator(
        USER,
        port=0,
        scenario=Scenario("bench", tuple(steps)),
        loop=args.mode == "loop",
        ping_interval=args.ping_interval,
        max_records=10_000_000 if users is None else 100_000,
        users=users,
        prerender=not args.delay and not args.no_prerender,
    )
    loop = asyncio.get_running_loop()
    async with simulator:
        sys.stdout.write(f"READY {simulator.url} {','.join(users) if users else USER}\n")
        sys.stdout.flush()
        await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin
    hosts = list(simulator.hosts.values())
    return {
        "mode": args.mode,
        "rooms": len(hosts),
        "connections": sum(host.connections for host in hosts),
        "frames_sent": sum(host.frames_sent for host in hosts),
        "acks": sum(len(host.acks) for host in hosts),
        "heartbeats": sum(len(host.heartbeats) for host in hosts),
        "sign_requests": len(simulator.sign_requests),
        "violations": len(simulator.violations),
        "violation_samples": simulator.violations[:5],
        "violation_kinds": dict(collections.Counter(_kind(text) for text in simulator.violations)),
    }


def _kind(violation: str) -> str:
    """A violation without its numbers and connection, for counting kinds."""
    return re.sub(r"[0-9.]+", "#", violation.split("] ", 1)[-1])


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.serve")
    parser.add_argument("frames", type=Path)
    parser.add_argument("--mode", choices=("stream", "loop", "idle"), default="stream")
    parser.add_argument("--repeat", type=int, default=1, help="stream: play the corpus this many times")
    parser.add_argument("--ping-interval", type=float, default=2.0, help="heartbeat period announced (s)")
    parser.add_argument("--rooms", type=int, default=0, help="serve this many hosts (0: one, @bench.host)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds between steps (0: none)")
    parser.add_argument("--no-prerender", action="store_true", help="render each frame as it is sent")
    args = parser.parse_args()
    # Violations are counted in the summary; a client that disconnects mid-stream leaves in-flight frames unacked.
    logging.getLogger("tiktok_live.testing").setLevel(logging.ERROR)
    summary = asyncio.run(serve(args))
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
