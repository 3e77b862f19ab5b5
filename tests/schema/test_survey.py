"""The walk and the survey: undeclared fields at any depth, unknown methods, payloads that do not decode."""

from __future__ import annotations

import json

import pytest
from google.protobuf.message import DecodeError

from tests.schema.conftest import BINARY, NEW_METHOD, chat_payload, field_bytes, field_varint, new_method_payload
from tiktok_live._generated.pb import webcast_pb2 as pb
from tiktok_live.events import REGISTRY, CommentEvent, UnknownEvent
from tiktok_live.schema import Survey, has_undeclared, undeclared_fields
from tiktok_live.schema._wire import Binary, Nested, Text, Varint, render, to_json


def _chat() -> pb.WebcastChatMessage:
    message = pb.WebcastChatMessage()
    message.ParseFromString(chat_payload())
    return message


def test_walk_finds_fields_at_depth_1_and_3_with_their_path() -> None:
    found = {(item.owner, item.path, item.number): item for item in undeclared_fields(_chat())}
    assert set(found) == {
        ("WebcastChatMessage", (), 300),
        ("WebcastChatMessage", (), 301),
        ("WebcastChatMessage", (), 302),
        ("WebcastChatMessage", (), 303),
        ("WebcastChatMessage", (), 304),
        ("FollowInfo", ("user", "follow_info"), 9),
        ("FollowInfo", ("user", "follow_info"), 2),
    }
    assert found["WebcastChatMessage", (), 300].values == (Varint(7),)
    assert found["WebcastChatMessage", (), 304].values == (Varint(1), Varint(2))
    assert found["FollowInfo", ("user", "follow_info"), 9].values == (Varint(11),)
    assert found["FollowInfo", ("user", "follow_info"), 9].declared is None


def test_a_declared_number_with_another_wire_type_names_its_declaration() -> None:
    (item,) = [item for item in undeclared_fields(_chat()) if item.owner == "FollowInfo" and item.number == 2]
    assert item.declared is not None and item.declared.name == "follower_count"
    assert item.wire_type == 2 and item.values == (Text(b"many", "many"),)


def test_text_nested_message_and_binary_are_told_apart() -> None:
    found = {item.number: item.values[0] for item in undeclared_fields(_chat()) if item.owner == "WebcastChatMessage"}
    assert found[301] == Text(b"hello world", "hello world")
    nested = found[302]
    assert isinstance(nested, Nested) and nested.fields == {1: (Varint(5),), 2: (Text(b"x", "x"),)}
    assert found[303] == Binary(BINARY)
    assert render(found[301]) == '"hello world"'
    assert render(nested) == '{1: 5, 2: "x"}'
    assert render(found[303]) == "0xfffe000180 (5 bytes)"
    assert to_json(nested) == {
        "kind": "message",
        "fields": {"1": [{"kind": "varint", "value": 5}], "2": [{"kind": "text", "value": "x"}]},
    }
    assert to_json(found[303]) == {"kind": "bytes", "hex": "fffe000180", "size": 5}


def test_has_undeclared_sees_depth_3_alone() -> None:
    message = pb.WebcastChatMessage()
    assert not has_undeclared(message)
    message.user.follow_info.MergeFromString(field_varint(9, 1))
    assert has_undeclared(message)
    assert not has_undeclared(pb.WebcastChatMessage(content="only declared"))


def test_map_values_are_walked() -> None:
    battle = pb.WebcastLinkMicBattle()
    battle.battle_result[5].MergeFromString(field_varint(999, 3))  # map<int64, BattleResult>
    (item,) = undeclared_fields(battle)
    assert (item.owner, item.path, item.number) == ("BattleResult", ("battle_result{}",), 999)


def test_survey_counts_per_type_and_payload() -> None:
    survey = Survey()
    survey.add_payload("WebcastChatMessage", chat_payload())
    survey.add_payload("ChatMessage", chat_payload())
    survey.add_payload("WebcastChatMessage", pb.WebcastChatMessage(content="clean").SerializeToString())
    finding = survey.types["WebcastChatMessage"]
    assert finding.payloads == 3 and finding.with_undeclared == 2
    assert finding.methods == {"WebcastChatMessage", "ChatMessage"}
    repeated = finding.fields["WebcastChatMessage", (), 304, 0]
    assert repeated.occurrences == 4 and repeated.payloads == 2 and repeated.most_in_one == 2
    assert repeated.samples == [Varint(1), Varint(2)]
    deep = finding.fields["FollowInfo", ("user", "follow_info"), 9, 0]
    assert deep.payloads == 2 and deep.kinds == {"varint": 2}
    assert not survey.covered and survey.messages == 3 and survey.with_undeclared == 2


