"""The schema importer: corrections apply exactly (or fail loudly), the printer round-trips, proto/ is current."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

from codegen.importer import CorrectionError, Schema, apply_corrections, import_schema, load_reference
from codegen.printer import print_file
from codegen.protoc import compile_descriptors
from tests.codegen.conftest import FIXTURES, ROOT

FDP = descriptor_pb2.FieldDescriptorProto


def _fixture_schema() -> Schema:
    fds = compile_descriptors(FIXTURES / "proto", ["enums.proto", "webcast.proto"])
    return Schema({file.name: file for file in fds.file})


def _field(schema: Schema, message: str, number: int) -> descriptor_pb2.FieldDescriptorProto:
    return next(field for field in schema.messages[message].field if field.number == number)


def test_rename_retype_add_and_add_message_apply() -> None:
    schema = _fixture_schema()
    log = apply_corrections(
        schema,
        {
            "rename_field": [{"message": "User", "number": 3, "from": "nickname", "name": "nick"}],
            "retype_field": [{"message": "WebcastKitchenSinkMessage", "number": 14, "type": "string", "name": "json"}],
            "add_field": [{"message": "User", "number": 38, "name": "unique_id", "type": "string"}],
            "add_message": [
                {
                    "name": "WebcastNewMessage",
                    "copy_fields": "User",
                    "fields": [{"number": 50, "name": "common", "type": "CommonMessageData"}],
                },
                {
                    "name": "WebcastNewMessage.Nested",
                    "fields": [{"number": 1, "name": "tags", "type": "map<string, User>"}],
                },
            ],
        },
    )
    assert len(log) == 5
    assert _field(schema, "User", 3).name == "nick"
    retyped = _field(schema, "WebcastKitchenSinkMessage", 14)
    assert (retyped.type, retyped.name) == (FDP.TYPE_STRING, "json")
    assert _field(schema, "User", 38).type == FDP.TYPE_STRING
    new = schema.messages["WebcastNewMessage"]
    # add_message runs first, so the copy is User as the reference declares it.
    assert sorted(field.name for field in new.field) == ["common", "id", "nickname"]
    assert _field(schema, "WebcastNewMessage", 50).type_name == ".tiktok_live.webcast.CommonMessageData"
    tags = _field(schema, "WebcastNewMessage.Nested", 1)
    assert tags.label == FDP.LABEL_REPEATED and tags.type_name.endswith("Nested.TagsEntry")
    # The corrected descriptors print to .proto text that protoc accepts.
    for file in schema.files.values():
        assert "WebcastNewMessage" in print_file(file, ["test"]) or file.name == "enums.proto"


@pytest.mark.parametrize(
    ("corrections", "message"),
    [
        ({"rename_field": [{"message": "User", "number": 99, "name": "x"}]}, "has no field 99"),
        ({"rename_field": [{"message": "User", "number": 3, "from": "nick_name", "name": "x"}]}, "expected name"),
        ({"rename_field": [{"message": "Nope", "number": 1, "name": "x"}]}, "no message 'Nope'"),
        ({"rename_field": [{"message": "User", "number": 3, "name": "id"}]}, "duplicate field names"),
        ({"add_field": [{"message": "User", "number": 1, "name": "x", "type": "int64"}]}, "already has field 1"),
        ({"add_field": [{"message": "User", "number": 9, "name": "x", "type": "Nope"}]}, "unknown type 'Nope'"),
        ({"add_message": [{"name": "User"}]}, "already has it"),
        ({"rename_all": [{"type": "User", "from": "user", "to": "author", "count": 5}]}, "expected 5"),
        ({"rename_all": [{"type": "User", "from": "nobody", "to": "x"}]}, "renamed 0 fields"),
        ({"bogus": []}, "unknown section"),
    ],
)
def test_stale_or_wrong_corrections_fail_loudly(corrections: dict[str, object], message: str) -> None:
    with pytest.raises(CorrectionError, match=message):
        apply_corrections(_fixture_schema(), corrections)


def _normalised(file: descriptor_pb2.FileDescriptorProto) -> dict[str, str]:
    out = {}
    for message in file.message_type:
        copy = descriptor_pb2.DescriptorProto()
        copy.CopyFrom(message)
        fields = sorted(copy.field, key=lambda f: f.number)
        del copy.field[:]
        copy.field.extend(fields)
        out[message.name] = str(copy)
    return out


def test_printer_round_trips_descriptors(tmp_path: Path) -> None:
    original = _fixture_schema().files
    for name, file in original.items():
        (tmp_path / name).write_text(print_file(file, ["round trip"]), encoding="utf-8")
    again = {f.name: f for f in compile_descriptors(tmp_path, sorted(original)).file}
    for name, file in original.items():
        expected = descriptor_pb2.FileDescriptorProto()
        expected.CopyFrom(file)
        expected.ClearField("source_code_info")
        actual = again[name]
        actual.ClearField("source_code_info")
        # Ordering is the printer's (declarations by name, fields by number): compare normalised.
        assert _normalised(actual) == _normalised(expected)
        assert {e.name: e for e in actual.enum_type} == {e.name: e for e in expected.enum_type}


def test_reference_loads_into_the_project_package(shared_schema: Path) -> None:
    files = load_reference(shared_schema)
    assert sorted(files) == ["enums.proto", "webcast.proto"]
    webcast = files["webcast.proto"]
    assert webcast.package == "tiktok_live.webcast"
    assert list(webcast.dependency) == ["enums.proto"]
    assert len(webcast.message_type) >= 1000
    type_names = {f.type_name for m in webcast.message_type for f in m.field if f.type_name}
    assert all(name.startswith(".tiktok_live.webcast.") for name in type_names)


def test_committed_proto_is_the_importers_output(shared_schema: Path) -> None:
    texts, log = import_schema(shared_schema, ROOT / "codegen" / "corrections.toml")
    with (ROOT / "codegen" / "corrections.toml").open("rb") as handle:
        corrections = tomllib.load(handle)
    assert len(log) == sum(len(entries) for entries in corrections.values())
    for name, text in texts.items():
        committed = (ROOT / "proto" / name).read_text(encoding="utf-8")
        assert committed == text, f"proto/{name} is stale: run `make import-schema` and commit"


def test_imported_schema_has_the_names_users_know(shared_schema: Path) -> None:
    texts, _ = import_schema(shared_schema, ROOT / "codegen" / "corrections.toml")
    webcast = texts["webcast.proto"]
    for line in (
        "string nickname = 3;",
        "string unique_id = 38;",
        ".tiktok_live.webcast.CommonMessageData common = 1;",
        "int64 msg_id = 2;",
        "int32 sample_flag = 7;",
        "message WebcastOecLiveShoppingMessage {",
    ):
        assert line in webcast
    assert "base_message" not in webcast
    assert "@generated" in webcast.splitlines()[0]
    assert webcast.count(".tiktok_live.webcast.CommonMessageData common = ") >= 222
