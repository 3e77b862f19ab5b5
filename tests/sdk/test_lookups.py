"""Lookups that need no connection: room info (with stream URLs in both of TikTok's forms), live checks, the gift
catalogue and the batched ``check_live``; against the simulator, a small fake TikTok, and hostile JSON."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest
from aiohttp import web

import tiktok_live
from tiktok_live import (
    AgeRestrictedError,
    GiftInfo,
    RequestError,
    RoomInfo,
    StreamURL,
    TikTokLiveClient,
    UserNotFoundError,
    UserOfflineError,
    check_live,
)
from tiktok_live._info import parse_gifts, parse_owner, parse_stream_urls, timestamp
from tiktok_live.events import CommentEvent
from tiktok_live.testing import GIFT_CATALOGUE, Simulator, comment, end
from tiktok_live.testing._video import FLV_QUALITIES, VIDEO_PATH

TIMEOUT = 10.0
SIGN_AND_SOCKET = ("/webcast/fetch", "/webcast/im/ws_proxy/ws_reuse_supplement/")


def _flv(sim: Simulator, quality: str) -> str:
    return sim.video.url(sim.url, sim.room_id, quality)


def _hls(sim: Simulator, quality: str) -> str:
    return f"{sim.url}{VIDEO_PATH}stream-{sim.room_id}_{quality}/index.m3u8"


def _no_connection(sim: Simulator) -> None:
    assert not sim.sign_requests, "a lookup asked the sign server"
    assert sim.connections == 0 and not any(path in SIGN_AND_SOCKET for path in sim.requests)


# ── room info ───────────────────────────────────────────────────────────────────────────────────────────────────


async def test_room_info_before_start_on_a_client_that_never_connects() -> None:
    async with Simulator("host", title="Late night 🎸", viewer_count=321, like_count=999) as sim:
        client = sim.client()
        info = await asyncio.wait_for(client.fetch_room_info(), TIMEOUT)
        assert client.room_info is info
        assert client._http.session is None  # the session made for the lookup is closed again
        _no_connection(sim)
        _check_room_info(sim, info)


def _check_room_info(sim: Simulator, info: RoomInfo) -> None:
    assert info.room_id == sim.room_id and info.is_live and info.status == 2
    assert (info.title, info.user_count, info.like_count, info.total_user) == ("Late night 🎸", 321, 999, 963)
    owner = info.owner
    assert owner is not None
    assert (owner.id, owner.unique_id, owner.nickname) == (sim.host_user.id, "host", sim.nickname)
    assert owner.followers == sim.host_user.follow_info.follower_count > 0
    assert owner.avatar_url.startswith("https://") and owner.sec_uid == sim.host_user.sec_uid
    assert (info.owner_unique_id, info.owner_nickname) == ("host", sim.nickname)  # the fields kept from before
    assert info.started_at == datetime.fromtimestamp(sim.started_at, UTC)
    assert info.cover_url.startswith(sim.url) and info.age_restricted is False
    assert info.qualities == FLV_QUALITIES
    hd = info.stream_urls["hd"]
    assert hd == StreamURL("hd", _flv(sim, "hd"), _hls(sim, "hd"), "HD1", "1280x720", 2_000_000)
    assert info.stream_urls["ao"].legacy_name == "" and info.stream_urls["uhd"].legacy_name == "FULL_HD1"
    document = info.to_dict()
    assert json.loads(json.dumps(document)) == document
    assert document["room_id"] == str(sim.room_id) and document["owner"]["id"] == str(owner.id)  # type: ignore[index]
    assert document["stream_urls"]["sd"]["flv"] == _flv(sim, "sd")  # type: ignore[index]


async def test_room_info_offers_what_the_room_offers() -> None:
    async with Simulator("host") as sim:
        sim.video.qualities = ("hd", "ld")
        info = await asyncio.wait_for(sim.client().fetch_room_info(), TIMEOUT)
    assert info.qualities == ("hd", "ld")
    assert [url.legacy_name for url in info.stream_urls.values()] == ["HD1", "SD2"]


async def test_room_info_errors_are_typed() -> None:
    async with Simulator("host", offline=True) as sim:
        with pytest.raises(UserOfflineError, match="not live"):
            await asyncio.wait_for(sim.client().fetch_room_info(), TIMEOUT)
        sim.offline, sim.age_restricted = False, True
        with pytest.raises(AgeRestrictedError, match="session id"):
            await asyncio.wait_for(sim.client().fetch_room_info(), TIMEOUT)
        with pytest.raises(UserNotFoundError, match="spelling"):
            await asyncio.wait_for(TikTokLiveClient("@nobody", config=sim.config()).fetch_room_info(), TIMEOUT)


async def test_a_given_room_id_is_used_as_is() -> None:
    async with Simulator("host") as sim:
        client = sim.client(room_id=sim.room_id)
        info = await asyncio.wait_for(client.fetch_room_info(), TIMEOUT)
        assert info.room_id == sim.room_id
        assert not any(path.startswith(("/@", "/api-live")) for path in sim.requests)  # no room id lookup


async def test_room_info_while_connected_is_the_current_room() -> None:
    async with Simulator("host", ping_interval=0.05, loop=True) as sim:
        sim.script(comment("alice", "hi"))
        client = sim.client()
        seen = asyncio.Event()
        client.add_listener(CommentEvent, lambda _: seen.set())
        async with client:
            await asyncio.wait_for(seen.wait(), TIMEOUT)
            info = await asyncio.wait_for(client.fetch_room_info(), TIMEOUT)
            assert info.room_id == client.room_id == sim.room_id
            assert client._http.session is not None  # the connection's session stays open
        assert not sim.violations


# ── live checks ─────────────────────────────────────────────────────────────────────────────────────────────────


async def test_is_live_asks_no_sign_server() -> None:
    async with Simulator("host") as sim:
        client = sim.client()
        assert await asyncio.wait_for(client.is_live(), TIMEOUT) is True
        sim.end_live()
        assert await asyncio.wait_for(client.is_live(), TIMEOUT) is False
        sim.start_live()  # a new room: the host is live again
        assert await asyncio.wait_for(client.is_live(), TIMEOUT) is True
        assert "/webcast/room/check_alive/" in sim.requests
        _no_connection(sim)
        with pytest.raises(UserNotFoundError):
            await asyncio.wait_for(TikTokLiveClient("@nobody", config=sim.config()).is_live(), TIMEOUT)


async def test_is_live_with_a_given_room_that_ended_looks_for_the_next() -> None:
    async with Simulator("host") as sim:
        client = sim.client(room_id=sim.room_id)
        assert await asyncio.wait_for(client.is_live(), TIMEOUT) is True
        sim.end_live()
        sim.start_live()
        assert await asyncio.wait_for(client.is_live(), TIMEOUT) is True


async def test_check_live_many_handles() -> None:
    async with Simulator("host") as sim:
        failures: dict[str, tiktok_live.TikTokLiveError] = {}
        users = ["@host", "host", "https://www.tiktok.com/@host/live", "@nobody"]
        result = await asyncio.wait_for(check_live(users, config=sim.config(), failures=failures), TIMEOUT)
        assert result == {"@host": True, "host": True, "https://www.tiktok.com/@host/live": True, "@nobody": False}
        assert list(failures) == ["@nobody"] and isinstance(failures["@nobody"], UserNotFoundError)
        assert sim.requests.count("/webcast/room/check_alive/") == 1  # one handle, one room, one check
        sim.end_live()
        assert await asyncio.wait_for(check_live(["@host"], config=sim.config()), TIMEOUT) == {"@host": False}
        _no_connection(sim)
    assert await check_live([]) == {}


async def test_check_live_rejects_bad_input_before_any_request() -> None:
    with pytest.raises(ValueError, match="not a TikTok @handle"):
        await check_live(["@good", "bad handle!"])
    with pytest.raises(ValueError, match="concurrency"):
        await check_live(["@good"], concurrency=0)


class FakeTikTok:
    """Many hosts on one origin: live page per host (room id from the name), and ``check_alive`` that records how
    many rooms each request asked about. Hosts with an even number are live."""

    def __init__(self, hosts: int) -> None:
        self.rooms = {f"host{n}": 7_000_000_000_000_000_000 + n for n in range(hosts)}
        self.batches: list[int] = []
        self.check_status = 200

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/@{user}/live", self.page)
        app.router.add_get("/webcast/room/check_alive/", self.check)
        return app

    async def page(self, request: web.Request) -> web.Response:
        user = request.match_info["user"]
        room_id = self.rooms[user]
        state = {"LiveRoom": {"liveRoomUserInfo": {"user": {"roomId": str(room_id), "status": 2}}}}
        script = f'<script id="SIGI_STATE" type="application/json">{json.dumps(state)}</script>'
        return web.Response(text=f"<html><body>{script}</body></html>", content_type="text/html")

    async def check(self, request: web.Request) -> web.Response:
        if self.check_status != 200:
            return web.Response(status=self.check_status, text="busy", headers={"Retry-After": "7"})
        ids = request.query["room_ids"].split(",")
        self.batches.append(len(ids))
        data = [{"alive": int(room) % 2 == 0, "room_id": int(room)} for room in ids]
        return web.json_response({"data": data, "status_code": 0})


@pytest.fixture
async def fake_tiktok() -> AsyncIterator[tuple[FakeTikTok, str]]:
    fake = FakeTikTok(120)
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield fake, f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_check_live_batches_the_live_check(fake_tiktok: tuple[FakeTikTok, str]) -> None:
    fake, url = fake_tiktok
    users = [f"@{name}" for name in fake.rooms]
    result = await asyncio.wait_for(check_live(users, web_url=url, webcast_url=url, concurrency=8), TIMEOUT)
    assert fake.batches == [50, 50, 20]
    assert result == {f"@host{n}": n % 2 == 0 for n in range(120)}


async def test_a_failing_live_check_raises_with_retry_after(fake_tiktok: tuple[FakeTikTok, str]) -> None:
    fake, url = fake_tiktok
    fake.check_status = 429
    with pytest.raises(RequestError) as caught:
        await asyncio.wait_for(check_live(["@host1"], web_url=url, webcast_url=url), TIMEOUT)
    assert caught.value.status == 429 and caught.value.retryable and caught.value.retry_after == 7.0


async def test_check_live_uses_a_given_session(fake_tiktok: tuple[FakeTikTok, str]) -> None:
    _, url = fake_tiktok
    async with aiohttp.ClientSession() as session:
        result = await check_live(["@host2"], session=session, web_url=url, webcast_url=url)
        assert result == {"@host2": True} and not session.closed  # ours to close, not check_live's


# ── gifts ───────────────────────────────────────────────────────────────────────────────────────────────────────


async def test_gift_catalogue() -> None:
    async with Simulator("host") as sim:
        gifts = await asyncio.wait_for(sim.client().fetch_gifts(), TIMEOUT)
        _no_connection(sim)
        url = sim.url
    by_id = {gift.id: gift for gift in gifts}
    assert set(by_id) == {entry[0] for entry in GIFT_CATALOGUE} | {6064}
    rose, lion, gg = by_id[5655], by_id[6369], by_id[6064]
    assert isinstance(rose, GiftInfo)
    assert (rose.name, rose.diamond_count, rose.streakable, rose.on_panel) == ("Rose", 1, True, True)
    assert (lion.name, lion.diamond_count, lion.streakable) == ("Lion", 29999, False)
    assert gg.on_panel is False and rose.image_url.startswith(url) and rose.raw["id"] == 5655
    assert json.loads(json.dumps(rose.to_dict()))["diamond_count"] == 1


async def test_gift_catalogue_of_an_offline_host_is_the_regions() -> None:
    async with Simulator("host", offline=True) as sim:
        gifts = await asyncio.wait_for(sim.client().fetch_gifts(), TIMEOUT)
    assert len(gifts) == len(GIFT_CATALOGUE) + 1


async def test_a_failing_gift_list_never_touches_connecting() -> None:
    async with Simulator("host", gift_list_status=503, ping_interval=0.05) as sim:
        sim.script(comment("alice", "hi"), end())
        client = sim.client()
        with pytest.raises(RequestError, match="503") as caught:
            await asyncio.wait_for(client.fetch_gifts(), TIMEOUT)
        assert caught.value.retryable
        sim.clear_records()
        comments: list[str] = []
        client.add_listener(CommentEvent, lambda event: comments.append(event.comment))
        await asyncio.wait_for(client.connect(), TIMEOUT)
        assert comments == ["hi"] and "/webcast/gift/list/" not in sim.requests and not sim.violations


# ── parsing hostile or partial JSON ─────────────────────────────────────────────────────────────────────────────

LEGACY: dict[str, object] = {
    "flv_pull_url": {"FULL_HD1": "https://cdn/uhd.flv", "HD1": "https://cdn/hd.flv", "SD2": "https://cdn/ld.flv"},
    "hls_pull_url_map": {"HD1": "https://cdn/hd.m3u8"},
    "hls_pull_url": "https://cdn/default.m3u8",
    "default_resolution": "SD2",
}


def _sdk(data: object) -> dict[str, object]:
    return {"live_core_sdk_data": {"pull_data": {"stream_data": json.dumps({"data": data})}}}


def test_stream_urls_from_the_legacy_form_alone() -> None:
    urls = parse_stream_urls(LEGACY)
    assert list(urls) == ["uhd", "hd", "ld"]
    assert urls["hd"] == StreamURL("hd", "https://cdn/hd.flv", "https://cdn/hd.m3u8", "HD1")
    assert urls["ld"].hls == "https://cdn/default.m3u8"  # the lone HLS URL belongs to the default resolution
    assert urls["uhd"].hls is None


def test_stream_urls_from_the_sdk_form_alone() -> None:
    main = {"flv": "https://cdn/o.flv", "hls": "", "sdk_params": json.dumps({"resolution": "1920x1080"})}
    urls = parse_stream_urls(_sdk({"ao": {"main": {"hls": "https://cdn/ao.m3u8"}}, "origin": {"main": main}}))
    assert list(urls) == ["origin", "ao"]  # best first, whatever the JSON's order
    assert urls["origin"] == StreamURL("origin", "https://cdn/o.flv", None, "", "1920x1080", 0)


def test_stream_urls_merge_both_forms_and_the_sdk_form_wins() -> None:
    sdk = _sdk({"hd": {"main": {"flv": "https://sdk/hd.flv", "hls": "https://sdk/hd.m3u8"}}, "xhd": {"main": {}}})
    legacy_flv = {"FULL_HD1": "https://cdn/uhd.flv", "HD1": "https://cdn/hd.flv", "SD2": "https://cdn/ld.flv"}
    urls = parse_stream_urls({**LEGACY, **sdk, "flv_pull_url": {**legacy_flv, "HD_NEW": "https://n"}})
    assert list(urls) == ["uhd", "hd", "ld", "hd_new"]  # unknown names after the known ones; empty entries gone
    assert (urls["hd"].flv, urls["hd"].hls, urls["hd"].legacy_name) == (
        "https://sdk/hd.flv",
        "https://sdk/hd.m3u8",
        "HD1",
    )


@pytest.mark.parametrize(
    "stream_url",
    [
        None,
        [],
        "https://cdn/x.flv",
        {"flv_pull_url": ["https://cdn/x.flv"]},
        {"flv_pull_url": {"HD1": "javascript:alert(1)", "SD1": 42, "SD2": {"url": "https://x"}}},
        {"live_core_sdk_data": {"pull_data": {"stream_data": "{not json"}}},
        {"flv_pull_url": {"HD1": "https://", "SD1": "https://[::1"}},
        {"live_core_sdk_data": {"pull_data": {"stream_data": "[" * 100_000 + "]" * 100_000}}},
        _sdk(["hd"]),
        _sdk({"hd": "https://x"}),
        _sdk({"hd": {"main": {"flv": "ftp://x", "sdk_params": "{"}}}),
    ],
)
def test_stream_urls_ignore_what_is_not_a_stream_url(stream_url: object) -> None:
    assert dict(parse_stream_urls(stream_url)) == {}


def test_stream_data_already_parsed_is_tolerated() -> None:
    parsed = {"data": {"hd": {"main": {"flv": "https://cdn/hd.flv"}}}}
    urls = parse_stream_urls({"live_core_sdk_data": {"pull_data": {"stream_data": parsed}}})
    assert list(urls) == ["hd"] and urls["hd"].flv == "https://cdn/hd.flv"


def test_stream_url_mapping_is_read_only() -> None:
    urls = parse_stream_urls(LEGACY)
    with pytest.raises(TypeError):
        urls["hd"] = StreamURL("hd")  # type: ignore[index]


def test_owner_parsing() -> None:
    owner = parse_owner(
        {
            "owner": {
                "id": 12,
                "id_str": "7236541308888985337",
                "display_id": "host",
                "nickname": ["not", "text"],
                "avatar_large": {"url_list": ["not a url", "https://a/large.jpg"]},
                "avatar_thumb": {"url_list": ["https://a/thumb.jpg"]},
                "follow_info": {"follower_count": "1200"},
            }
        }
    )
    assert owner is not None
    assert (owner.id, owner.unique_id, owner.nickname, owner.avatar_url, owner.followers) == (
        7236541308888985337,
        "host",
        "",
        "https://a/large.jpg",
        1200,
    )
    assert parse_owner({"owner": "someone"}) is None and parse_owner(None) is None


def test_timestamps() -> None:
    assert timestamp(1_700_000_000) == timestamp(1_700_000_000_000) == datetime.fromtimestamp(1_700_000_000, UTC)
    for garbage in (None, 0, -5, "soon", 10**40, True, 1.5e300):
        assert timestamp(garbage) is None


def test_gift_parsing() -> None:
    data = {
        "gifts": [
            {"id": 1, "name": "A", "diamond_count": 5, "combo": False, "type": 1},
            {"id": "2", "name": "B", "type": 1, "icon": {"url_list": ["https://i/b.png"]}},
            {"id": 0, "name": "no id"},
            {"id": "x"},
            "not a gift",
        ],
        "pages": [{"gifts": [{"id": 2, "name": "B again"}, {"id": 3, "is_displayed_on_panel": False}]}, None],
    }
    gifts = parse_gifts(data)
    assert [(gift.id, gift.name) for gift in gifts] == [(1, "A"), (2, "B"), (3, "")]
    assert gifts[0].streakable is False  # combo wins over the type
    assert gifts[1].streakable is True and gifts[1].image_url == "https://i/b.png"
    assert gifts[2].on_panel is False and gifts[0].on_panel is True
    assert parse_gifts(None) == [] and parse_gifts({"gifts": "many"}) == []


def test_room_info_stays_compatible() -> None:
    info = RoomInfo(
        room_id=1,
        title="t",
        status=4,
        user_count=0,
        like_count=0,
        total_user=0,
        owner_unique_id="a",
        owner_nickname="A",
        raw={},
    )
    assert info.is_live is False and info.owner is None and dict(info.stream_urls) == {} and info.qualities == ()
