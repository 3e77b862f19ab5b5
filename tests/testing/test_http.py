"""The simulator's pages and webcast APIs: JSON shapes and knobs (protocol.md §2)."""

from __future__ import annotations

import json
import re
from typing import Any

import aiohttp
import pytest

from tests.testing.conftest import within
from tiktok_live.testing import Simulator

SIGI = re.compile(r'<script id="SIGI_STATE" type="application/json">(.*?)</script>', re.DOTALL)


async def get_json(session: aiohttp.ClientSession, url: str, **params: str) -> Any:
    async with session.get(url, params=params) as response:
        assert response.status == 200
        return await response.json()


async def get_page(session: aiohttp.ClientSession, sim: Simulator, user: str) -> str:
    async with session.get(f"{sim.url}/@{user}/live") as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        return await response.text()


def sigi(html: str) -> Any:
    match = SIGI.search(html)
    assert match is not None, "no SIGI_STATE script"
    return json.loads(match.group(1))


async def test_url_and_port(sim: Simulator) -> None:
    assert sim.port > 0
    assert sim.url == f"http://127.0.0.1:{sim.port}"
    assert sim.push_server == f"ws://127.0.0.1:{sim.port}/webcast/im/ws_proxy/ws_reuse_supplement/"


async def test_port_before_start_raises() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        _ = Simulator().url


async def test_live_page(session: aiohttp.ClientSession, sim: Simulator) -> None:
    state = sigi(await within(get_page(session, sim, sim.user)))
    info = state["LiveRoom"]["liveRoomUserInfo"]
    assert info["user"]["roomId"] == str(sim.room_id)
    assert info["user"]["uniqueId"] == sim.user
    assert info["user"]["nickname"] == sim.nickname
    assert info["user"]["status"] == 2
    assert info["liveRoom"]["status"] == 2
    assert info["liveRoom"]["title"] == sim.title


async def test_live_page_offline(session: aiohttp.ClientSession, sim: Simulator) -> None:
    sim.offline = True
    info = sigi(await within(get_page(session, sim, sim.user)))["LiveRoom"]["liveRoomUserInfo"]
    assert info["user"]["status"] == 4
    assert info["liveRoom"]["status"] == 4


async def test_live_page_unknown_user(session: aiohttp.ClientSession, sim: Simulator) -> None:
    state = sigi(await within(get_page(session, sim, "nobody_here")))
    assert "LiveRoom" not in state


async def test_live_page_layout_changed(session: aiohttp.ClientSession, sim: Simulator) -> None:
    sim.page_layout_changed = True
    html = await within(get_page(session, sim, sim.user))
    assert SIGI.search(html) is None
    assert "SIGI_STATE" not in html


async def test_live_page_user_is_case_insensitive(session: aiohttp.ClientSession, sim: Simulator) -> None:
    state = sigi(await within(get_page(session, sim, sim.user.upper())))
    assert state["LiveRoom"]["liveRoomUserInfo"]["user"]["roomId"] == str(sim.room_id)


async def test_user_room_api(session: aiohttp.ClientSession, sim: Simulator) -> None:
    body = await within(get_json(session, f"{sim.url}/api-live/user/room/", uniqueId=sim.user, sourceType="54"))
    assert body["statusCode"] == 0
    assert body["message"] == ""
    user, room = body["data"]["user"], body["data"]["liveRoom"]
    assert user["roomId"] == str(sim.room_id)
    assert user["status"] == 2
    assert user["uniqueId"] == sim.user
    assert user["nickname"] == sim.nickname
    assert user["id"] == str(sim.host_user.id)
    assert room["status"] == 2
    assert room["title"] == sim.title
    assert isinstance(room["startTime"], int)
    assert room["liveRoomStats"] == {"userCount": sim.viewer_count, "enterCount": sim.viewer_count * 3}


async def test_user_room_api_unknown_and_offline(session: aiohttp.ClientSession, sim: Simulator) -> None:
    url = f"{sim.url}/api-live/user/room/"
    body = await within(get_json(session, url, uniqueId="nobody_here", sourceType="54"))
    assert body == {"statusCode": 19881007, "message": "user_not_found", "data": None}
    sim.offline = True
    body = await within(get_json(session, url, uniqueId=sim.user, sourceType="54"))
    assert body["data"]["user"]["status"] == 4
    assert body["data"]["liveRoom"]["status"] == 4


async def test_check_alive(session: aiohttp.ClientSession, sim: Simulator) -> None:
    url = f"{sim.url}/webcast/room/check_alive/"
    body = await within(get_json(session, url, room_ids=f"{sim.room_id},123"))
    assert body == {
        "data": [
            {"alive": True, "room_id": sim.room_id, "room_id_str": str(sim.room_id)},
            {"alive": False, "room_id": 123, "room_id_str": "123"},
        ],
        "status_code": 0,
    }
    sim.offline = True
    body = await within(get_json(session, url, room_ids=str(sim.room_id)))
    assert body["data"][0]["alive"] is False


async def test_room_info(session: aiohttp.ClientSession, sim: Simulator) -> None:
    body = await within(get_json(session, f"{sim.url}/webcast/room/info/", room_id=str(sim.room_id)))
    assert body["status_code"] == 0
    data = body["data"]
    assert data["status"] == 2
    assert data["id_str"] == str(sim.room_id)
    assert data["title"] == sim.title
    assert data["user_count"] == sim.viewer_count
    owner = data["owner"]
    assert owner["id_str"] == str(sim.host_user.id)
    assert owner["display_id"] == sim.user
    assert owner["nickname"] == sim.nickname
    assert owner["avatar_thumb"]["url_list"] and all(
        url.startswith("https://") for url in owner["avatar_thumb"]["url_list"]
    )
    assert data["stats"] == {"like_count": sim.like_count, "total_user": sim.viewer_count * 3}


async def test_room_info_offline_and_age_restricted(session: aiohttp.ClientSession, sim: Simulator) -> None:
    url = f"{sim.url}/webcast/room/info/"
    sim.offline = True
    assert (await within(get_json(session, url, room_id=str(sim.room_id))))["data"]["status"] == 4
    sim.age_restricted = True
    body = await within(get_json(session, url, room_id=str(sim.room_id)))
    assert body == {
        "data": {"message": "Request params error", "prompts": "Request params error"},
        "status_code": 10011,
    }


async def test_room_ids_are_deterministic_per_seed() -> None:
    assert Simulator(seed=1).room_id == Simulator(seed=1).room_id
    assert Simulator(seed=1).room_id != Simulator(seed=2).room_id
    assert Simulator(room_id=42).room_id == 42


async def test_stop_twice_and_restart_free_port() -> None:
    sim = Simulator()
    await within(sim.start())
    await within(sim.start())  # no-op
    await within(sim.stop())
    await within(sim.stop())  # no-op
    with pytest.raises(RuntimeError):
        _ = sim.port
