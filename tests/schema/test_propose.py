"""``--propose``: corrections that the importer takes, and that make the payloads fully declared once regenerated."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path, PurePosixPath

import pytest
from google.protobuf import descriptor_pool, message_factory

from codegen.__main__ import generate_files
from codegen.importer import import_schema
from codegen.protoc import compile_descriptors
from codegen.write import write
from tests.schema.conftest import NEW_METHOD, chat_payload, field_bytes, field_varint, new_method_payload
from tiktok_live.schema import Survey, propose, undeclared_fields

ROOT = Path(__file__).resolve().parents[2]
SHARED_SCHEMA = ROOT.parent / "shared" / "schema"
COPIED = (
    "pyproject.toml",
    "codegen/corrections.toml",
    "codegen/events.toml",
    "proto/transport.proto",
    "sdk/_base.py",
    "sdk/_derived.py",
    "sdk/_connection.py",
)


def _survey() -> Survey:
    survey = Survey()
    survey.add_payload("WebcastChatMessage", chat_payload())
    survey.add_payload(NEW_METHOD, new_method_payload())
    return survey


def _entries(text: str, kind: str) -> list[dict[str, object]]:
    entries: list[dict[str, object]] = tomllib.loads(text).get(kind, [])
    return entries


def test_the_proposal_is_toml_in_the_corrections_format() -> None:
    text = propose(_survey(), ["capture.jsonl.gz"])
    assert text.startswith("# Corrections proposed by `tiktok-live schema unknowns --propose` from capture.jsonl.gz.")
    added = {(entry["message"], entry["number"]): entry for entry in _entries(text, "add_field")}
    assert added["WebcastChatMessage", 300] == {
        "message": "WebcastChatMessage",
        "number": 300,
        "name": "field_300",
        "type": "int64",
    }
    assert added["WebcastChatMessage", 301]["type"] == "string"
    assert added["WebcastChatMessage", 303]["type"] == "bytes"
    assert added["WebcastChatMessage", 304]["type"] == "repeated int64"
    assert added["FollowInfo", 9]["type"] == "int64"
    (retyped,) = _entries(text, "retype_field")
    assert retyped == {"message": "FollowInfo", "number": 2, "type": "string"}
    messages = {entry["name"]: entry for entry in _entries(text, "add_message")}
    skeleton = messages[NEW_METHOD]
    assert skeleton["fields"] == [
        {"number": 1, "name": "common", "type": "CommonMessageData"},
        {"number": 2, "name": "field_2", "type": "string"},
        {"number": 3, "name": "field_3", "type": "int64"},
    ]
    assert '# #301: length-delimited, 1 time(s) in 1 payload(s); e.g. "hello world"' in text


def test_a_nested_message_gets_an_existing_type_that_fits_or_a_new_one() -> None:
    survey = Survey()
    image = field_bytes(1, b"https://example.com/a.png") + field_bytes(1, b"https://example.com/b.png")
    image += field_bytes(2, b"uri/a") + field_varint(3, 100) + field_varint(4, 100)
    odd = field_varint(1, 5) + field_bytes(2, field_varint(7, 1) + field_bytes(8, b"\x00\xff"))
    survey.add_payload("WebcastChatMessage", field_bytes(400, image) + field_bytes(401, odd))
    text = propose(survey)
    added = {entry["number"]: entry for entry in _entries(text, "add_field")}
    assert added[400]["type"] == "ImageModel"  # urls, uri, height, width: the samples decode as ImageModel
    assert added[401]["type"] == "WebcastChatMessage.Field401"
    messages = {entry["name"]: entry for entry in _entries(text, "add_message")}
    assert messages["WebcastChatMessage.Field401"]["fields"] == [
        {"number": 1, "name": "field_1", "type": "int64"},
        {"number": 2, "name": "field_2", "type": "WebcastChatMessage.Field401.Field2"},
    ]
    assert messages["WebcastChatMessage.Field401.Field2"]["fields"] == [
        {"number": 7, "name": "field_7", "type": "int64"},
        {"number": 8, "name": "field_8", "type": "bytes"},
    ]


def test_fields_of_hand_written_messages_are_proposed_as_comments() -> None:
    from tiktok_live._generated.pb import transport_pb2

    frame = transport_pb2.PushFrame(payload_type="msg")
    frame.MergeFromString(field_varint(77, 1))
    survey = Survey()
    survey.add_message(frame)
    text = propose(survey)
    assert not _entries(text, "add_field")
    assert "# PushFrame is hand-written in proto/transport.proto: declare `int64 field_77 = 77;` there" in text


def test_nothing_to_propose_when_covered() -> None:
    survey = Survey()
    survey.add_payload("WebcastChatMessage", b"")
    text = propose(survey)
    assert "Nothing to correct: the schema covers everything seen." in text and not tomllib.loads(text)


def test_the_proposal_reimports_and_regenerates_cleanly_in_a_copy(tmp_path: Path) -> None:
    if not (SHARED_SCHEMA / "webcast-snake_case.proto").is_file():
        pytest.skip(f"reference schema not found at {SHARED_SCHEMA} (the ../shared folder is absent)")
    for name in COPIED:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, tmp_path / name)
    corrections = tmp_path / "codegen" / "corrections.toml"
    corrections.write_text(corrections.read_text() + "\n" + propose(_survey()), encoding="utf-8")

    texts, log = import_schema(SHARED_SCHEMA, corrections)
    write({PurePosixPath("proto") / name: text for name, text in texts.items()}, tmp_path)
    assert any("added message WebcastBrandNewMessage" in line for line in log)
    files = generate_files(tmp_path)
    events = files[PurePosixPath("generated/events/webcast.py")]
    assert "class BrandNewEvent(" in events and '"BrandNewMessage": _events.BrandNewEvent' in str(
        files[PurePosixPath("generated/registry.py")]
    )

    # The regenerated schema declares everything the payloads carry.
    fds = compile_descriptors(tmp_path / "proto", ["enums.proto", "transport.proto", "webcast.proto"])
    pool = descriptor_pool.DescriptorPool()
    for file in fds.file:
        pool.Add(file)
    chat = message_factory.GetMessageClass(pool.FindMessageTypeByName("tiktok_live.webcast.WebcastChatMessage"))()
    chat.ParseFromString(chat_payload())
    assert list(undeclared_fields(chat)) == []
    new = message_factory.GetMessageClass(pool.FindMessageTypeByName(f"tiktok_live.webcast.{NEW_METHOD}"))()
    new.ParseFromString(new_method_payload())
    assert list(undeclared_fields(new)) == []
    assert getattr(new, "common").method == NEW_METHOD  # noqa: B009 - a class made at run time


def test_the_fixture_badge_is_recognised_as_badge_struct() -> None:
    fixture = ROOT.parent / "shared" / "fixtures" / "payloads" / "083_WebcastGoalUpdateMessage_02d1ea62.bin"
    if not fixture.is_file():
        pytest.skip(f"fixture not found at {fixture} (the ../shared folder is absent)")
    from tiktok_live._generated.pb import webcast_pb2 as pb

    message = pb.WebcastGoalUpdateMessage()
    message.ParseFromString(fixture.read_bytes())
    (contributor,) = [c for c in message.goal.contributors if c.HasField("badge")]
    badge = contributor.badge.SerializeToString()
    contributor.ClearField("badge")
    contributor.MergeFromString(field_bytes(98, badge))  # the badge under a number no schema declares
    survey = Survey()
    survey.add_payload("WebcastGoalUpdateMessage", message.SerializeToString())
    (entry,) = _entries(propose(survey), "add_field")
    assert entry == {"message": "LiveStreamGoalContributor", "number": 98, "name": "field_98", "type": "BadgeStruct"}