def test_unknown_methods_are_counted_with_samples() -> None:
    survey = Survey()
    survey.add_payload(NEW_METHOD, new_method_payload())
    survey.add_payload(NEW_METHOD, new_method_payload() + field_varint(4, 1))
    found = survey.methods[NEW_METHOD]
    assert found.payloads == 2 and found.min_size == len(new_method_payload()) and found.max_size > found.min_size
    sample = found.samples[0]
    assert isinstance(sample, Nested) and sample.fields[2] == (Text(b"a new thing", "a new thing"),)
    assert set(found.fields) == {1, 2, 3, 4} and found.fields[4].payloads == 1
    assert "methods no event class knows" in survey.render_text() and NEW_METHOD in survey.render_text()


def test_payloads_their_class_rejects_are_reported_not_raised() -> None:
    survey = Survey()
    corrupt = field_bytes(2, b"\xff\xff")  # WebcastChatMessage.user is a message: these bytes are no message
    with pytest.raises(DecodeError):
        pb.WebcastChatMessage().ParseFromString(corrupt)
    survey.add_payload("WebcastChatMessage", corrupt)
    ((method, _), bad), *_ = survey.undecodable.items()
    assert method == "WebcastChatMessage" and bad.payloads == 1 and bad.type_name == "WebcastChatMessage"
    assert not survey.covered and "payloads their class rejects" in survey.render_text()


def test_events_from_a_client_are_tallied_like_payloads() -> None:
    survey = Survey()
    survey.add_event(CommentEvent.from_bytes(chat_payload()))
    survey.add_event(UnknownEvent(NEW_METHOD, new_method_payload()))
    survey.add_event(UnknownEvent("WebcastChatMessage", b"\x12\x02\xff\xff", DecodeError("bad")))
    assert survey.types["WebcastChatMessage"].with_undeclared == 1
    assert survey.methods[NEW_METHOD].payloads == 1
    assert survey.undecodable_payloads == 1 and survey.messages == 3


def test_clean_payloads_say_the_schema_covers_everything() -> None:
    survey = Survey()
    for method, event_class in list(REGISTRY.items())[:40]:
        survey.add_payload(method, event_class.PROTO().SerializeToString())
    assert survey.covered
    assert survey.render_text() == "schema covers everything seen (40 messages)"
    report = survey.to_dict(["x"])
    assert report["covered"] is True and report["types"] == [] and report["messages"] == 40


def test_json_report_has_paths_numbers_wire_types_counts_and_samples() -> None:
    survey = Survey()
    survey.add_payload("WebcastChatMessage", chat_payload())
    survey.add_payload(NEW_METHOD, new_method_payload())
    report = json.loads(json.dumps(survey.to_dict(["a.jsonl.gz"])))
    assert report["v"] == 1 and report["sources"] == ["a.jsonl.gz"] and report["covered"] is False
    (chat,) = report["types"]
    by_key = {(f["path"], f["number"]): f for f in chat["fields"]}
    deep = by_key["user.follow_info", 9]
    assert deep["owner"] == "FollowInfo" and deep["wire_type"] == 0 and deep["wire"] == "varint"
    assert deep["occurrences"] == 1 and deep["samples"] == [{"kind": "varint", "value": 11}]
    mismatch = by_key["user.follow_info", 2]
    assert mismatch["declared_as"] == {"name": "follower_count", "type": "int64"}
    assert by_key["", 302]["wire"] == "length-delimited (message)"
    assert [m["method"] for m in report["unknown_methods"]] == [NEW_METHOD]


def test_text_report_groups_fields_by_where_they_sit() -> None:
    survey = Survey()
    survey.add_payload("WebcastChatMessage", chat_payload())
    text = survey.render_text()
    assert text.splitlines()[0] == "1 of 1 message carried undeclared fields"
    assert "  user.follow_info -> FollowInfo" in text and "  (top level) -> WebcastChatMessage" in text
    assert "#2    length-delimited (text), declared as int64 follower_count" in text
    assert "up to 2 in one message" in text and 'e.g. "hello world"' in text
