"""The README's code runs: every Python block compiles, and the offline examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.DOTALL)


def _block(containing: str) -> str:
    matches = [block for block in BLOCKS if containing in block]
    assert len(matches) == 1, f"expected one README block with {containing!r}"
    return matches[0]


def test_readme_has_python_examples() -> None:
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_every_python_block_compiles(index: int) -> None:
    compile(BLOCKS[index], f"README.md block {index}", "exec")


async def test_the_simulator_example_runs() -> None:
    from tiktok_live.testing import Simulator

    namespace: dict[str, object] = {}
    exec(_block("async def test_my_bot"), namespace)
    async with Simulator() as sim:
        await namespace["test_my_bot"](sim)  # type: ignore[operator]
        assert sim.connections == 1


def test_the_protocol_example_runs() -> None:
    from tiktok_live._generated.pb import transport_pb2, webcast_pb2
    from tiktok_live.events import CommentEvent

    def frame(*messages: tuple[int, str, bytes]) -> bytes:
        result = webcast_pb2.ProtoMessageFetchResult(cursor="c", need_ack=True, internal_ext="ext")
        for msg_id, method, payload in messages:
            result.messages.add(method=method, payload=payload, msg_id=msg_id)
        push = transport_pb2.PushFrame(payload_type="msg", payload=result.SerializeToString())
        return push.SerializeToString()

    hi = CommentEvent.PROTO(content="hi").SerializeToString()
    there = CommentEvent.PROTO(content="there").SerializeToString()
    end = webcast_pb2.WebcastControlMessage(action=3).SerializeToString()
    frames = [
        frame((1, "WebcastChatMessage", hi)),
        frame((1, "WebcastChatMessage", hi), (2, "WebcastChatMessage", there)),  # the first one again: dropped
        b"not a frame",
        frame((3, "WebcastControlMessage", end)),
        frame((4, "WebcastChatMessage", hi)),  # after the end: never read
    ]
    namespace: dict[str, object] = {}
    exec(_block("def comments"), namespace)
    assert namespace["comments"](frames) == ["hi", "there"]  # type: ignore[operator]


def test_the_decode_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from tiktok_live.events import CommentEvent

    namespace: dict[str, object] = {}
    exec(_block("def describe"), namespace)
    payload = CommentEvent.PROTO(content="hi", user={"nickname": "Alice", "unique_id": "alice"}).SerializeToString()
    namespace["describe"]("WebcastChatMessage", payload)  # type: ignore[operator]
    assert capsys.readouterr().out == "Alice (@alice): hi\n"
