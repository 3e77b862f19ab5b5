"""Sources of ``schema unknowns``: recordings, folders of payload files, JSON Lines; and their errors."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import pytest

from tests.schema.conftest import NEW_METHOD, chat_payload, field_varint, new_method_payload
from tiktok_live._generated.pb import transport_pb2, webcast_pb2
from tiktok_live.events import UnknownEvent
from tiktok_live.jsonl import event_to_dict
from tiktok_live.recording import Recorder, RecordingError
from tiktok_live.schema import (
    Envelope,
    Payload,
    SchemaSourceError,
    Unchecked,
    UnknownView,
    method_from_filename,
    read_source,
    survey_sources,
)


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("020_WebcastChatMessage_88a0232f.bin", "WebcastChatMessage"),
        ("001_LinkMicMethod_b458e6a4.bin", "LinkMicMethod"),
        ("WebcastGiftMessage.bin", "WebcastGiftMessage"),
        ("7_Some_Method_Name.bin", "Some_Method_Name"),
    ],
)
def test_payload_files_are_named_by_method(name: str, method: str) -> None:
    assert method_from_filename(Path(name)) == method


def test_a_folder_gives_its_bin_files_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "02_WebcastChatMessage_abcdef12.bin").write_bytes(chat_payload())
    (tmp_path / f"01_{NEW_METHOD}.bin").write_bytes(new_method_payload())
    (tmp_path / "notes.txt").write_text("ignored")
    items = list(read_source(tmp_path))
    assert items == [Payload(NEW_METHOD, new_method_payload()), Payload("WebcastChatMessage", chat_payload())]
    assert list(read_source(tmp_path / f"01_{NEW_METHOD}.bin")) == [items[0]]


def _frame(*messages: tuple[str, bytes, int], compress: bool = False) -> bytes:
    result = webcast_pb2.ProtoMessageFetchResult()
    for method, payload, msg_id in messages:
        result.messages.add(method=method, payload=payload, msg_id=msg_id)
    body = result.SerializeToString()
    frame = transport_pb2.PushFrame(payload_type="msg", payload=gzip.compress(body) if compress else body)
    if compress:
        frame.headers.add(key="compress_type", value="gzip")
    frame.MergeFromString(field_varint(77, 1))  # an undeclared field on the push frame itself
    return frame.SerializeToString()


def test_a_recording_is_decoded_like_the_client_does(tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl.gz"
    with Recorder(path, unique_id="host") as recorder:
        recorder.frame("in", _frame(("WebcastChatMessage", chat_payload(), 1), compress=True))
        recorder.frame("out", b"an ack: not surveyed")
        recorder.frame("in", _frame(("WebcastChatMessage", chat_payload(), 1), (NEW_METHOD, new_method_payload(), 2)))
        recorder.frame("in", b"\xff not a frame")
    items = list(read_source(path))
    payloads = [item for item in items if isinstance(item, Payload)]
    assert [p.method for p in payloads] == ["WebcastChatMessage", NEW_METHOD]  # message 1 once: duplicates skipped
    envelopes = [type(item.message).__name__ for item in items if isinstance(item, Envelope)]
    assert envelopes == ["PushFrame", "ProtoMessageFetchResult"] * 2
    assert [item.what for item in items if isinstance(item, Unchecked)] == ["frame"]
    survey = survey_sources([path])
    assert survey.types["PushFrame"].fields["PushFrame", (), 77, 0].payloads == 2
    assert survey.types["WebcastChatMessage"].with_undeclared == 1 and NEW_METHOD in survey.methods


def test_json_lines_of_payload_records(tmp_path: Path) -> None:
    path = tmp_path / "payloads.jsonl"
    lines = [
        {"method": "WebcastChatMessage", "payload": base64.b64encode(chat_payload()).decode()},
        {"method": NEW_METHOD, "payload": "base64:" + base64.b64encode(new_method_payload()).decode()},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    assert list(read_source(path)) == [
        Payload("WebcastChatMessage", chat_payload()),
        Payload(NEW_METHOD, new_method_payload()),
    ]


def test_json_lines_events_give_unknown_methods_and_count_the_rest_unchecked(tmp_path: Path) -> None:
    from tiktok_live.events import CommentEvent, ConnectEvent

    with_payload = event_to_dict(UnknownEvent(NEW_METHOD, new_method_payload()))
    older = json.loads(json.dumps(with_payload))
    del older["data"]["payload"]  # files written before the payload was part of the record
    records = [
        event_to_dict(ConnectEvent("host", 1)),
        event_to_dict(CommentEvent.from_bytes(chat_payload())),
        with_payload,
        older,
    ]
    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in records).encode()))
    items = list(read_source(path))
    assert items[0] == Unchecked("CommentEvent", "no payload bytes")
    assert items[1] == Payload(NEW_METHOD, new_method_payload())
    view = items[2]
    assert isinstance(view, UnknownView) and view.method == NEW_METHOD and set(view.fields) == {1, 2, 3}
    survey = survey_sources([path])
    assert survey.methods[NEW_METHOD].payloads == 2
    assert survey.unchecked == {"CommentEvent (no payload bytes)": 1}
    assert "could not be checked" in survey.summary() and "tiktok-live record" in survey.render_text()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not json\n", "line 1 is not JSON"),
        (b'{"some": "object"}\n', "neither a payload record"),
        (b'{"method": "X", "payload": "%%%"}\n', "not valid base64"),
        (b"[1, 2]\n", "is not a JSON object"),
        (b"\n\n", "no message records"),
    ],
)
def test_bad_json_lines_say_which_line_and_why(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(SchemaSourceError, match=message):
        list(read_source(path))


def test_missing_and_empty_sources_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(SchemaSourceError, match="no such file or folder"):
        list(read_source(tmp_path / "absent"))
    with pytest.raises(SchemaSourceError, match=r"no \*\.bin payload files"):
        list(read_source(tmp_path))
    broken = tmp_path / "cut.jsonl.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(SchemaSourceError, match="not readable gzip"):
        list(read_source(broken))


def test_a_recording_of_another_version_is_a_recording_error(tmp_path: Path) -> None:
    path = tmp_path / "future.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"format": "tiktok-live-recording", "version": 99}\n'))
    with pytest.raises(RecordingError, match="version 99"):
        list(read_source(path))
