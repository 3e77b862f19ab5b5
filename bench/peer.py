"""Row 4: TikTokLive 7.0.1 on the bench corpus, run as ``python -m bench.peer FRAMES`` in ``.venv-bench-peer``.

USES TIKTOKLIVE'S INTERNALS (it has no network-free entry point). Per WebSocket message it does what its
connection loop does (``WebcastWSConnect.__aiter__`` + ``WebcastWSClient.connect`` + ``TikTokLiveClient.
_ws_client_loop`` in 7.0.1): ``WebcastPushFrame().parse(bytes)``, skip non-``msg`` frames,
``extract_webcast_response_message`` (gunzip + ``ProtoMessageFetchResult().parse``), ``send_ack`` (returns at
once: no socket), then ``async for event in client._parse_webcast_response(result)``: ``client.emit(...)``.
Handlers: a sync no-op on CommentEvent and one on GiftEvent. Prints one JSON object on stdout.

Stdlib + TikTokLive only: this module must not import tiktok_live.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench._frames import read_frames, rss_kib


def _noop(event: object) -> None:
    pass


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.peer")
    parser.add_argument("frames", type=Path)
    parser.add_argument("--messages", type=int, required=True, help="messages in the corpus (for the rates)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup-frames", type=int, default=300)
    args = parser.parse_args()

    started = time.perf_counter()
    from TikTokLive import TikTokLiveClient
    from TikTokLive.__version__ import PACKAGE_VERSION
    from TikTokLive.client.ws.ws_utils import extract_webcast_response_message
    from TikTokLive.events import CommentEvent, GiftEvent
    from TikTokLive.proto import WebcastPushFrame

    import_s = time.perf_counter() - started
    frames = read_frames(args.frames)
    quiet = logging.getLogger("bench.peer")
    quiet.disabled = True
    counts = {"comment": 0, "gift": 0, "events": 0}

    def make_client() -> Any:
        client = TikTokLiveClient(unique_id="bench")
        client.add_listener(CommentEvent, _noop)
        client.add_listener(GiftEvent, _noop)
        client._room_id = 1  # ConnectEvent needs it (only for is_first results; ours have none)
        return client

    async def feed(client: Any, batch: list[bytes]) -> int:
        ws = client._ws
        emit = client.emit
        log = client._logger
        emitted = 0
        for data in batch:
            push_frame = WebcastPushFrame().parse(data)
            if push_frame.payload_type != "msg":
                continue
            response = extract_webcast_response_message(push_frame, logger=quiet)
            if response.need_ack:
                await ws.send_ack(webcast_response=response, webcast_push_frame=push_frame)
            async for event in client._parse_webcast_response(response):
                log.debug(f"Received Event '{event.get_type()}' [{event.size} bytes]")  # as its loop does
                emit(event.get_type(), event)
                emitted += 1
        return emitted

    def run(batch: list[bytes]) -> tuple[int, int]:
        client = make_client()
        loop = asyncio.new_event_loop()
        try:
            gc.collect()
            start = time.perf_counter_ns()
            emitted = loop.run_until_complete(feed(client, batch))
            return time.perf_counter_ns() - start, emitted
        finally:
            loop.close()

    run(frames[: args.warmup_frames])  # warm-up
    runs: list[int] = []
    emitted = 0
    for _ in range(args.repeats):
        elapsed, emitted = run(frames)
        runs.append(elapsed)
    counts["events"] = emitted
    median = statistics.median(runs)
    result = {
        "version": PACKAGE_VERSION,
        "uses_internals": True,
        "import_s": import_s,
        "messages": args.messages,
        "runs_ns": runs,
        "median_ns": median,
        "us_per_msg": median / 1e3 / args.messages,
        "msg_per_s": args.messages / (median / 1e9),
        "spread": (max(runs) - min(runs)) / median,
        "events_emitted": emitted,
        "rss_kib": rss_kib()[0],
        "python": sys.version.split()[0],
    }
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
