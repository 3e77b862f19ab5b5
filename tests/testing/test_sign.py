"""The simulated sign server: the connection bundle, one-use tokens, history, and every failure knob (§3)."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest
from google.protobuf.message import DecodeError

from tests.support import wait_for_condition
from tests.testing.conftest import UA, RawClient, within
from tiktok_live._generated.pb import webcast_pb2
from tiktok_live.testing import Simulator, comment, frame, like


async def sign_raw(
    session: aiohttp.ClientSession, sim: Simulator, headers: dict[str, str] | None = None, **params: str
) -> tuple[int, dict[str, str], bytes]:
    query = {"client": "ttlive-test", "room_id": str(sim.room_id), "user_agent": UA, "platform": "web"}
    query.update(params)
    async with session.get(f"{sim.url}/webcast/fetch", params=query, headers=headers or {}) as response:
        return response.status, dict(response.headers), await response.read()


async def test_bundle(raw: RawClient, sim: Simulator) -> None:
    before = int(time.time() * 1000)
    result, headers = await within(raw.sign(client_enter="true"))
    after = int(time.time() * 1000)
    assert result.cursor == "sim-0-0-0"
    assert result.internal_ext
    assert result.fetch_interval == 1000
    assert result.is_first is True
    assert result.need_ack is False
    assert before <= result.now <= after  # the server's clock when it answered, in ms
    assert result.push_server == sim.push_server
    assert set(result.route_params) == {"wrss", "imprp"}
    assert all(result.route_params.values())
    assert list(result.messages) == []
    cookie = headers["X-Set-TT-Cookie"]
    assert cookie.startswith("ttwid=") and "; tt_chain_token=" in cookie


async def test_tokens_are_fresh_per_request(raw: RawClient) -> None:
    first, _ = await within(raw.sign())
    second, _ = await within(raw.sign())
    assert first.route_params["wrss"] != second.route_params["wrss"]


async def test_sign_requests_are_recorded_without_secrets(session: aiohttp.ClientSession, sim: Simulator) -> None:
    status, _, _ = await within(sign_raw(session, sim, {"X-Api-Key": "secret-key"}, apiKey="secret-key"))
    assert status == 200
    await within(sign_raw(session, sim))
    first, second = sim.sign_requests
    assert first.has_api_key is True and second.has_api_key is False
    assert first.status == 200
    assert first.query["room_id"] == str(sim.room_id)
    assert first.query["user_agent"] == UA
    assert first.query["apiKey"] == "<redacted>"
    assert "secret-key" not in repr(sim.sign_requests)


async def test_history_has_earlier_comments(raw: RawClient, sim: Simulator) -> None:
    sim.history = [comment("early_bird", "been here all along")]
    sim.script(comment("a", "one"), frame(comment("b", "two"), like("c", 3)), comment("d", "three"), comment("e", "x"))
    result, _ = await within(raw.sign(cursor=sim.cursor(4)))
    assert result.cursor == "sim-4-0-0"
    assert all(message.is_history for message in result.messages)
    texts = [webcast_pb2.WebcastChatMessage.FromString(m.payload).content for m in result.messages]
    assert texts == ["been here all along", "two", "three", "x"]  # explicit history, then the last 3 comments
    chat = webcast_pb2.WebcastChatMessage.FromString(result.messages[-1].payload)
    assert chat.common.room_id == sim.room_id
    assert chat.common.msg_id == result.messages[-1].msg_id


async def test_missing_room_id_is_a_client_error(session: aiohttp.ClientSession, sim: Simulator) -> None:
    status, _, _ = await within(sign_raw(session, sim, room_id=""))
    assert status == 400


async def test_rate_limit(session: aiohttp.ClientSession, sim: Simulator) -> None:
    sim.sign_status = 429
    sim.sign_retry_after = 7
    before = time.time()
    status, headers, body = await within(sign_raw(session, sim))
    after = time.time()
    assert status == 429
    assert headers["Retry-After"] == "7"
    assert int(before + 7) <= int(headers["RateLimit-Reset"]) <= int(after + 7)  # the answer's time + Retry-After
    payload = json.loads(body)
    assert payload["limit_label"] == "minute"
    assert payload["message"]
    assert sim.sign_requests[-1].status == 429


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_errors_are_json(session: aiohttp.ClientSession, sim: Simulator, status: int) -> None:
    sim.sign_status = status
    async with session.get(f"{sim.url}/webcast/fetch", params={"room_id": str(sim.room_id)}) as response:
        assert response.status == status
        assert (await response.json())["message"]


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors(session: aiohttp.ClientSession, sim: Simulator, status: int) -> None:
    sim.sign_status = status
    got, _, body = await within(sign_raw(session, sim))
    assert got == status
    assert body


async def test_fail_times_then_succeed(session: aiohttp.ClientSession, sim: Simulator) -> None:
    sim.sign_status = 429
    sim.sign_fail_times = 2
    statuses = [(await within(sign_raw(session, sim)))[0] for _ in range(4)]
    assert statuses == [429, 429, 200, 200]


async def test_fail_times_alone_means_503(session: aiohttp.ClientSession, sim: Simulator) -> None:
    sim.sign_fail_times = 1
    statuses = [(await within(sign_raw(session, sim)))[0] for _ in range(2)]
    assert statuses == [503, 200]


async def test_required_api_key(session: aiohttp.ClientSession, sim: Simulator) -> None:
    sim.required_api_key = "k-123"
    assert (await within(sign_raw(session, sim)))[0] == 401
    assert (await within(sign_raw(session, sim, {"X-Api-Key": "wrong"})))[0] == 401
    assert (await within(sign_raw(session, sim, {"X-Api-Key": "k-123"})))[0] == 200
    assert [request.has_api_key for request in sim.sign_requests] == [False, True, True]


async def test_delay_lets_clients_time_out(session: aiohttp.ClientSession, sim: Simulator) -> None:
    sim.sign_delay = 5.0
    with pytest.raises(asyncio.TimeoutError):
        async with session.get(
            f"{sim.url}/webcast/fetch",
            params={"room_id": str(sim.room_id)},
            timeout=aiohttp.ClientTimeout(total=0.2),
        ):
            pass
    # stop() releases the delayed request at once instead of waiting 5 s (the fixture's teardown is bounded)


async def test_malformed_body(session: aiohttp.ClientSession, sim: Simulator) -> None:
    sim.sign_malformed = True
    status, headers, body = await within(sign_raw(session, sim))
    assert status == 200
    assert headers["Content-Type"] == "application/protobuf"
    with pytest.raises(DecodeError):
        webcast_pb2.ProtoMessageFetchResult.FromString(body)


async def test_stop_is_quick_with_a_delayed_sign_request(session: aiohttp.ClientSession) -> None:
    sim = Simulator(sign_delay=30.0)
    await within(sim.start())
    request = asyncio.create_task(sign_raw(session, sim))
    await wait_for_condition(lambda: sim.sign_requests_waiting == 1)
    await within(sim.stop(), 3.0)
    status, _, _ = await within(request)
    assert status == 503
