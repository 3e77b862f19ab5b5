"""The simulator's pages, APIs, sign server and push WebSocket: one function per route, each given the simulator
(the host the request is about, or a many-host simulator's origin) and the request. A WebSocket's frames are
played by ``_connection``."""

from __future__ import annotations

import asyncio
import base64
import hmac
import html
import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from aiohttp import web

from tiktok_live._generated.pb import webcast_pb2
from tiktok_live.testing._connection import SimulatedConnection

if TYPE_CHECKING:
    from tiktok_live.testing._messages import MessageSpec
    from tiktok_live.testing._server import Simulator

__all__ = [
    "CLOSE_TIMEOUT",
    "GIFT_CATALOGUE",
    "LIVE",
    "OFFLINE",
    "USER_NOT_FOUND",
    "HandshakeRejection",
    "SignRequest",
    "Token",
    "avatar_urls",
    "check_alive",
    "gift_list",
    "page",
    "room_info",
    "sign",
    "user_room",
    "websocket",
]

logger = logging.getLogger("tiktok_live.testing")

CLOSE_TIMEOUT: Final = 2.0
"""Seconds the simulator gives a WebSocket to close, and its connections to finish when it stops."""
USER_NOT_FOUND: Final = 19881007
"""``statusCode`` of ``/api-live/user/room/`` for an unknown user."""
LIVE: Final = 2
"""A live room's status."""
OFFLINE: Final = 4
"""An ended room's status."""
GIFT_CATALOGUE: Final = (
    # (id, name, diamonds, type): type 1 gifts are streakable.
    (5655, "Rose", 1, 1),
    (5269, "TikTok", 1, 1),
    (5487, "Finger Heart", 5, 1),
    (5658, "Perfume", 20, 1),
    (5879, "Doughnut", 30, 1),
    (5660, "Hand Hearts", 100, 1),
    (6369, "Lion", 29999, 2),
    (7934, "Universe", 34999, 2),
)
"""The gifts ``/webcast/gift/list/`` serves: ``(id, name, diamond_count, type)``; the ids match the scenarios'."""
_HIDDEN_GIFT: Final = (6064, "GG", 1, 1)
"""A gift in the catalogue that the panel does not show (``is_displayed_on_panel: false``)."""
_SECRET_PARAMS: Final = frozenset({"apikey", "api_key", "session_id", "sessionid"})
_MALFORMED_BODY: Final = b"<html><body>Please wait while we verify your browser...</body></html>"
_HISTORY_COMMENTS: Final = 3


@dataclass(frozen=True, slots=True)
class SignRequest:
    """One request the sign server received: its query (secrets redacted), whether an API key header came with it
    (never the key itself), and the HTTP status it was answered with."""

    query: dict[str, str]
    has_api_key: bool
    status: int
    at: float = 0.0
    """When it arrived (``time.time()``, before any ``sign_delay``)."""


@dataclass(frozen=True, slots=True)
class HandshakeRejection:
    """A WebSocket upgrade the simulator refused the way TikTok does (HTTP 200 with ``handshake-*`` headers)."""

    status: int
    """The ``handshake-status`` header (415, 417)."""
    message: str
    """The ``handshake-msg`` header (``DEVICE_BLOCKED``, ``illegal secret key``)."""
    reason: str
    """Why, in words (not sent to the client)."""


@dataclass(slots=True)
class Token:
    """A signed WebSocket token: the room it is for, the user agent it was signed for, where the socket starts."""

    room_id: int
    user_agent: str
    position: int
    issued: float


def avatar_urls(sim: Simulator) -> list[str]:
    return list(sim.host_user.avatar_thumb.m_urls)


def page(sim: Simulator, request: web.Request) -> web.Response:
    """``GET /@{user}/live``: the live page with its ``SIGI_STATE`` JSON (no ``LiveRoom`` for anyone else)."""
    unique_id = request.match_info["user"]
    if sim.page_layout_changed:
        body = "<!DOCTYPE html><html><head><title>TikTok</title></head><body><div id='app'></div></body></html>"
        return web.Response(text=body, content_type="text/html")
    state: dict[str, object] = {"AppContext": {"appContext": {"region": "US", "language": "en"}}}
    if sim._is_host(unique_id):
        status = sim._host_status()
        state["LiveRoom"] = {
            "liveRoomUserInfo": {
                "user": {
                    "id": str(sim.host_user.id),
                    "roomId": str(sim.room_id),
                    "uniqueId": sim.user,
                    "nickname": sim.nickname,
                    "secUid": sim.host_user.sec_uid,
                    "avatarThumb": avatar_urls(sim)[0],
                    "status": status,
                },
                "liveRoom": {
                    "status": status,
                    "title": sim.title,
                    "startTime": sim.started_at,
                    "liveRoomStats": {"userCount": sim.viewer_count, "enterCount": sim.viewer_count * 3},
                },
            }
        }
    data = json.dumps(state, ensure_ascii=False).replace("</", "<\\/")
    body = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(sim.nickname)} '
        f"(@{html.escape(sim.user)}) is "
        f'LIVE | TikTok</title></head><body><div id="app"></div><script id="SIGI_STATE" type="application/json">'
        f"{data}</script></body></html>"
    )
    return web.Response(text=body, content_type="text/html")


