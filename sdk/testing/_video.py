"""The simulator's video: the pull URLs its room info names, and a structurally valid FLV stream at each.

The FLV is what a CDN sends for a LIVE: the header (``FLV``, version 1, audio/video flags, header size 9), the
first previous-tag size (0), an ``onMetaData`` script tag, then one media tag per step of the LIVE, each followed
by its previous-tag size (11 + data size). The media is synthetic: a video tag (AVC NALU) on even steps and an
audio tag (AAC raw) on odd ones (audio only for quality ``ao``), 20 ms apart in the timeline, each payload starting
with ``SIM`` and the step's index (8 bytes, big-endian) so a test can tell which steps a file holds.

The LIVE's timeline is shared by every download: a new download starts at the live edge (the next step nobody has
been sent yet), as a real stream does. With ``tags`` set, the LIVE ends after that many steps: the room goes
offline and every download ends cleanly after a whole tag.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
from typing import TYPE_CHECKING, Final

from aiohttp import web

if TYPE_CHECKING:
    from tiktok_live.testing._server import Simulator

__all__ = ["FLV_QUALITIES", "LEGACY_QUALITIES", "VIDEO_PATH", "VideoFeed", "flv_header", "flv_tag", "media_tag"]

logger = logging.getLogger("tiktok_live.testing")

VIDEO_PATH: Final = "/stream/"
"""Where the simulator serves its FLV streams (``/stream/stream-<room>_<quality>.flv``)."""
FLV_QUALITIES: Final = ("origin", "uhd", "hd", "sd", "ld", "ao")
"""The qualities of ``stream_data`` (``live_core_sdk_data.pull_data.stream_data``), best first."""
LEGACY_QUALITIES: Final = {"FULL_HD1": "uhd", "HD1": "hd", "SD1": "sd", "SD2": "ld"}
"""The keys of ``flv_pull_url`` and the quality each names."""
_STEP_MS: Final = 20
_PATTERN: Final = bytes(range(256))
_TAG_HEADER: Final = 11
_SCRIPT: Final = 18
_VIDEO: Final = 9
_AUDIO: Final = 8


def flv_header(*, audio: bool = True, video: bool = True) -> bytes:
    """The 9-byte FLV header and the first previous-tag size (0)."""
    flags = (0x04 if audio else 0) | (0x01 if video else 0)
    return b"FLV" + bytes([1, flags]) + struct.pack(">I", 9) + struct.pack(">I", 0)


def flv_tag(kind: int, timestamp: int, data: bytes) -> bytes:
    """One FLV tag (``kind`` 8 audio, 9 video, 18 script data) and the previous-tag size that follows it."""
    size = len(data)
    header = (
        bytes([kind])
        + size.to_bytes(3, "big")
        + (timestamp & 0xFFFFFF).to_bytes(3, "big")
        + bytes([(timestamp >> 24) & 0xFF])
        + b"\x00\x00\x00"
    )
    return header + data + struct.pack(">I", 11 + size)


def _amf_string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack(">H", len(raw)) + raw


def _metadata(audio_only: bool) -> bytes:
    values = {"duration": 0.0, "audiocodecid": 10.0, "audiosamplerate": 44100.0}
    if not audio_only:
        values.update(width=1280.0, height=720.0, framerate=25.0, videocodecid=7.0)
    body = b"\x02" + _amf_string("onMetaData") + b"\x08" + struct.pack(">I", len(values))
    for key, number in values.items():
        body += _amf_string(key) + b"\x00" + struct.pack(">d", number)
    return flv_tag(_SCRIPT, 0, body + b"\x00\x00\x09")


def media_tag(step: int, size: int, *, audio_only: bool = False) -> bytes:
    """The media tag of step ``step`` of the LIVE, with a payload of ``size`` bytes (at least 16)."""
    video = not audio_only and step % 2 == 0
    prefix = bytes([0x17 if step % 50 == 0 else 0x27, 0x01, 0, 0, 0]) if video else bytes([0xAF, 0x01])
    marker = prefix + b"SIM" + step.to_bytes(8, "big")
    length = max(0, size - len(marker))
    start = step & 0xFF
    filler = (_PATTERN * (length // 256 + 2))[start : start + length]  # byte i is (step + i) mod 256
    return flv_tag(_VIDEO if video else _AUDIO, step * _STEP_MS, marker + filler)


class VideoFeed:
    """The simulated LIVE's video (``Simulator.video``). Options are attributes a test may change at any time.

    - ``tags``: the LIVE's length in media steps; after the last one the LIVE ends (the room goes offline) and
      every download ends. None: the video goes on until the room goes offline (``sim.offline = True``).
    - ``interval``: seconds between two steps (divided by the simulator's speed).
    - ``tag_size``: payload bytes of each media tag.
    - ``drop_after``: a fault: a download is cut after this many media tags, in the middle of the next one (its
      header and half its data are sent, then the connection is aborted). ``drops``: how many downloads the fault
      cuts (the first ones; None: every one). The HTTP framing stays valid: the FLV tag is what is cut.
    - ``qualities``: the qualities the room info offers, best first (a subset of :data:`FLV_QUALITIES`).
    - ``forms``: which of the room info's two forms name them: ``"stream_data"`` (the JSON string of
      ``live_core_sdk_data.pull_data``) and ``"flv_pull_url"`` (FULL_HD1, HD1, SD1, SD2).

    Records: ``requests`` (the quality of every download, in order), ``downloads`` (how many started),
    ``position`` (the live edge: the next step to send).
    """

    def __init__(self) -> None:
        self.tags: int | None = None
        self.interval: float = 0.02
        self.tag_size: int = 1024
        self.drop_after: int | None = None
        self.drops: int | None = 1
        self.qualities: tuple[str, ...] = FLV_QUALITIES
        self.forms: tuple[str, ...] = ("stream_data", "flv_pull_url")
        self.requests: list[str] = []
        self.downloads = 0
        self.position = 0

    # ── the room info's stream_url ──────────────────────────────────────────────────────────────────────────

    def url(self, origin: str, room_id: int, quality: str) -> str:
        """The pull URL of ``quality`` (signed and expiring, in shape; the simulator checks neither)."""
        return f"{origin}{VIDEO_PATH}stream-{room_id}_{quality}.flv?expire=4102444800&sign=sim{room_id % 9973:04d}"

    def stream_url(self, origin: str, room_id: int) -> dict[str, object]:
        """The room info's ``data.stream_url`` for the offered qualities, in the chosen forms."""
        hls = {q: f"{origin}{VIDEO_PATH}stream-{room_id}_{q}/index.m3u8" for q in self.qualities}
        result: dict[str, object] = {"id": room_id, "id_str": str(room_id)}
        if "flv_pull_url" in self.forms:
            legacy = {key: q for key, q in LEGACY_QUALITIES.items() if q in self.qualities}
            result["flv_pull_url"] = {key: self.url(origin, room_id, q) for key, q in legacy.items()}
            result["hls_pull_url_map"] = {key: hls[q] for key, q in legacy.items()}
            if self.qualities:
                result["hls_pull_url"] = hls[self.qualities[0]]
        if "stream_data" in self.forms:
            data = {
                q: {
                    "main": {
                        "flv": self.url(origin, room_id, q),
                        "hls": hls[q],
                        "sdk_params": json.dumps({"VCodec": "h264", "resolution": "1280x720", "vbitrate": 2_000_000}),
                    }
                }
                for q in self.qualities
            }
            qualities = [
                {"name": q.upper(), "sdk_key": q, "level": len(self.qualities) - i} for i, q in enumerate(data)
            ]
            result["live_core_sdk_data"] = {
                "pull_data": {
                    "options": {"qualities": qualities},
                    "stream_data": json.dumps({"common": {"session_id": f"sim-{room_id}"}, "data": data}),
                }
            }
        return result

    # ── serving ─────────────────────────────────────────────────────────────────────────────────────────────

    async def handle(self, sim: Simulator, request: web.Request) -> web.StreamResponse:
        """``GET /stream/stream-<room>_<quality>.flv``: the FLV stream from the live edge (404 when offline)."""
        name = request.match_info["name"]
        room, _, quality = name.removeprefix("stream-").removesuffix(".flv").partition("_")
        if room != str(sim.room_id) or quality not in self.qualities or not name.endswith(".flv"):
            return web.Response(status=404, text="no such stream")
        if sim.offline:
            return web.Response(status=404, text="the stream has ended")
        self.downloads += 1
        number = self.downloads
        self.requests.append(quality)
        cut = self.drop_after if self.drops is None or number <= self.drops else None
        audio_only = quality == "ao"
        response = web.StreamResponse(headers={"Content-Type": "video/x-flv", "Cache-Control": "no-cache"})
        await response.prepare(request)
        await response.write(flv_header(video=not audio_only) + _metadata(audio_only))
        logger.info("simulator video download #%d (%s) from step %d", number, quality, self.position)
        sent = 0
        while _on_air(sim):
            if self.tags is not None and self.position >= self.tags:
                sim.offline = True  # the LIVE's last step went out: the LIVE is over
                break
            tag = media_tag(self.position, self.tag_size, audio_only=audio_only)
            if cut is not None and sent >= cut:
                with contextlib.suppress(ConnectionError):
                    await response.write(tag[: _TAG_HEADER + self.tag_size // 2])  # half a tag...
                transport = request.transport
                if transport is not None:
                    transport.abort()  # ...then the connection is gone
                logger.info("simulator video download #%d cut after %d tags (fault)", number, sent)
                return response
            self.position += 1
            sent += 1
            try:
                await response.write(tag)
            except ConnectionError:  # the downloader went away (stopped or cancelled)
                return response
            try:
                await asyncio.wait_for(sim._stopping.wait(), self.interval / sim.speed)
            except TimeoutError:
                pass
        with contextlib.suppress(ConnectionError):  # the downloader may be gone already
            await response.write_eof()
        return response


def _on_air(sim: Simulator) -> bool:
    """Whether the simulated LIVE is still on (the room is live and the simulator is not stopping)."""
    return not sim.offline and not sim._stopping.is_set()