def user_room(sim: Simulator, request: web.Request) -> web.Response:
    """``GET /api-live/user/room/``: the host's user and room, or ``USER_NOT_FOUND``."""
    unique_id = request.query.get("uniqueId", "")
    if not sim._is_host(unique_id):
        return web.json_response({"statusCode": USER_NOT_FOUND, "message": "user_not_found", "data": None})
    status = sim._host_status()
    data = {
        "user": {
            "id": str(sim.host_user.id),
            "roomId": str(sim.room_id),
            "status": status,
            "uniqueId": sim.user,
            "nickname": sim.nickname,
            "secUid": sim.host_user.sec_uid,
            "signature": "simulated host",
            "avatarLarger": avatar_urls(sim)[-1],
        },
        "liveRoom": {
            "status": status,
            "title": sim.title,
            "startTime": sim.started_at,
            "liveRoomStats": {"userCount": sim.viewer_count, "enterCount": sim.viewer_count * 3},
        },
        "stats": {
            "followingCount": sim.host_user.follow_info.following_count,
            "followerCount": sim.host_user.follow_info.follower_count,
        },
    }
    return web.json_response({"statusCode": 0, "message": "", "data": data})


def check_alive(sim: Simulator, request: web.Request) -> web.Response:
    """``GET /webcast/room/check_alive/?room_ids=…``: whether each room is live (any host's, batched)."""
    ids = [part for part in request.query.get("room_ids", "").split(",") if part]
    if not ids or not all(part.isdigit() for part in ids):
        return web.json_response({"data": {"message": "Request params error"}, "status_code": 10011})
    sim._record(sim.live_checks, tuple(int(part) for part in ids))
    hosts = [sim._host_of_room(int(part)) for part in ids]
    rooms = [
        {"alive": host is not None and not host.offline, "room_id": int(part), "room_id_str": part}
        for part, host in zip(ids, hosts, strict=True)
    ]
    return web.json_response({"data": rooms, "status_code": 0})


def room_info(sim: Simulator, request: web.Request) -> web.Response:
    """``GET /webcast/room/info/?room_id=…``: the room's information with its stream URLs."""
    if sim.age_restricted:
        prompts = "Request params error"
        return web.json_response({"data": {"message": prompts, "prompts": prompts}, "status_code": 10011})
    if request.query.get("room_id") != str(sim.room_id):
        return web.json_response({"data": {"prompts": ""}, "status_code": 0})  # a stale room id (TLC#244)
    avatars = avatar_urls(sim)
    data: dict[str, object] = {
        "status": sim._status,
        "id": sim.room_id,
        "id_str": str(sim.room_id),
        "title": sim.title,
        "user_count": sim.viewer_count,
        "create_time": sim.started_at,
        "cover": {"url_list": [f"{sim.url}/static/cover/{sim.room_id}.jpeg"], "uri": f"cover/{sim.room_id}"},
        "owner": {
            "id": sim.host_user.id,
            "id_str": str(sim.host_user.id),
            "display_id": sim.user,
            "nickname": sim.nickname,
            "sec_uid": sim.host_user.sec_uid,
            "bio_description": "simulated host",
            "avatar_thumb": {"url_list": avatars[:1]},
            "avatar_large": {"url_list": avatars[-1:]},
            "follow_info": {
                "follower_count": sim.host_user.follow_info.follower_count,
                "following_count": sim.host_user.follow_info.following_count,
            },
        },
        "stats": {"like_count": sim.like_count, "total_user": sim.viewer_count * 3},
        "age_restricted": {"restricted": False, "age_interval": 0, "source": 0},
    }
    data["stream_url"] = sim.video.stream_url(sim.url, sim.room_id)
    return web.json_response({"data": data, "extra": {"now": int(time.time() * 1000)}, "status_code": 0})


def gift_list(sim: Simulator, request: web.Request) -> web.Response:
    """``GET /webcast/gift/list/``: :data:`GIFT_CATALOGUE` (or ``gift_list_status``)."""
    if sim.gift_list_status != 200:
        return web.Response(status=sim.gift_list_status, text=f"gift list error {sim.gift_list_status}")
    gifts = [_gift_json(sim, *entry, on_panel=True) for entry in GIFT_CATALOGUE]
    gifts.append(_gift_json(sim, *_HIDDEN_GIFT, on_panel=False))
    return web.json_response({"data": {"gifts": gifts, "doodle_templates": []}, "extra": {}, "status_code": 0})


def _gift_json(
    sim: Simulator, gift_id: int, name: str, diamonds: int, gift_type: int, *, on_panel: bool
) -> dict[str, object]:
    slug = name.lower().replace(" ", "_")
    image = {"url_list": [f"{sim.url}/static/gift/{slug}.png"], "uri": f"webcast-va/gift_{slug}"}
    return {
        "id": gift_id,
        "name": name,
        "describe": f"sent {name}",
        "diamond_count": diamonds,
        "type": gift_type,
        "combo": gift_type == 1,
        "duration": 1000 if gift_type == 1 else 5000,
        "image": image,
        "icon": image,
        "is_displayed_on_panel": on_panel,
        "is_broadcast_gift": diamonds >= 10_000,
        "for_linkmic": True,
    }


# ── sign server ─────────────────────────────────────────────────────────────────────────────────────────────


async def sign(sim: Simulator, request: web.Request) -> web.Response:
    """``GET /webcast/fetch``: the sign server (its options are the origin's; the bundle is the room's host's)."""
    arrived = time.time()
    sim.sign_windows.count()
    if sim.sign_delay > 0:
        sim.sign_requests_waiting += 1
        try:
            await asyncio.wait_for(sim._stopping.wait(), sim.sign_delay)
        except TimeoutError:
            pass
        finally:
            sim.sign_requests_waiting -= 1
    response = _sign_response(sim, request)
    query = {key: "<redacted>" if key.lower() in _SECRET_PARAMS else value for key, value in request.query.items()}
    request_record = SignRequest(query, "X-Api-Key" in request.headers, response.status, arrived)
    sim._record(sim.sign_requests, request_record)
    return response


def _sign_response(sim: Simulator, request: web.Request) -> web.Response:
    if sim._stopping.is_set():
        return web.Response(status=503, text="sign server shutting down")
    if sim.required_api_key is not None:
        key = request.headers.get("X-Api-Key", "")
        if not hmac.compare_digest(key.encode(), sim.required_api_key.encode()):
            message = "Invalid API key" if key else "An API key is required (X-Api-Key header)"
            return web.json_response({"code": 401, "message": message}, status=401)
    failure = sim.sign_status if sim.sign_status not in (None, 200) else None
    if failure is None and sim.sign_fail_times and not sim.sign_malformed:
        failure = 503
    failing = (failure is not None or sim.sign_malformed) and (
        sim.sign_fail_times is None or sim._sign_failures < sim.sign_fail_times
    )
    if failing:
        sim._sign_failures += 1
        if failure is not None:
            return _sign_error(sim, failure)
        return web.Response(body=_MALFORMED_BODY, content_type="application/protobuf", headers=_cookies(sim))
    room = request.query.get("room_id", "")
    if not room.isdigit():
        return web.json_response({"code": 400, "message": "room_id is required (a number)"}, status=400)
    host = sim._host_of_room(int(room)) or sim  # the room's host signs (its tokens, cursor and history)
    position = host._parse_cursor(request.query.get("cursor")) or 0
    return _bundle(host, int(room), request.query.get("user_agent", ""), position)


def _sign_error(sim: Simulator, status: int) -> web.Response:
    if status == 429:
        retry = sim.sign_retry_after
        headers = {
            "Retry-After": f"{retry:g}",
            "RateLimit-Limit": "5",
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(int(time.time() + retry)),
        }
        body = {
            "code": 429,
            "message": f"Too many connections started, try again in {retry:g} seconds.",
            "limit_label": "minute",
        }
        return web.json_response(body, status=429, headers=headers)
    if status in (401, 403):
        message = "Invalid API key" if status == 401 else "This endpoint requires a paid plan"
        return web.json_response({"code": status, "message": message}, status=status)
    if status >= 500:
        return web.Response(status=status, text=f"sign server error {status} (simulated)")
    return web.json_response({"code": status, "message": f"simulated sign error {status}"}, status=status)


def _cookies(sim: Simulator) -> dict[str, str]:
    ttwid = base64.urlsafe_b64encode(sim._rng.randbytes(32)).decode().rstrip("=")
    chain = base64.b64encode(sim._rng.randbytes(24)).decode()
    return {"X-Set-TT-Cookie": f"ttwid=1%7C{ttwid}%7C{int(time.time())}; tt_chain_token={chain}"}


def _bundle(sim: Simulator, room_id: int, user_agent: str, position: int) -> web.Response:
    now = time.monotonic()
    for value, token in list(sim._tokens.items()):
        if now - token.issued > sim.token_ttl:
            del sim._tokens[value]
    for value, used in list(sim._used_tokens.items()):
        if now - used > sim.token_ttl:
            del sim._used_tokens[value]
    token_value = f"{sim._rng.getrandbits(128):032x}"
    sim._tokens[token_value] = Token(room_id, user_agent, position, now)
    now_ms = int(time.time() * 1000)
    result = webcast_pb2.ProtoMessageFetchResult(
        cursor=sim.cursor(position),
        internal_ext=f"internal_src:sim|first_req_ms:{now_ms}|seq:{position}",
        now=now_ms,
        fetch_interval=1000,
        is_first=True,
        need_ack=False,
        push_server=sim.push_server,
        heartbeat_duration=10_000,
        messages=_history(sim, position),
    )
    result.route_params["wrss"] = token_value
    result.route_params["imprp"] = base64.urlsafe_b64encode(sim._rng.randbytes(18)).decode()
    headers = {**_cookies(sim), "X-Room-Id": str(room_id)}
    return web.Response(body=result.SerializeToString(), content_type="application/protobuf", headers=headers)


def _history(sim: Simulator, position: int) -> list[webcast_pb2.ProtoMessageFetchResult.BaseProtoMessage]:
    """``history`` plus the last comments of the script before ``position`` (what the room shows now)."""
    picked: list[tuple[int, int, MessageSpec]] = [(-1 - i, 0, spec) for i, spec in enumerate(sim.history)]
    recent: list[tuple[int, int, MessageSpec]] = []
    for earlier in range(min(position, len(sim._steps)) - 1, -1, -1):
        for index, spec in enumerate(sim._steps[earlier].messages):
            if spec.method == "WebcastChatMessage" and len(recent) < _HISTORY_COMMENTS:
                recent.append((earlier, index, spec))
        if len(recent) >= _HISTORY_COMMENTS:
            break
    create_time = int(time.time() * 1000)
    return [
        webcast_pb2.ProtoMessageFetchResult.BaseProtoMessage(
            method=spec.method,
            payload=spec.render(msg_id=sim._msg_id(pos, index), room_id=sim.room_id, create_time=create_time),
            msg_id=sim._msg_id(pos, index),
            is_history=True,
        )
        for pos, index, spec in picked + recent[::-1]
    ]


def _reject(sim: Simulator, status: int, message: str, reason: str) -> web.Response:
    sim._record(sim.rejections, HandshakeRejection(status, message, reason))
    logger.info("simulator refused a WebSocket: %s (%s)", message, reason)
    return web.Response(status=200, headers={"handshake-status": str(status), "handshake-msg": message})


def _take_token(sim: Simulator, value: str) -> tuple[Token | None, str]:
    if not value:
        return None, "no wrss token in the query"
    token = sim._tokens.pop(value, None)
    if token is None:
        used = value in sim._used_tokens
        return None, "the wrss token was already used" if used else "unknown or expired wrss token"
    sim._used_tokens[value] = time.monotonic()
    if time.monotonic() - token.issued > sim.token_ttl:
        return None, f"the wrss token expired ({sim.token_ttl:g} s)"
    return token, ""


async def websocket(sim: Simulator, request: web.Request) -> web.StreamResponse:
    """The push WebSocket: refuse the upgrade as TikTok does (no user agent, a bad or used token, another room),
    else play the script on a new connection until it ends."""
    user_agent = request.headers.get("User-Agent", "").strip()
    if not user_agent:
        return _reject(sim, 415, "DEVICE_BLOCKED", "no User-Agent header")
    token, reason = _take_token(sim, request.query.get("wrss", ""))
    if token is None:
        return _reject(sim, 417, "illegal secret key", reason)
    room = request.query.get("room_id", "")
    if room != str(sim.room_id) or token.room_id != sim.room_id:
        return _reject(sim, 417, "illegal secret key", f"room_id {room!r} is not this room ({sim.room_id})")
    ws = web.WebSocketResponse(autoping=False, timeout=CLOSE_TIMEOUT)
    if not ws.can_prepare(request).ok:
        return web.Response(status=400, text="expected a WebSocket upgrade")
    ws.headers["Handshake-Options"] = f"ping-interval={sim.ping_interval:g}"
    await ws.prepare(request)
    sim.connections += 1
    number = sim.connections
    resume = sim._parse_cursor(request.query.get("cursor"))
    sim._prerender()  # no-op unless something the frames depend on changed since they were rendered
    connection = SimulatedConnection(sim, ws, request, number, resume if resume is not None else token.position)
    if user_agent != token.user_agent:
        connection.violation(
            "the WebSocket User-Agent differs from the user_agent given to the sign server (they must match)"
        )
    sim._active.add(connection)
    sim._idle.clear()
    logger.info("simulator connection #%d open (from step %d)", number, connection.start_position)
    try:
        await connection.run()
    finally:
        sim._active.discard(connection)
        if not sim._active:
            sim._idle.set()
        logger.info("simulator connection #%d closed", number)
    return ws
